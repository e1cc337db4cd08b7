"""kill -9 with a 50 MB blob being written: the lines the writer wrote stay, and the blob is
on disk whole or not at all (a reference whose file is missing shows as missing)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
from pathlib import Path

import zstandard

from spanline.schema import BLOB_REF
from tests._helpers import read_lines, run_cli, traced_program

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
