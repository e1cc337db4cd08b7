"""The settings table: it covers every variable, matches Settings and generates the docs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import spanline
from spanline._session._settings import (
    ENV_VARS,
    SETTINGS,
    Settings,
    resolve_settings,
)
from spanline._session._settings_doc import settings_markdown
from tests._helpers import ROOT, heavy_imports, run_python

DOC = ROOT / "docs" / "configuration.md"
TABLE = re.compile(r"<!-- settings:start -->\n(.*?)<!-- settings:end -->", re.DOTALL)
VARIABLE = re.compile(r"\bSPANLINE_[A-Z][A-Z0-9_]*")


def test_every_spanline_variable_named_in_the_source_is_a_setting() -> None:
    named = {
        match
        for path in (ROOT / "src").rglob("*")
        if path.is_file() and path.suffix in {".py", ".json", ".md", ".txt", ".toml"}
        for match in VARIABLE.findall(path.read_text(encoding="utf-8"))
    }
    assert named, "the grep found nothing: the pattern or the path is wrong"
    assert named <= set(ENV_VARS), sorted(named - set(ENV_VARS))


def test_the_table_covers_the_required_variables_and_arguments() -> None:
    required_env = {
        "SPANLINE_ENABLED", "SPANLINE_DIR", "SPANLINE_EXPORTERS", "SPANLINE_SERVICE_NAME",
        "SPANLINE_ENVIRONMENT", "SPANLINE_FLUSH_MS", "SPANLINE_MAX_QUEUE", "SPANLINE_CAPTURE",
        "SPANLINE_PREVIEW_CHARS", "SPANLINE_PRICES", "SPANLINE_RUN_ID",
        "SPANLINE_SUMMARY_INTERVAL_MS", "SPANLINE_HANDLE_SIGNALS", "SPANLINE_STALL_S",
        "SPANLINE_DASHBOARD", "SPANLINE_PROPAGATE_EXECUTORS", "SPANLINE_INSTRUMENT",
        "SPANLINE_REDACT_PATTERNS", "SPANLINE_REDACT_EXEMPT_KEYS", "SPANLINE_REDACT_ENTROPY",
        "SPANLINE_SESSION_ID", "SPANLINE_TURN", "SPANLINE_ATTEMPT", "SPANLINE_BLOB_THRESHOLD",
        "SPANLINE_MAX_USD", "SPANLINE_MAX_TOKENS", "SPANLINE_SESSION_MAX_USD",
        "SPANLINE_BUDGET_ACTION", "SPANLINE_MAX_RUN_BYTES", "SPANLINE_ROTATE_EVERY",
        "OTEL_SERVICE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES", "TRACEPARENT",
    }  # fmt: skip
    assert set(ENV_VARS) == required_env
    assert len(ENV_VARS) == len(set(ENV_VARS))
    arguments = {row.argument: row for row in SETTINGS if row.argument}
    for name in ("agent_kinds", "id_generator", "clock", "synchronous"):
        assert arguments[name].env is None, name
    assert arguments["run_dir"].name == "base_dir"
    assert arguments["run_dir"].env == "SPANLINE_DIR"
    assert arguments["handle_signals"].env == "SPANLINE_HANDLE_SIGNALS"
    # Executors carry the current span unless switched off.
    assert arguments["propagate_executors"].default is True
    assert len(arguments) == len([row for row in SETTINGS if row.argument])


def test_rows_and_settings_attributes_match() -> None:
    assert {row.name for row in SETTINGS} == set(Settings._fields)
    for name, default in Settings._field_defaults.items():
        rows = [row for row in SETTINGS if row.name == name]
        # Rows without a fixed default (the service name) are resolved in a chain.
        assert rows[0].default in (default, None), name
    for row in SETTINGS:
        assert row.description and row.type and row.default_text, row
        assert "|" not in row.description


def test_defaults_come_from_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["/srv/app/worker.py"])
    settings = resolve_settings({}, {})
    for row in SETTINGS:
        if row.name != "service_name":
            assert getattr(settings, row.name) == row.default, row.name
    assert settings.service_name == "worker"
    assert settings.summary_interval_ms == 5_000
    assert settings.handle_signals is True and settings.synchronous is False


def test_the_documentation_table_is_the_generated_one() -> None:
    match = TABLE.search(DOC.read_text(encoding="utf-8"))
    assert match, "docs/configuration.md lost its settings markers"
    assert match.group(1) == settings_markdown()


def test_the_generated_table_lists_each_row_once() -> None:
    lines = settings_markdown().splitlines()
    assert lines[0] == "| argument | variable | type | default | meaning |"
    assert len(lines) == 2 + len(SETTINGS)
    for row, line in zip(SETTINGS, lines[2:], strict=True):
        assert line.count(" | ") == 4
        assert (f"`{row.env}`" if row.env else "—") in line


def test_the_docs_script_checks_and_rewrites_the_page(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "gen_config_docs.py"
    check = [sys.executable, str(script), "--check"]
    assert subprocess.run(check, capture_output=True, check=False).returncode == 0
    stale = tmp_path / "page.md"
    stale.write_text("intro\n<!-- settings:start -->\nold\n<!-- settings:end -->\nend\n")
    outdated = subprocess.run([*check, "--page", str(stale)], capture_output=True, check=False)
    assert outdated.returncode == 1
    rewrite = [sys.executable, str(script), "--page", str(stale)]
    assert subprocess.run(rewrite, capture_output=True, check=False).returncode == 0
    assert stale.read_text() == (
        f"intro\n<!-- settings:start -->\n{settings_markdown()}<!-- settings:end -->\nend\n"
    )


def test_user_facing_text_names_no_internal_documents() -> None:
    for text in (DOC.read_text(encoding="utf-8"), settings_markdown()):
        assert not re.search(r"contract \d|reference 0\d\d", text, re.IGNORECASE)


def test_importing_and_resolving_settings_does_not_import_pydantic() -> None:
    setup = "import spanline._session._settings as c\nc.resolve_settings({'enabled': True})"
    assert heavy_imports(setup, {"pydantic", "logfire", "loguru", "opentelemetry"}) == []


def test_importing_the_settings_module_is_cheap() -> None:
    """Cheap by what it loads, not by a clock (the machine is shared): after ``import
    spanline``, the settings module and a resolve load only spanline's own modules."""
    code = (
        "import sys, spanline\n"
        "before = set(sys.modules)\n"
        "import spanline._session._settings as c\n"
        "c.resolve_settings({'enabled': True}, {})\n"
        "print(' '.join(sorted(set(sys.modules) - before)))\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    loaded = result.stdout.split()
    assert "spanline._session._settings" in loaded
    assert [name for name in loaded if not name.startswith("spanline.")] == []


def test_configure_takes_and_documents_exactly_the_table_and_the_run_metadata() -> None:
    """Each setting is written in its signature and its table row; the docstring names
    the same arguments (their variables and defaults are the table's alone)."""
    import inspect

    from spanline._session._configure import METADATA_ARGUMENTS
    from spanline._session._settings import ARGUMENTS

    expected = set(ARGUMENTS) | set(METADATA_ARGUMENTS)
    assert len(ARGUMENTS) + len(METADATA_ARGUMENTS) == len(expected)
    assert set(inspect.signature(spanline.configure_observability).parameters) == expected
    doc = inspect.getdoc(spanline.configure_observability) or ""
    section = doc.split("Args:\n", 1)[1].split("\n\n", 1)[0]
    documented = re.findall(r"^    (\w+):", section, flags=re.MULTILINE)
    assert sorted(documented) == sorted(expected)
    assert "SPANLINE_" not in section  # variables are named by the table (and its docs) only
    rows = DOC.read_text()
    for argument in ARGUMENTS:
        assert f"`{argument}`" in rows, argument
