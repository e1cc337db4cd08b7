"""Each concept is written once in the package: the copies that used to exist stay gone."""

from __future__ import annotations

import ast
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
    """Whole lines from an offset: the line reader's, for the folds, the dashboard (its
    snapshot, events and live stream), the run store and emit."""
    readers = sorted(
        str(path.relative_to(SRC)) for path, text in _sources().items() if 'rfind(b"\\n")' in text
    )
    assert readers == ["_lines/_read.py"]


#: Every file the package opens outside the line format, and what it is: none of them is
#: telemetry.jsonl. A new open of a file anywhere else must be added here, saying what it
#: opens, so the log cannot be opened raw elsewhere without a reader noticing.
NOT_THE_LOG = [
    ("cli/_query.py", "scratch.open", "a temporary copy of a log, NaN read as null"),
    ("_capture/_install.py", "metadata.distribution(...).read_text", "the install record"),
    ("_capture/_prices.py", "importlib.resources.files(...).joinpath(...).read_bytes", "prices"),
    ("_capture/_prices.py", "path.read_bytes", "a prices file the user names"),
    ("_capture/_report.py", "open(path)", "spanline.log, created empty"),
    ("_runs/_liveness.py", "open('/proc/stat')", "the boot time"),
    ("_runs/_liveness.py", "open(f'/proc/{pid}/stat')", "a process's start time"),
    ("_runs/_sessions.py", "numbers_path(...).read_bytes", "a session's turn numbers"),
    ("_runs/_sessions.py", "os.open", "a session's turn numbers, taken under its lock"),
    ("_runs/_store.py", "latest.read_text", "the latest-run marker"),
    ("_runs/_store.py", "run.summary_path.read_bytes", "run_summary.json"),
    ("_writer/_rotate.py", "(run_dir / NEXT_RUN).read_bytes", "the run a rotated run led to"),
    ("cli/_archive.py", "path.read_bytes", "each file of a run, copied whole to an archive"),
    ("cli/_bundle.py", "path.read_bytes", "each file of a run, copied whole into a bundle"),
    ("cli/_export_massgen.py", "run.metadata_path.read_bytes", "execution_metadata.yaml"),
    ("cli/_redacted.py", "path.read_bytes", "each file but the log, into an export's copy"),
    ("cli/_redacted.py", "target.open", "an export's redacted copy of the log, written once"),
    ("cli/_list.py", "run.summary_path.read_bytes", "run_summary.json"),
    ("cli/_replay.py", "state_path.read_bytes", "replay_state.json, what was delivered where"),
    ("cli/_rules_file.py", "path.read_bytes", "a rules file for check"),
    ("dashboard/page.py", "(STATIC / 'app.js').read_text", "the page's script"),
    ("dashboard/page.py", "(STATIC / 'page.html').read_text", "the page's template"),
    ("dashboard/page.py", "(STATIC / 'vendor' / f'd3-{D3_VERSION}.min.js').read_text", "D3"),
    ("dashboard/page.py", "summary_path.read_text", "run_summary.json"),
    ("dashboard/_data.py", "run.report_path.read_bytes", "ANALYSIS_REPORT.md"),
    ("exporters/logfire.py", "path.read_bytes", "Logfire's credentials file"),
    ("schema.py", "resources.files(...).joinpath(...).read_text", "the JSON Schema"),
]

_OPENERS = {"open", "read_bytes", "read_text", "open_text", "open_binary", "fdopen"}
_NOT_FILES = {"tarfile", "webbrowser", "subprocess"}  # an archive in memory, a browser


def _shown(call: ast.Call) -> str:
    """The opening call as the list above shows it: ``open(<its path>)``, or the method
    with the calls on its way elided (``files(...).read_text``)."""
    func = call.func
    if isinstance(func, ast.Name):
        return f"open({ast.unparse(call.args[0])})" if call.args else "open()"
    elided = ast.parse(ast.unparse(func), mode="eval").body
    for node in ast.walk(elided):
        if isinstance(node, ast.Call):
            node.args = [ast.Constant(...)] if node.args or node.keywords else []
            node.keywords = []
    return ast.unparse(elided).replace("(Ellipsis)", "(...)")


def _file_opens() -> list[tuple[str, str]]:
    """``(module, the opening call)`` for each call that opens a file outside the line
    format (``spanline._lines``), once per call."""
    found: list[tuple[str, str]] = []
    for path, text in _sources().items():
        module = str(path.relative_to(SRC))
        if module.startswith("_lines/"):
            continue
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name not in _OPENERS:
                continue
            if (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id in _NOT_FILES
            ):
                continue
            found.append((module, _shown(node)))
    return sorted(found)


def test_only_the_line_format_opens_the_log() -> None:
    """telemetry.jsonl is opened by the line format alone: the reader (``_lines/_read``)
    and the writers' locked append (``_lines/_fileio``). Every other file the package
    opens is listed with what it is, once per place that opens it."""
    assert _file_opens() == sorted((module, call) for module, call, _ in NOT_THE_LOG)


def test_plans_are_matched_to_spans_in_one_place() -> None:
    """The summary, the lanes, the analysis and the facts of ``check`` ask one matcher;
    none walks a span's ancestors for a plan of its own."""
    holders = [
        path.relative_to(SRC)
        for path, text in _sources().items()
        if "plan" in text and " in ancestors" in text  # the test of the walk
    ]
    assert holders == [Path("folds/_plans.py")]


def test_context_attributes_are_set_through_the_runtime_only() -> None:
    """Setting context attributes also tells the hot path they are in use (until then a
    span's start skips reading them): one function does both."""
    setters = [
        path.relative_to(SRC)
        for path, text in _sources().items()
        if "context_attributes.set(" in text
    ]
    assert setters == [Path("_hotpath/_runtime.py")]
