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
    heavy |= {"click", "rich", "typer", "duckdb"}  # the CLI's libraries load with the CLI only
    heavy |= {
        "spanline._writer._pipeline",
        "spanline._session_writer",
        "spanline.folds",
        "spanline._session._settings",
    }
    # spanline.instrument() loads its machinery and the provider SDKs when called.
    heavy |= {"spanline._instrument", "openai", "anthropic", "google.genai"}
    heavy |= {
        "spanline.exporters",
        "spanline.exporters.console",
        "spanline.exporters.jsonl",
        "spanline.exporters.memory",
    }
    assert heavy_imports("import spanline", heavy) == []


def test_loguru_loads_only_when_there_is_something_to_report(tmp_path) -> None:
    setup = (
        "import spanline, sys\n"
        f"run = spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r})\n"
        "with spanline.span('quiet'):\n"
        "    pass\n"
        "spanline.shutdown()\n"
        "assert 'loguru' not in sys.modules  # a quiet run never loads it\n"
        "assert run.log_path.exists()\n"
        "class Broken:\n"
        "    def export(self, batch):\n"
        "        raise RuntimeError('receiver down')\n"
        f"run = spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r},"
        " exporters=[Broken()])\n"
        "spanline.shutdown()\n"
        "assert 'loguru' in sys.modules\n"
        "assert 'receiver down' in run.log_path.read_text()\n"
    )
    assert heavy_imports(setup, {"pydantic"}) == []


def test_instrument_is_one_lazy_entry_point() -> None:
    setup = (
        "import sys, spanline\n"
        "assert 'spanline._instrument' not in sys.modules\n"
        "assert spanline.instrument.__module__ == 'spanline._instrument'\n"
        "assert spanline.uninstrument.__module__ == 'spanline._instrument'\n"
    )
    # Resolving the names loads the dispatcher only, never a provider SDK.
    assert heavy_imports(setup, {"openai", "anthropic", "google.genai"}) == []
