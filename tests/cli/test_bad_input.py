"""Bad input to the read commands: one clear line on stderr, the right exit code, no traceback."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from spanline.cli._read import read_file
from spanline.folds import SummaryFold
from tests._helpers import run_cli
from tests.cli._runs import make_golden_run

COMMANDS = [("summary",), ("tools",), ("show",), ("summary", "--json")]


def _one_error_line(result: object, code: int = 2) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)  # type: ignore[attr-defined]
    stderr: str = result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert stderr.startswith("spanline: error:"), stderr
    return stderr


def _run_dir(tmp_path: Path, content: bytes) -> Path:
    directory = tmp_path / "runs" / "broken-run"
    directory.mkdir(parents=True)
    (directory / "telemetry.jsonl").write_bytes(content)
    return directory


@pytest.mark.parametrize("command", COMMANDS)
def test_a_missing_run(tmp_path: Path, command: tuple[str, ...]) -> None:
    stderr = _one_error_line(
        run_cli("--dir", str(tmp_path), *command, "svc-20260101T000000-abcdef")
    )
    assert "no run" in stderr
    _one_error_line(run_cli("--dir", str(tmp_path / "nowhere"), *command))


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("bad", ["bad id!", "..", "run;rm"])
def test_a_malformed_run_id(tmp_path: Path, command: tuple[str, ...], bad: str) -> None:
    stderr = _one_error_line(run_cli("--dir", str(tmp_path), *command, bad))
    assert "invalid run id" in stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_an_empty_file(tmp_path: Path, command: tuple[str, ...]) -> None:
    directory = _run_dir(tmp_path, b"")
    stderr = _one_error_line(run_cli(*command, str(directory)))
    assert "no events" in stderr and "empty" in stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_binary_garbage(tmp_path: Path, command: tuple[str, ...]) -> None:
    directory = _run_dir(tmp_path, bytes(range(256)) * 40)
    stderr = _one_error_line(run_cli(*command, str(directory)))
    path = directory / "telemetry.jsonl"
    assert "no events" in stderr and f"{path}:1:" in stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_torn_last_line_and_bad_lines_are_skipped_and_reported(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    source = make_golden_run(tmp_path / "good") / "telemetry.jsonl"
    lines = source.read_bytes().splitlines(keepends=True)
    damaged = [*lines[:3], b"\x00\xffnot json\n", *lines[3:], b'{"event": "span_st']
    directory = _run_dir(tmp_path, b"".join(damaged))
    result = run_cli(*command, str(directory))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    path = directory / "telemetry.jsonl"
    assert f"{path}:4:" in result.stderr and f"{path}:{len(damaged)}:" in result.stderr
    if command == ("summary", "--json"):
        expected = json.loads((source.parent / "run_summary.json").read_text())
        assert json.loads(result.stdout)["totals"] == expected["totals"]


def test_no_runs_for_list_is_not_an_error(tmp_path: Path) -> None:
    result = run_cli("--dir", str(tmp_path), "list")
    assert result.returncode == 0 and "no runs" in result.stdout
    assert json.loads(run_cli("--dir", str(tmp_path), "list", "--json").stdout) == []
    result = run_cli("--dir", str(tmp_path), "sessions")
    assert result.returncode == 0 and "no sessions" in result.stdout
    assert json.loads(run_cli("--dir", str(tmp_path), "sessions", "--json").stdout) == []


def test_unknown_agent_and_bad_sort_are_one_line(tmp_path: Path) -> None:
    make_golden_run(tmp_path)
    stderr = _one_error_line(run_cli("--dir", str(tmp_path), "show", "--agent", "nobody"))
    assert "no agent 'nobody'" in stderr
    _one_error_line(run_cli("--dir", str(tmp_path), "tools", "--sort", "size"))


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_progress_bar_only_on_a_terminal(tmp_path: Path) -> None:
    path = make_golden_run(tmp_path) / "telemetry.jsonl"
    quiet = _Stream(tty=False)
    problems, lines = read_file(path, [SummaryFold()], stderr=quiet, after_s=0.0)
    assert quiet.getvalue() == "" and problems == [] and lines > 0
    shown = _Stream(tty=True)
    read_file(path, [SummaryFold()], stderr=shown, after_s=0.0)
    assert shown.getvalue() != ""  # a bar was drawn (and cleared: it is transient)


def test_a_slow_read_writes_nothing_to_a_piped_stderr(tmp_path: Path) -> None:
    directory = make_golden_run(tmp_path)
    path = directory / "telemetry.jsonl"
    body = path.read_bytes().splitlines(keepends=True)
    # ~60 MB of copies of the span lines: a read of more than a second on this machine
    spans = b"".join(line for line in body if b'"span_' in line)
    with path.open("ab") as handle:
        for _ in range(max(1, 60_000_000 // len(spans))):
            handle.write(spans)
    result = run_cli("summary", str(directory), "--json")
    assert result.returncode == 0
    assert result.stderr == ""


@pytest.mark.parametrize(
    "args",
    [
        ("compare", "{clean}", "{run}"),
        ("export", "{run}", "--format", "mlflow", "--out", "-"),
        ("export", "{run}", "--format", "otlp-json", "--out", "-"),
    ],
)
def test_many_malformed_lines_are_one_warning_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    """compare and the exports say which lines they skipped in one warning line, as every
    other read command does (they wrote one line per bad line: a million for a million)."""
    clean = make_golden_run(tmp_path / "base")
    run = tmp_path / "copy" / "runs" / clean.name  # a copy: the run made here stays valid
    shutil.copytree(clean, run)
    with (run / "telemetry.jsonl").open("ab") as log:
        log.write(b"{not json\n" * 50)
    paths = {"{run}": str(run), "{clean}": str(clean)}
    result = run_cli(*(paths.get(arg, arg) for arg in args))
    assert result.returncode == 0, result.stderr
    warnings = result.stderr.splitlines()
    assert len(warnings) == 1, result.stderr[:2000]
    assert warnings[0].startswith("spanline: warning: skipped 50 malformed line(s): ")
    assert warnings[0].endswith("(and 47 more)")
