"""``spanline prune`` deletes whole runs, oldest first, and never a live run or ``latest``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._helpers import clean_env
from tests.cli._entry import spanline
from tests.cli._runs import make_golden_run

DAY = 86_400
#: A program whose run stays live until its stdin closes.
LIVE = """
import sys, spanline
run = spanline.configure_observability(enabled=True, service_name="live", summary_interval_ms=0)
with spanline.get_tracer().span("waiting"):
    spanline.flush()
    print(run.directory, flush=True)
    sys.stdin.readline()
"""


def _size(directory: Path) -> int:
    return sum(os.lstat(os.path.join(d, f)).st_size for d, _, fs in os.walk(directory) for f in fs)


def _stamp(seconds_ago: float) -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(time.time() - seconds_ago))


@pytest.fixture
def base(tmp_path: Path) -> Iterator[Path]:
    """28 finished runs, one a day back from 28 days ago, then a live run, then the
    latest run: 30 runs, the live one second newest."""
    base = tmp_path / "base"
    template = make_golden_run(tmp_path / "template")
    for day in range(28, 0, -1):
        shutil.copytree(template, base / "runs" / f"svc-{_stamp(day * DAY)}-{day:06x}")
    live = subprocess.Popen(
        [sys.executable, "-c", LIVE],
        env=clean_env({"SPANLINE_DIR": str(base)}),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert live.stdout is not None
        assert Path(live.stdout.readline().strip()).is_dir()
        finished = subprocess.run(
            [sys.executable, "-c", LIVE],
            env=clean_env({"SPANLINE_DIR": str(base)}),
            input="\n",
            capture_output=True,
            text=True,
            check=True,
        )
        assert finished.stdout
        yield base
    finally:
        live.communicate("\n", timeout=60)


def _runs(base: Path) -> list[str]:
    return sorted(p.name for p in (base / "runs").iterdir() if p.name != "latest")


def _prune(base: Path, *args: str) -> dict:
    result = spanline("prune", "--dir", str(base), "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_keep_zero_deletes_all_but_the_live_run_and_latest(base: Path) -> None:
    runs = _runs(base)
    assert len(runs) == 30
    latest = os.readlink(base / "runs" / "latest")
    live = next(run for run in runs if run.startswith("live-") and run != latest)
    sizes = {run: _size(base / "runs" / run) for run in runs}

    report = _prune(base, "--keep", "0")

    assert _runs(base) == sorted([live, latest])
    deleted = [entry["run_id"] for entry in report["deleted"]]
    assert sorted(deleted) == sorted(set(runs) - {live, latest})
    assert deleted == sorted(deleted)  # oldest first: the ids' stamps sort by time
    assert report["freed_bytes"] == sum(sizes[run] for run in deleted)
    assert {entry["run_id"]: entry["why"] for entry in report["spared"]} == {
        live: "live",
        latest: "latest",
    }


def test_dry_run_deletes_nothing_and_reports_the_same_plan(base: Path) -> None:
    before = _runs(base)
    dry = _prune(base, "--keep", "5", "--dry-run")
    assert _runs(base) == before
    assert dry["dry_run"] is True
    real = _prune(base, "--keep", "5")
    assert [e["run_id"] for e in real["deleted"]] == [e["run_id"] for e in dry["deleted"]]
    assert real["freed_bytes"] == dry["freed_bytes"]
    assert len(_runs(base)) == 5


def test_older_than_deletes_the_runs_past_the_age(base: Path) -> None:
    report = _prune(base, "--older-than", "7d")
    old = [run for run in _runs(base) if run.startswith("svc-")]
    assert len(report["deleted"]) == 28 - 6  # 28..8 days ago go; 7 days ago is not past 7d
    assert len(old) == 6


def test_max_size_deletes_the_oldest_until_the_rest_fit(base: Path) -> None:
    runs = _runs(base)
    total = sum(_size(base / "runs" / run) for run in runs)
    oldest = sorted(run for run in runs if run.startswith("svc-"))[:3]
    limit = total - sum(_size(base / "runs" / run) for run in oldest)
    report = _prune(base, "--max-size", str(limit))
    assert [entry["run_id"] for entry in report["deleted"]] == oldest
    assert sum(_size(base / "runs" / run) for run in _runs(base)) <= limit


def test_the_plain_output_says_what_was_freed(base: Path) -> None:
    result = spanline("prune", "--dir", str(base), "--keep", "29", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith("would free ")
    assert result.stdout.splitlines()[-1].endswith(" in 1 run(s)")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "say what to prune"),
        (("--older-than", "7x"), "--older-than: '7x' is not an age"),
        (("--max-size", "lots"), "--max-size: 'lots' is not a size (e.g. 500KB"),
    ],
)
def test_bad_input_is_one_line_and_status_2(tmp_path: Path, args: tuple, message: str) -> None:
    result = spanline("prune", "--dir", str(tmp_path), *args)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("spanline: error: ")
    assert message in result.stderr


def _session_run(base: Path, session: str) -> str:
    """One finished run of ``session`` under ``base``, made in this process."""
    import spanline as tracing

    run = tracing.configure_observability(
        enabled=True, run_dir=base, service_name="conv", session_id=session
    )
    assert run is not None
    with tracing.span("turn", kind="agent"):
        pass
    tracing.shutdown()
    return run.run_id


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[tuple[Path, dict[str, list[str]]]]:
    """Two finished runs of session "old", two of "newer", then a session "busy" whose
    second run is live (and the latest); the runs of each session are made in turn."""
    base = tmp_path / "base"
    made: dict[str, list[str]] = {}
    for session in ("old", "old", "newer", "newer", "busy"):
        made.setdefault(session, []).append(_session_run(base, session))
    live = subprocess.Popen(
        [sys.executable, "-c", LIVE],
        env=clean_env({"SPANLINE_DIR": str(base), "SPANLINE_SESSION_ID": "busy"}),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert live.stdout is not None
        made["busy"].append(Path(live.stdout.readline().strip()).name)
        yield base, made
    finally:
        live.communicate("\n", timeout=60)


def test_prune_session_deletes_the_named_sessions_whole(
    sessions: tuple[Path, dict[str, list[str]]],
) -> None:
    base, made = sessions
    report = _prune(base, "--session", "old")
    assert sorted(e["run_id"] for e in report["deleted"]) == sorted(made["old"])
    assert _runs(base) == sorted(made["newer"] + made["busy"])
    assert report["freed_bytes"] == sum(e["bytes"] for e in report["deleted"]) > 0


def test_a_session_with_a_live_run_stays_whole(
    sessions: tuple[Path, dict[str, list[str]]],
) -> None:
    """The finished run of a session whose other run is live is not deleted either."""
    base, made = sessions
    report = _prune(base, "--session", "busy", "--session", "newer")
    assert sorted(e["run_id"] for e in report["deleted"]) == sorted(made["newer"])
    finished, live = made["busy"]
    spared = {entry["run_id"]: entry["why"] for entry in report["spared"]}
    assert spared == {finished: "session", live: "latest"}
    assert _runs(base) == sorted(made["old"] + made["busy"])


def test_keep_counts_sessions_not_runs(sessions: tuple[Path, dict[str, list[str]]]) -> None:
    base, made = sessions
    dry = _prune(base, "--session", "old", "--session", "newer", "--keep", "1", "--dry-run")
    assert sorted(e["run_id"] for e in dry["deleted"]) == sorted(made["old"])
    assert all(e["reason"] == "beyond the newest 1 sessions" for e in dry["deleted"])
    assert len(_runs(base)) == 6  # a dry run deletes nothing


def test_an_unknown_session_is_bad_input(tmp_path: Path) -> None:
    result = spanline("prune", "--dir", str(tmp_path), "--session", "nobody")
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert "no run of session 'nobody'" in result.stderr


def _ended_pid() -> int:
    """The pid of a process that has ended (and been waited for)."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    return int(child.stdout)


def test_prune_removes_the_half_written_blob_files_of_ended_processes_in_the_runs_it_keeps(
    tmp_path: Path,
) -> None:
    """A blob file a killed process was writing (``blobs/.<name>.<pid>.<thread>``) is
    removed from the runs kept, and its bytes counted as freed; one whose process still
    runs stays, and a dry run removes nothing."""
    base = tmp_path / "base"
    template = make_golden_run(tmp_path / "template")
    ids = [f"svc-{_stamp(day * DAY)}-{day:06x}" for day in (3, 2, 1)]
    for run_id in ids:
        shutil.copytree(template, base / "runs" / run_id)
    os.symlink(ids[-1], base / "runs" / "latest")
    blobs = base / "runs" / ids[1] / "blobs"  # a run the prune keeps
    blobs.mkdir()
    digest = "ab" * 32
    ended = blobs / f".{digest}.zst.{_ended_pid()}.140000000000"
    ended.write_bytes(b"x" * 1234)
    running = blobs / f".{'cd' * 32}.{os.getpid()}.140000000001"  # this test's process
    running.write_bytes(b"y" * 99)
    deleted_size = _size(base / "runs" / ids[0])

    dry = _prune(base, "--keep", "2", "--dry-run")
    assert dry["half_written_blobs"] == {"files": 1, "bytes": 1234}
    assert dry["freed_bytes"] == deleted_size + 1234
    assert ended.exists() and running.exists()

    plain = spanline("prune", "--dir", str(base), "--keep", "2", "--dry-run")
    assert plain.returncode == 0, plain.stderr
    assert "would remove 1 half-written blob file(s) of ended processes" in plain.stdout
    assert plain.stdout.splitlines()[-1].endswith(" in 1 run(s) and 1 half-written blob file(s)")

    real = _prune(base, "--keep", "2")
    assert [entry["run_id"] for entry in real["deleted"]] == [ids[0]]
    assert real["half_written_blobs"] == {"files": 1, "bytes": 1234}
    assert real["freed_bytes"] == deleted_size + 1234
    assert not ended.exists() and running.exists()
    again = _prune(base, "--keep", "2")
    assert again["half_written_blobs"] == {"files": 0, "bytes": 0}
