"""The one reader of telemetry.jsonl's lines: whole lines from a byte offset, with offsets."""

from __future__ import annotations

from pathlib import Path

from spanline._lines._read import CHUNK, Follow, blocks, byte_before, first_lines, last_bytes, lines


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


def test_the_first_lines_come_as_written_blank_ones_counted(tmp_path: Path) -> None:
    log = tmp_path / "telemetry.jsonl"
    log.write_bytes(b"a\n\nb\nc\ntorn")
    assert list(first_lines(log, 3)) == [b"a\n", b"\n", b"b\n"]
    assert list(first_lines(log, 10)) == [b"a\n", b"\n", b"b\n", b"c\n", b"torn"]
    assert list(first_lines(tmp_path / "missing.jsonl", 3)) == []


def test_the_last_bytes_and_the_size(tmp_path: Path) -> None:
    log = tmp_path / "telemetry.jsonl"
    log.write_bytes(b"first\nsecond\n")
    assert last_bytes(log, 7) == (b"second\n", 13)
    assert last_bytes(log, 100) == (b"first\nsecond\n", 13)


def test_the_byte_before_an_offset_tells_whether_a_line_starts_there(tmp_path: Path) -> None:
    log = tmp_path / "telemetry.jsonl"
    log.write_bytes(b"ab\ncd\n")
    assert byte_before(log, 3) == (b"\n", 6)
    assert byte_before(log, 4) == (b"c", 6)
    assert byte_before(log, 6) == (b"\n", 6)
    assert byte_before(log, 7) == (b"", 6)  # past the end
    assert byte_before(log, 0) == (b"", 6)


def test_following_gives_whole_lines_as_they_are_completed(tmp_path: Path) -> None:
    log = tmp_path / "telemetry.jsonl"
    follow = Follow(log, 0)
    try:
        assert follow.read() is None  # no file yet
        with log.open("ab") as out:
            out.write(b'{"a": 1}\n{"b"')
            out.flush()
            assert follow.read() == b'{"a": 1}\n'
            assert follow.offset == 9
            assert follow.read() is None  # nothing new: the torn line waits
            out.write(b": 2}")
            out.flush()
            assert follow.read() == b""  # new bytes, no line completed
            out.write(b"\n")
            out.flush()
            assert follow.read() == b'{"b": 2}\n'
            assert follow.offset == 18
    finally:
        follow.close()


def test_following_from_an_offset_ends_reads_on_the_block_size(tmp_path: Path) -> None:
    """Followers that fell behind meet at the same offsets: each read ends on a multiple
    of the block size, wherever it started."""
    log = tmp_path / "telemetry.jsonl"
    line = b"x" * 99 + b"\n"
    log.write_bytes(line * 50)
    follow = Follow(log, 300, chunk=256)
    try:
        first = follow.read()
        assert first == line * 2  # bytes 300..512: two whole lines, a part of the next
        assert follow.offset == 500
        assert follow.read() == line * 2  # up to 768: lines end at 600 and 700
        assert follow.offset == 700
    finally:
        follow.close()
