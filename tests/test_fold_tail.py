"""JsonlTail: reading a telemetry.jsonl while it grows gives what reading it once gives."""

from __future__ import annotations

import itertools
from pathlib import Path

import orjson

from spanline.folds import JsonlTail, SummaryFold, read_events, summarize_file
from tests.test_fold_summary import random_run


def _lines(events: list[dict]) -> bytes:
    return b"".join(orjson.dumps(event) + b"\n" for event in events)


def test_tailing_a_growing_file_equals_summarize_file(tmp_path: Path) -> None:
    path = tmp_path / "run" / "telemetry.jsonl"
    path.parent.mkdir()
    data = _lines(random_run(11))
    data = data[:500] + b"not json at all\n" + data[500:] + b"[1, 2]\n"
    tail = JsonlTail(path)
    assert tail.read() == []  # no file yet
    fold = SummaryFold(run_id="run")
    # Cut points inside lines: a line arrives in two appends and is read once, whole.
    cuts = [0, 37, 38, 400, 1203, len(data) // 2 + 5, len(data) - 3, len(data)]
    for begin, finish in itertools.pairwise(cuts):
        with path.open("ab") as handle:
            handle.write(data[begin:finish])
        fold.extend(tail.read())
        if not data[:finish].endswith(b"\n"):
            assert tail.offset == data[:finish].rfind(b"\n") + 1  # the partial line waits
        fold.result()
    fold.note_problems(tail.problems)
    expected = summarize_file(path, report_problems=False)
    assert fold.result() == expected
    assert tail.offset == len(data) and tail.lines == data.count(b"\n")
    _, problems = read_events(path)
    assert tail.problems == problems and len(problems) >= 2  # the inserted line may cut one
    assert [p["line"] for p in expected.skipped_lines] == [p.line for p in problems]


def test_final_read_consumes_a_torn_last_line_like_iter_events(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.jsonl"
    whole = b'{"event": "phase", "name": "p", "wall_ms": 1.0, "ts": 1.0}'
    path.write_bytes(whole + b"\n\n" + b'{"event": "span_st')
    tail = JsonlTail(path)
    assert [e["event"] for e in tail.read()] == ["phase"]
    assert tail.problems == [] and tail.offset == len(whole) + 2
    assert tail.read(final=True) == []
    _, problems = read_events(path)
    assert tail.problems == problems
    assert problems[0].line == 3 and "torn last line" in problems[0].error
    assert tail.offset == path.stat().st_size

    complete = tmp_path / "complete.jsonl"
    complete.write_bytes(whole)  # a whole event without its newline
    assert JsonlTail(complete).read() == []
    assert [e["name"] for e in JsonlTail(complete).read(final=True)] == ["p"]


def test_iter_new_streams_a_large_backlog(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.jsonl"
    events = [{"event": "phase", "name": f"p{n}", "ts": float(n), "pad": "x" * 300}
              for n in range(5000)]  # fmt: skip
    path.write_bytes(_lines(events))  # larger than one read chunk
    tail = JsonlTail(path)
    assert [e["name"] for e in tail.iter_new()] == [e["name"] for e in events]
    assert tail.lines == 5000 and tail.offset == path.stat().st_size
