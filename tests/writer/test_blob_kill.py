"""kill -9 with a 50 MB blob being written: the lines the writer wrote stay, and the blob is
on disk whole or not at all (a reference whose file is missing shows as missing)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import zstandard

import spanline
from spanline.schema import BLOB_REF
from tests._helpers import configure, read_lines, run_cli, traced_program

SMALL = 200

PROGRAM = f"""
import pathlib, time
import spanline
run = spanline.configure_observability(enabled=True, service_name="kill", capture="full",
                                       flush_ms=50, run_dir={{base!r}})
print(run.directory, flush=True)

@spanline.traced_tool(name="huge")
def huge():
    return "abcdefghijklmnopqrstuvwxyz012345" * (50 * 1024 * 1024 // 32)

huge()
for i in range({SMALL}):
    with spanline.span("small", kind="step", i=i):
        pass
# Count the lines the writer wrote (no sleep-and-hope): every small span's end.
path = run.telemetry_path
while path.read_bytes().count(b'"event":"span_end"') < {SMALL} + 1:
    time.sleep(0.01)
print("written", flush=True)
time.sleep(600)
"""


def test_a_kill_with_a_blob_in_flight_keeps_every_written_line(tmp_path: Path) -> None:
    with traced_program(PROGRAM.format(base=str(tmp_path))) as (process, run_dir):
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "written"
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    events = read_lines(run_dir / "telemetry.jsonl")
    ends = [e for e in events if e["event"] == "span_end"]
    assert len(ends) == SMALL + 1  # nothing the writer had written is lost
    (big,) = [e for e in ends if BLOB_REF in (e["attributes"].get("output.value") or {})]
    ref = big["attributes"]["output.value"][BLOB_REF]
    stored = run_dir / "blobs" / f"{ref['sha256']}.zst"
    if stored.exists():  # written whole before the kill
        data = zstandard.ZstdDecompressor().decompress(stored.read_bytes())
        assert hashlib.sha256(data).hexdigest() == ref["sha256"]
    result = run_cli("show", str(run_dir), "--span", big["span_id"], "--full")
    assert result.returncode == 0, result.stderr
    value = json.loads(result.stdout)["end"]["attributes"]["output.value"]
    if stored.exists():
        assert isinstance(value, str) and len(value) == ref["size"]
    else:
        assert value == {BLOB_REF: ref, "missing": True}


#: Held in the middle of writing a blob (its compressor stops at the second piece, so the
#: kill lands while the half-written file exists), with the blob's line on disk.
HELD = """
import pathlib, threading, time
import spanline
from spanline._lines import _blobs

real = _blobs._compressor


class Held:
    def __init__(self, inner):
        self.inner, self.pieces = inner, 0

    def compress(self, piece):
        self.pieces += 1
        if self.pieces == 2:
            print("writing", flush=True)
            threading.Event().wait()  # until the kill
        return self.inner.compress(piece)

    def flush(self):
        return self.inner.flush()


_blobs._compressor = lambda size: Held(real(size))
run = spanline.configure_observability(enabled=True, service_name="held", capture="full",
                                       flush_ms=50, run_dir=%r)
print(run.directory, flush=True)


@spanline.traced_tool(name="huge")
def huge():
    return "a line of output\\n" * (3 * 1024 * 1024 // 17)


huge()
path = run.telemetry_path
while b"output.value" not in path.read_bytes():
    time.sleep(0.01)
print("written", flush=True)
time.sleep(600)
"""


def _temporaries(run_dir: Path) -> list[str]:
    return sorted(p.name for p in (run_dir / "blobs").iterdir() if p.name.startswith("."))


def test_a_kill_mid_blob_leaves_a_file_readers_ignore_and_show_removes(tmp_path: Path) -> None:
    with traced_program(HELD % str(tmp_path)) as (process, run_dir):
        assert process.stdout is not None
        said = {process.stdout.readline().strip(), process.stdout.readline().strip()}
        assert said == {"writing", "written"}
        (temporary,) = _temporaries(run_dir)
        shown = run_cli("show", str(run_dir))
        assert shown.returncode == 0, shown.stderr
        assert _temporaries(run_dir) == [temporary]  # its writer runs: the file is in flight
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert _temporaries(run_dir) == [temporary]
    events = read_lines(run_dir / "telemetry.jsonl")
    (big,) = [
        e
        for e in events
        if e["event"] == "span_end" and BLOB_REF in (e["attributes"].get("output.value") or {})
    ]
    ref = big["attributes"]["output.value"][BLOB_REF]
    # Readers take the half-written file for no blob: the reference shows as missing.
    full = run_cli("show", str(run_dir), "--span", big["span_id"], "--full")
    assert full.returncode == 0, full.stderr
    value = json.loads(full.stdout)["end"]["attributes"]["output.value"]
    assert value == {BLOB_REF: ref, "missing": True}
    query = run_cli("query", "SELECT count(*) AS n FROM blobs", str(run_dir), "--json")
    assert query.returncode == 0, query.stderr
    assert json.loads(query.stdout)[0]["n"] == 0
    assert _temporaries(run_dir) == []  # show removed it: its process is gone


def test_check_and_the_next_blob_written_into_the_run_remove_dead_processes_files(
    tmp_path: Path,
) -> None:
    from spanline._lines._blobs import BlobStore
    from spanline._runs._liveness import process_alive

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = int(gone.stdout)
    run = configure(tmp_path)
    spanline.shutdown()
    blobs = run.directory / "blobs"
    blobs.mkdir()
    stale = f".{'a' * 64}.zst.{dead}.7"
    mine = f".{'b' * 64}.zst.{os.getpid()}.7"
    other = ".notes"
    for name in (stale, mine, other):
        (blobs / name).write_bytes(b"half")
    rules = tmp_path / "rules.yaml"
    rules.write_text("run:\n  max_tokens: 10\n")
    result = run_cli("check", str(run.directory), "--rules", str(rules))
    assert result.returncode in (0, 1), result.stderr
    assert sorted(p.name for p in blobs.iterdir()) == sorted([mine, other])
    (blobs / stale).write_bytes(b"half")
    store = BlobStore(run.directory, synchronous=True, alive=process_alive)
    store.put("c" * 64, b"x")
    assert not (blobs / stale).exists() and (blobs / mine).exists()
