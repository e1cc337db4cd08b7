"""``summary`` and ``tools`` use a finished run's run_summary.json when it covers the whole log.

The proof that the stored file is used: a test copy of it is tampered with, and
the tampered figure is printed; once the log is newer (or with ``--refold``)
the true figure comes back from a fold.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import orjson
import pytest

from spanline._runs._store import Run, read_summary_if_current
from tests._helpers import run_cli
from tests.cli._runs import GOLDEN_RUN, cli_env, make_golden_run

GOLDEN = Path(__file__).parent / "golden"
TRUE_TOTAL = "Total: 3,444"
TAMPERED_TOTAL = "Total: 999,999"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("stored")
    make_golden_run(base)
    return base


@pytest.fixture
def run(pristine: Path, tmp_path: Path) -> Run:
    """A copy of the golden run whose stored summary is current (newer than the log)."""
    shutil.copytree(pristine, tmp_path / "base", symlinks=True)
    directory = tmp_path / "base" / "runs" / GOLDEN_RUN
    found = Run(GOLDEN_RUN, directory)
    _newer(found.summary_path, than=found.telemetry_path)
    return found


def _newer(path: Path, *, than: Path) -> None:
    stamp = than.stat().st_mtime_ns + 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


def _tamper(run: Run, **changes: object) -> None:
    """Rewrite the stored summary's total tokens (and top-level keys), keeping it current."""
    summary = orjson.loads(run.summary_path.read_bytes())
    summary["totals"]["total_tokens"] = 999_999
    summary["tools"]["grep"]["calls"] = 77
    summary.update(changes)
    run.summary_path.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2) + b"\n")
    _newer(run.summary_path, than=run.telemetry_path)


def _cli(run: Run, *args: str) -> str:
    result = run_cli(args[0], str(run.directory), *args[1:], env=cli_env())
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def test_the_stored_summary_prints_exactly_as_a_fold(run: Run) -> None:
    assert read_summary_if_current(run) is not None
    assert _cli(run, "summary") == (GOLDEN / "summary.txt").read_text(encoding="utf-8")
    assert _cli(run, "tools") == (GOLDEN / "tools.txt").read_text(encoding="utf-8")
    assert _cli(run, "summary", "--json") == _cli(run, "summary", "--json", "--refold")


def test_a_finished_run_uses_its_stored_summary(run: Run) -> None:
    _tamper(run)
    assert TAMPERED_TOTAL in _cli(run, "summary")
    assert '"total_tokens": 999999' in _cli(run, "summary", "--json")
    assert "│ grep      │    77 │" in _cli(run, "tools")
    assert TRUE_TOTAL in _cli(run, "summary", "--refold")
    assert "│ grep      │     3 │" in _cli(run, "tools", "--refold")


def test_a_newer_log_is_folded_again(run: Run) -> None:
    _tamper(run)
    _newer(run.telemetry_path, than=run.summary_path)
    assert read_summary_if_current(run) is None
    assert TRUE_TOTAL in _cli(run, "summary")


def test_a_line_after_the_last_process_end_is_folded_even_at_the_same_mtime(run: Run) -> None:
    _tamper(run)
    line = {"event": "event", "name": "late", "ts": 1.0e9, "attributes": {}}
    with run.telemetry_path.open("ab") as handle:
        handle.write(orjson.dumps(line) + b"\n")
    stamp = run.summary_path.stat().st_mtime_ns
    os.utime(run.telemetry_path, ns=(stamp, stamp))  # one tick of a coarse clock
    assert read_summary_if_current(run) is None
    assert TRUE_TOTAL in _cli(run, "summary")


@pytest.mark.parametrize(
    "changes",
    [{"status": "incomplete"}, {"skipped_line_count": 1}],
    ids=["incomplete", "skipped-lines"],
)
def test_an_incomplete_run_or_skipped_lines_are_folded(run: Run, changes: dict) -> None:
    _tamper(run, **changes)
    assert TRUE_TOTAL in _cli(run, "summary")


def test_a_missing_or_broken_summary_is_folded(run: Run) -> None:
    run.summary_path.write_bytes(b"{not json")
    _newer(run.summary_path, than=run.telemetry_path)
    assert read_summary_if_current(run) is None
    assert TRUE_TOTAL in _cli(run, "summary")
    run.summary_path.unlink()
    assert read_summary_if_current(run) is None
    assert TRUE_TOTAL in _cli(run, "summary")


def test_a_summary_covering_less_than_the_log_is_folded_again(run: Run) -> None:
    """Newer than the log, which ends with a process_end, yet written before that line:
    the bytes it covers say so."""
    _tamper(run)
    summary = orjson.loads(run.summary_path.read_bytes())
    assert summary["log_offset"] == run.telemetry_path.stat().st_size
    ended = {"event": "process_end", "pid": 4242, "ts": 1.0e9, "dropped_events": 0}
    with run.telemetry_path.open("ab") as handle:
        handle.write(orjson.dumps(ended) + b"\n")
    _newer(run.summary_path, than=run.telemetry_path)
    assert read_summary_if_current(run) is None
    assert TRUE_TOTAL in _cli(run, "summary")
