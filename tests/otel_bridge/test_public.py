"""The bridge's public surface: names, docstrings, and nothing loaded before it is asked for."""

from __future__ import annotations

import inspect

from tests._helpers import heavy_imports


def test_otel_module_names_and_docstrings() -> None:
    import spanline.otel

    assert spanline.otel.__all__ == sorted(spanline.otel.__all__)
    assert set(spanline.otel.__all__) == {"SpanProcessor", "install", "uninstall"}
    for name in spanline.otel.__all__:
        value = getattr(spanline.otel, name)
        assert inspect.getdoc(value), name
    for method in ("on_start", "on_end", "shutdown", "force_flush"):
        assert inspect.getdoc(getattr(spanline.otel.SpanProcessor, method)), method


def test_carriers_are_public_and_lazy() -> None:
    import spanline

    assert {"inject", "extract"} <= set(spanline.__all__)
    assert inspect.getdoc(spanline.inject) and inspect.getdoc(spanline.extract)
    loaded = heavy_imports(
        "import spanline", {"spanline.otel", "spanline._decorators._propagate", "opentelemetry"}
    )
    assert loaded == []


def test_configuring_loads_no_opentelemetry(tmp_path) -> None:
    """Executor propagation is on by default; it needs nothing of OpenTelemetry."""
    setup = (
        "import spanline\n"
        f"spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r})\n"
        "with spanline.span('x'):\n"
        "    spanline.inject()\n"
        "spanline.shutdown()\n"
    )
    assert heavy_imports(setup, {"opentelemetry", "spanline.otel"}) == []
