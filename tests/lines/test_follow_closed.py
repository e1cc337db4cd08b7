"""A follower closed while a read of it is still to run (on a worker thread whose caller
was cancelled) opens no file that no one would close."""

from __future__ import annotations

from pathlib import Path

from spanline._lines._read import Follow


def test_a_closed_follower_reads_nothing_and_opens_nothing(tmp_path: Path) -> None:
    log = tmp_path / "telemetry.jsonl"
    log.write_bytes(b'{"event":"a"}\n')
    follow = Follow(log)
    follow.close()  # the caller was cancelled before the read it scheduled ran
    assert follow.read() is None
    assert follow._handle is None  # nothing left open behind it


def test_close_after_a_read_closes_its_file(tmp_path: Path) -> None:
    log = tmp_path / "telemetry.jsonl"
    log.write_bytes(b'{"event":"a"}\n')
    follow = Follow(log)
    assert follow.read() == b'{"event":"a"}\n'
    handle = follow._handle
    follow.close()
    assert handle is not None and handle.closed
