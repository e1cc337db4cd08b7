"""The public surface: sorted __all__, docstrings, a fast import."""

from __future__ import annotations

import inspect

import spanline
from tests._helpers import heavy_imports


def test_all_is_sorted_and_resolvable() -> None:
    assert spanline.__all__ == sorted(spanline.__all__)
    for name in spanline.__all__:
        assert getattr(spanline, name) is not None


def test_public_callables_have_docstrings() -> None:
    for name in spanline.__all__:
        value = getattr(spanline, name)
        if inspect.isfunction(value) or inspect.isclass(value) or inspect.ismethod(value):
            assert inspect.getdoc(value), name


def test_import_is_light() -> None:
    heavy = {"pydantic", "loguru", "opentelemetry", "jsonschema", "yaml", "fcntl", "subprocess"}
    heavy |= {"spanline._writer", "spanline._session_writer", "spanline.folds", "spanline._config"}
    heavy |= {
        "spanline.exporters",
        "spanline.exporters.console",
        "spanline.exporters.jsonl",
        "spanline.exporters.memory",
    }
    assert heavy_imports("import spanline", heavy) == []


def test_loguru_attaches_only_when_tracing_starts(tmp_path) -> None:
    setup = (
        "import spanline, sys\n"
        "assert 'loguru' not in sys.modules\n"
        f"spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r})\n"
        "assert 'loguru' in sys.modules\n"
        "spanline.shutdown()"
    )
    assert heavy_imports(setup, {"pydantic"}) == []
