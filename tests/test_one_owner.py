"""Each concept is written once in the package: the copies that used to exist stay gone."""

from __future__ import annotations

from pathlib import Path

from tests._helpers import ROOT

SRC = ROOT / "src" / "spanline"


def _sources() -> dict[Path, str]:
    return {path: path.read_text() for path in SRC.rglob("*.py")}


def test_the_traceparent_pattern_is_written_once() -> None:
    holders = [path.relative_to(SRC) for path, text in _sources().items() if "{32})-(" in text]
    assert holders == [Path("schema.py")]


def test_liveness_and_the_latest_run_belong_to_the_run_store() -> None:
    """The dashboard asks the run store whether a run runs and which run is the latest."""
    dashboard = "".join(text for path, text in _sources().items() if "dashboard" in path.parts)
    assert "os.kill(" not in dashboard
    assert "read_latest(" not in dashboard


def test_the_stored_summary_or_a_fold_is_decided_once() -> None:
    """Whether a stored run_summary.json may stand for a fold is the run store's call."""
    deciders = [
        path.relative_to(SRC)
        for path, text in _sources().items()
        if 'get("skipped_line_count")' in text
    ]
    assert deciders == [Path("_runs/_store.py")]


def test_multiprocessing_after_fork_is_joined_by_the_fork_registry_only() -> None:
    joiners = [
        path.relative_to(SRC)
        for path, text in _sources().items()
        if "register_after_fork(" in text or "register_at_fork(" in text
    ]
    assert joiners == [Path("_writer/_fork.py")]


def test_spanline_variables_are_read_through_the_settings_table() -> None:
    """In the library, only the settings module reads a SPANLINE_* variable's value (the
    ``spanline`` command's options may take their defaults from the environment)."""
    readers = [
        path.relative_to(SRC)
        for path, text in _sources().items()
        if "cli" not in path.relative_to(SRC).parts
        and ('environ.get("SPANLINE_' in text or 'getenv("SPANLINE_' in text)
    ]
    assert readers == []


def test_the_exporter_platform_lives_in_one_package() -> None:
    """The protocol, the registry, building from the settings and the worker thread."""
    definitions = (
        "class Exporter(",
        "def build_exporter(",
        "def build_exporters(",
        "class ExporterWorker",
    )
    for definition in definitions:
        holders = [path for path, text in _sources().items() if definition in text]
        assert [path.parent.name for path in holders] == ["exporters"], definition


def test_every_line_type_is_built_by_the_line_format() -> None:
    """span, phase, planned, header and trailer lines: the tracer's, the session's, the
    writer's and ``spanline emit``'s all come from ``spanline._lines``."""
    import re

    literal = re.compile(r'"event": "(span_start|span_end|span_planned|phase|run_start|'
                         r'process_start|process_end)"')  # fmt: skip
    builders = sorted(
        str(path.relative_to(SRC)) for path, text in _sources().items() if literal.search(text)
    )
    assert builders == ["_lines/_encode.py"]


def test_the_log_is_read_line_by_line_in_one_place() -> None:
    """Whole lines from an offset: the line reader's, for the folds, the dashboard's snapshot
    and events, the run store and emit. The dashboard's live stream follows the file as
    it grows, and keeps its own loop for it."""
    readers = sorted(
        str(path.relative_to(SRC)) for path, text in _sources().items() if 'rfind(b"\\n")' in text
    )
    assert readers == ["_lines/_read.py", "dashboard/_app.py"]
