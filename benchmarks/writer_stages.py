"""The writer's work per event, stage by stage, in CPU time.

Usage::

    python benchmarks/writer_stages.py [--events N] [--repeats R] [--smoke] [--json PATH]

Queued records as the tracer builds them (a plain span's start and end; a span with
two small attributes and a counter) go through each stage of the writer on this
thread, best of R rounds of N events, CPU time of this process (time spent waiting for
a core on a shared machine is left out):

* **record -> event**: ``to_event``, the event dict of the line format;
* **redaction**: ``redact_event`` on a copy of that dict (the copy's own cost beside it);
* **encoding**: ``encode`` (orjson) of the redacted event;
* **full path**: the three together, as the writer's converter runs them;
* **templates**: the common span's lines formatted from their records (records with
  attributes, counters or an error fall back to the full path, counted in; the
  templates are made once, before the timing, as the writer keeps them);
* **write**: appending the lines to a file in one ``os.write``.

The garbage collector is paused while timing: the writer's own garbage is short-lived
and its pauses belong to the whole process, not to a stage.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from spanline._capture import _redact
from spanline._capture._scrub import redact_event
from spanline._lines._encode import encode, to_event
from spanline._writer._convert import EventMaker
from spanline._writer._fast import LineTemplates
from spanline.schema import END, START

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
DEFAULTS = {"events": 20_000, "repeats": 7}
SMOKE = {"events": 200, "repeats": 1}


def plain_records(n: int) -> list[tuple[Any, ...]]:
    """n/2 spans without attributes: half roots, half children."""
    records: list[tuple[Any, ...]] = []
    for i in range(n // 2):
        span_id, ts = 0x1000 + i, 1765140000.123456 + i / 1000
        records.append((START, span_id, None if i % 2 else 0x77, "step", None, None, ts, None))
        records.append((END, span_id, "ok", 0.000123 * (i % 50), ts + 0.01, None, None, None))
    return records


def small_records(n: int) -> list[tuple[Any, ...]]:
    """n/2 spans with two small attributes at start and a counter at end."""
    records: list[tuple[Any, ...]] = []
    for i in range(n // 2):
        span_id, ts = 0x1000 + i, 1765140000.123456 + i / 1000
        attributes = (("tool", "search"), ("attempt", i % 3))
        records.append((START, span_id, 0x77, "tool", None, "tool", ts, attributes))
        records.append((END, span_id, "ok", 0.0123, ts + 0.0123, None, None, (("tool_uses", 1),)))
    return records


def cpu_best(work: Callable[[], Any], repeats: int) -> float:
    """Best CPU time of ``repeats`` runs of ``work``, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return best


def stages(records: list[tuple[Any, ...]], repeats: int, path: Path) -> dict[str, float]:
    """CPU seconds per event of each stage over ``records``."""
    make = EventMaker(TRACE_ID, redact_event)
    events = [to_event(record, TRACE_ID) for record in records]
    redacted = [redact_event(dict(event)) for event in events]
    lines = b"".join(encode(event) for event in redacted)

    # One set of templates, as the writer keeps: made by the first call (untimed check).
    formatted = LineTemplates(TRACE_ID, make.event, lambda: _redact.registry)

    def templates() -> bytes:
        batch, rest = formatted.split(records)
        return batch.render([make.event(record) for record in rest])

    def write() -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND)
        try:
            os.write(fd, lines)
        finally:
            os.close(fd)

    assert templates() == lines, "the templates must write the full path's bytes"
    measured = {
        "record -> event": lambda: [to_event(record, TRACE_ID) for record in records],
        "dict copy (in redaction)": lambda: [dict(event) for event in events],
        "redaction": lambda: [redact_event(dict(event)) for event in events],
        "encoding": lambda: [encode(event) for event in redacted],
        "full path": lambda: [encode(make.event(record)) for record in records],
        "templates": templates,
        "write": write,
    }
    return {name: cpu_best(work, repeats) / len(records) for name, work in measured.items()}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, help="events per round (default 20,000)")
    parser.add_argument("--repeats", type=int, help="rounds, best taken (default 7)")
    parser.add_argument("--smoke", action="store_true", help="tiny, once (the test suite)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    for key, value in (SMOKE if args.smoke else DEFAULTS).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if min(args.events, args.repeats) < 2 and not args.smoke:
        parser.error("--events and --repeats must be at least 2")
    gc.disable()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="spanline-writer-") as scratch:
        path = Path(scratch) / "telemetry.jsonl"
        for label, build in (("plain span", plain_records), ("small attributes", small_records)):
            results[label] = stages(build(args.events), args.repeats, path)
    gc.enable()
    print(f"python {sys.version.split()[0]}; best of {args.repeats} x {args.events:,} events;")
    print("CPU time per event, us")
    header = f"{'stage':<26}" + "".join(f"{label:>18}" for label in results)
    print(header)
    print("-" * len(header))
    for stage in next(iter(results.values())):
        cells = "".join(f"{results[label][stage] * 1e6:>18.3f}" for label in results)
        print(f"{stage:<26}{cells}")
    for label, row in results.items():
        print(f"{label}: templates / full path = {row['templates'] / row['full path']:.2f}")
    if args.json is not None:
        document = {"events": args.events, "repeats": args.repeats, "us_per_event": results}
        args.json.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
