"""A corrupt blob file, whatever is wrong with it, is bad input for every command that reads
it: one line on stderr that names the blob and says it is corrupt, exit status 2."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import zstandard

import spanline
from spanline.schema import BLOB_REF
from tests._helpers import configure, finish, run_cli

VALUE = "a line of a tool's output\n" * 4000


#: name: how a good file is spoiled (given its bytes, the bytes written instead).
SPOILERS = {
    "truncated zstd": lambda data: data[: len(data) // 2],
    "zstd header only": lambda data: data[:6],
    "empty file": lambda data: b"",
    "not zstd at all": lambda data: b"not zstd at all",
    "the wrong content": lambda data: zstandard.ZstdCompressor().compress(b"something else"),
}


@pytest.fixture
def run_with_blob(tmp_path: Path) -> tuple[Path, str, dict[str, object]]:
    run = configure(tmp_path, synchronous=True, capture="full", blob_threshold=1024)

    @spanline.traced_tool(name="big")
    def big() -> str:
        return VALUE

    big()
    _, events = finish(run)
    (end,) = [
        e
        for e in events
        if e["event"] == "span_end" and BLOB_REF in (e["attributes"].get("output.value") or {})
    ]
    ref = end["attributes"]["output.value"][BLOB_REF]
    assert ref["sha256"] == hashlib.sha256(VALUE.encode()).hexdigest()
    return run.directory, end["span_id"], ref


@pytest.mark.parametrize("spoiled", sorted(SPOILERS))
def test_a_corrupt_blob_is_one_line_and_exit_status_2(
    run_with_blob: tuple[Path, str, dict[str, object]], spoiled: str
) -> None:
    run_dir, span_id, ref = run_with_blob
    blob = run_dir / "blobs" / f"{ref['sha256']}.zst"
    blob.write_bytes(SPOILERS[spoiled](blob.read_bytes()))
    for args in (
        ("show", str(run_dir), "--span", span_id, "--full"),
        ("query", "SELECT count(*) FROM blobs", str(run_dir)),
    ):
        result = run_cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        (line,) = result.stderr.strip().splitlines()
        assert "Traceback" not in result.stderr
        assert f"blob {ref['sha256']}.zst is corrupt" in line, line
    shown = run_cli("show", str(run_dir), "--span", span_id)  # without --full: the reference
    assert shown.returncode == 0, shown.stderr
    value = json.loads(shown.stdout)["end"]["attributes"]["output.value"]
    assert value == {BLOB_REF: ref}


def test_an_uncompressed_blob_with_the_wrong_content_is_corrupt(
    run_with_blob: tuple[Path, str, dict[str, object]],
) -> None:
    run_dir, span_id, ref = run_with_blob
    (run_dir / "blobs" / f"{ref['sha256']}.zst").unlink()
    (run_dir / "blobs" / str(ref["sha256"])).write_bytes(VALUE.encode()[:-1])
    result = run_cli("show", str(run_dir), "--span", span_id, "--full")
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "does not match its name" in line
