"""Disk trouble: a failed append never glues a partial line to the next one, write
errors count lost events exactly, no temporary file is left behind, and an unwritable
run directory turns tracing off with one warning."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import spanline
from spanline._writer._pipeline import Pipeline
from tests._helpers import by_kind, named, read_lines, run_python

#: Runs in a subprocess: RLIMIT_FSIZE is per process and would hit pytest's own files.
OUTAGE = """
import os, resource, signal, sys, spanline
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
run = spanline.configure_observability(
    enabled=True, run_dir=sys.argv[1], flush_ms=60_000, handle_signals=False,
    summary_interval_ms=0,
)
with spanline.span("before"):
    pass
assert spanline.flush(timeout=10)
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
# Room for a few lines only: the next batch is cut part-way through a line.
resource.setrlimit(resource.RLIMIT_FSIZE, (os.path.getsize(run.telemetry_path) + 1000, hard))
for number in range(50):
    with spanline.span("outage", number=number, padding="x" * 37):
        pass
spanline.flush(timeout=10)
if sys.argv[2] == "short":
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
for number in range(5):
    with spanline.span("after", number=number):
        pass
spanline.shutdown()
print(run.directory)
"""


def _outage(tmp_path: Path, kind: str) -> tuple[Path, str]:
    result = run_python(
        OUTAGE.replace("sys.argv[1]", repr(str(tmp_path))).replace("sys.argv[2]", repr(kind))
    )
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip()), result.stderr


def test_a_short_disk_outage_cuts_back_to_whole_lines_and_counts_each_lost_event(
    tmp_path: Path,
) -> None:
    directory, stderr = _outage(tmp_path, "short")
    events = read_lines(directory / "telemetry.jsonl")  # fails on a glued or torn line
    (trailer,) = by_kind(events, "process_end")
    outage_lines = [
        e
        for e in events
        if e["event"] in ("span_start", "span_end") and e["span_id"] in _ids(events, "outage")
    ]
    assert 0 < len(outage_lines) < 100  # some lines made it before the limit, not all
    assert len(outage_lines) + trailer["write_errors"] == 100  # every event accounted for
    assert len(named(events, "after")) == 5 and all(s["end"] for s in named(events, "after"))
    assert stderr.count("cannot write") == 1
    assert (directory / "run_summary.json").exists()
    assert not list(directory.glob(".*tmp"))


def _ids(events: list[dict[str, object]], name: str) -> set[object]:
    return {e["span_id"] for e in by_kind(events, "span_start") if e["name"] == name}


def test_a_long_disk_outage_leaves_no_temporary_file_and_whole_lines(tmp_path: Path) -> None:
    directory, stderr = _outage(tmp_path, "long")
    events = read_lines(directory / "telemetry.jsonl")
    assert by_kind(events, "run_start")
    assert stderr.count("cannot write") == 1
    assert sorted(p.name for p in directory.iterdir() if "tmp" in p.name) == []


def test_writes_to_a_full_device_count_every_event(tmp_path: Path) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    pipeline = Pipeline(
        telemetry_path="/dev/full", trace_id="0" * 32, flush_interval=0.05, max_queue=1000
    )
    pipeline.start()
    for number in range(123):
        pipeline.emit(("raw", {"event": "event", "name": f"e{number}", "ts": 1.0}))
    assert pipeline.flush(timeout=10)
    assert pipeline.write_errors == 123
    trailer = pipeline.shutdown(timeout=5)
    assert trailer["write_errors"] == 123  # the trailer itself is lost after it was built


@pytest.mark.parametrize("through", ["argument", "environment"])
def test_an_unwritable_run_directory_warns_once_and_turns_tracing_off(
    tmp_path: Path, through: str
) -> None:
    not_a_dir = tmp_path / "a-file"
    not_a_dir.write_text("x")
    argument = f", run_dir={str(not_a_dir)!r}" if through == "argument" else ""
    code = (
        "import spanline\n"
        f"run = spanline.configure_observability(enabled=True{argument})\n"
        "with spanline.span('ignored'):\n"
        "    pass\n"
        "print(run, spanline.flush())\n"
    )
    env = {"SPANLINE_DIR": str(not_a_dir)} if through == "environment" else None
    result = run_python(code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["None", "False"]
    assert result.stderr.count("tracing stays off: cannot write runs under") == 1
    assert "Traceback" not in result.stderr


def test_configure_observability_returns_none_for_an_unwritable_run_dir(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "a-file"
    not_a_dir.write_text("x")
    assert spanline.configure_observability(enabled=True, run_dir=not_a_dir) is None
    assert spanline.current_run() is None


KILLED_WHILE_REPLACING = """
import resource, signal, sys
from spanline._lines._fileio import write_atomic
# Python ignores SIGXFSZ; restored, it kills the process the way kill -9 would.
signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
target = sys.argv[1]
write_atomic(target, b"old summary\\n")
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
# Larger than the limit: SIGXFSZ (default action) kills the process mid-write.
write_atomic(target, b"x" * 100_000)
"""


def test_a_process_killed_while_replacing_a_summary_leaves_no_temporary_file(
    tmp_path: Path,
) -> None:
    target = tmp_path / "run_summary.json"
    result = run_python(KILLED_WHILE_REPLACING.replace("sys.argv[1]", repr(str(target))))
    assert result.returncode == -25, result.stderr  # killed by SIGXFSZ
    assert target.read_bytes() == b"old summary\n"  # the old file, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run_summary.json"]


def test_write_atomic_without_unnamed_files_replaces_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spanline._lines._fileio import write_atomic

    target = tmp_path / "summary.json"
    write_atomic(target, b"one\n")
    monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    write_atomic(target, b"two\n")
    assert target.read_bytes() == b"two\n"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


FULL_DISK = """
import os, sys, spanline
base = sys.argv[1]
run = spanline.configure_observability(
    enabled=True, run_dir=base, flush_ms=60_000, handle_signals=False, summary_interval_ms=0
)
with spanline.span("before"):
    pass
assert spanline.flush(timeout=10)
filler = os.path.join(base, "filler")
fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
try:
    while True:
        os.write(fd, b"x" * 512)
except OSError:
    pass  # the disk is full
os.close(fd)
for number in range(50):
    with spanline.span("outage", number=number):
        pass
spanline.flush(timeout=10)
os.unlink(filler)  # the outage ends
for number in range(5):
    with spanline.span("after", number=number):
        pass
spanline.shutdown()
print(run.directory)
"""


def test_a_full_tmpfs_loses_whole_lines_only_and_counts_them(tmp_path: Path) -> None:
    import subprocess

    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip("mounting a tmpfs is not permitted here")
    try:
        result = run_python(FULL_DISK.replace("sys.argv[1]", repr(str(mount))))
        assert result.returncode == 0, result.stderr
        directory = Path(result.stdout.strip())
        events = read_lines(directory / "telemetry.jsonl")
        (trailer,) = by_kind(events, "process_end")
        outage = _ids(events, "outage")
        written = [e for e in events if e.get("span_id") in outage]
        assert len(written) + trailer["write_errors"] == 100
        assert trailer["write_errors"] > 0
        assert len(named(events, "after")) == 5
        assert (directory / "run_summary.json").exists()
        assert [p.name for p in directory.iterdir() if p.name.startswith(".")] == []
        assert result.stderr.count("cannot write") == 1
    finally:
        subprocess.run(["umount", str(mount)], check=False)
