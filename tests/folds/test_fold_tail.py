"""JsonlTail: reading a telemetry.jsonl while it grows gives what reading it once gives."""

from __future__ import annotations

import itertools
from pathlib import Path

import orjson

from spanline.folds import JsonlTail, SummaryFold, read_events, summarize_file
from tests.folds.test_fold_summary import random_run


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
    fold.cover(tail.offset)  # what a reader of the file covered: the summary says so
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


def test_a_block_with_odd_lines_keeps_every_line_number(tmp_path: Path) -> None:
    """The fast read decodes a block of lines as one array and counts its lines as it
    goes; lines it cannot take that way (two values, CRLF, blank, an array) must still
    come out, or be reported, with their own numbers."""
    path = tmp_path / "telemetry.jsonl"
    good = [{"event": "phase", "name": f"p{n}", "ts": float(n)} for n in range(6)]
    lines = [orjson.dumps(event) for event in good]
    path.write_bytes(
        lines[0] + b"\r\n"  # 1: CRLF, still one event
        + lines[1] + b", " + lines[2] + b"\n"  # 2: two values on one line
        + b"\n"  # 3: blank, neither an event nor a problem
        + lines[3] + b"\n"  # 4
        + b"[1, 2]\n"  # 5: not an event object
        + lines[4] + b"\n" + lines[5] + b"\n"  # 6, 7
    )  # fmt: skip
    tail = JsonlTail(path)
    batches = []
    for batch in tail.batches(final=True):
        batches.append(list(zip(tail.batch_lines, [e["name"] for e in batch], strict=True)))
    assert [pair for batch in batches for pair in batch] == [
        (1, "p0"), (4, "p3"), (6, "p4"), (7, "p5"),
    ]  # fmt: skip
    assert [(p.line, p.error.split(":")[0]) for p in tail.problems] == [
        (2, "invalid JSON"), (5, "not an event object"),
    ]  # fmt: skip
    assert tail.lines == 7 and tail.offset == path.stat().st_size

    clean = tmp_path / "clean.jsonl"  # the fast path: numbered 1.. in one batch
    clean.write_bytes(b"".join(line + b"\n" for line in lines))
    tail = JsonlTail(clean)
    assert [list(tail.batch_lines) for _ in tail.batches()] == [[1, 2, 3, 4, 5, 6]]
