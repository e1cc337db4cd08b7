"""The one reader of telemetry.jsonl's lines: whole lines from a byte offset, with offsets."""

from __future__ import annotations

from pathlib import Path

from spanline._lines._read import CHUNK, blocks, lines


def test_whole_lines_come_with_the_offset_past_each(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.jsonl"
    path.write_bytes(b'{"a":1}\n\n{"b":2}\n{"c":')
    assert list(lines(path)) == [(b'{"a":1}', 8), (b'{"b":2}', 17)]  # the blank line counts
    assert list(lines(path, 9)) == [(b'{"b":2}', 17)]
    assert list(lines(path, 0, 8)) == [(b'{"a":1}', 8)]
    assert list(lines(path, final=True))[-1] == (b'{"c":', 22)  # a torn last line, at the end


def test_a_line_longer_than_a_block_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.jsonl"
    long = b"x" * (3 * CHUNK + 5)
    path.write_bytes(long + b"\n" + b"y\n")
    assert list(lines(path)) == [(long, len(long) + 1), (b"y", len(long) + 3)]
    data, cut, offset = next(blocks(path))
    assert data[:cut] == long + b"\ny\n" and offset == cut


def test_a_missing_file_yields_nothing(tmp_path: Path) -> None:
    assert list(lines(tmp_path / "missing.jsonl", final=True)) == []
