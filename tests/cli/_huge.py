"""A run whose names and strings are huge: one open span named 50 MB, and more like it."""

from __future__ import annotations

from pathlib import Path

import orjson

#: The size of the huge values (the span name that held the CLI for a minute).
HUGE = 50 * 1024 * 1024


def write_huge_run(base: Path, run_id: str, size: int = HUGE) -> Path:
    """A run under ``base`` with huge values wherever the CLI draws one.

    The question, an agent's name (its span is open: no end, its process gone), a
    tool's name, a phase's name, a milestone's name, an error message and an
    attribute are each ``size`` characters long. Returns the run's directory.
    """
    directory = base / "runs" / run_id
    directory.mkdir(parents=True)
    big = "n" * size
    trace = "0" * 32

    def start(sid: str, parent: str | None, name: str, kind: str | None, **attrs: object) -> dict:
        return {"event": "span_start", "span_id": sid, "parent": parent, "trace_id": trace,
                "name": name, "component": None, "kind": kind, "ts": 1800000001.0,
                "attributes": attrs}  # fmt: skip

    def end(sid: str, status: str = "ok", **extra: object) -> dict:
        line = {"event": "span_end", "span_id": sid, "status": status, "duration_ms": 5.0,
                "tokens": 3, "tool_uses": 1, "ts": 1800000002.0, "attributes": {}}  # fmt: skip
        return {**line, **extra}

    lines = [
        {
            "event": "run_start",
            "ts": 1800000000.0,
            "run_id": run_id,
            "pid": 1,
            "trace_id": trace,
            "host": "elsewhere",
            "schema_version": 1,
            "service_name": "huge",
            "query": "Q" + big,
        },
        start("a000000000000001", None, "phase-" + big, "phase"),
        start("a000000000000002", "a000000000000001", "agent-" + big, "agent", note=big),
        start("a000000000000003", "a000000000000002", "tool." + big, "tool", **{"tool.name": big}),
        end("a000000000000003", "error", error={"type": "Boom" + big, "message": "m" + big}),
        {
            "event": "phase",
            "name": "milestone-" + big,
            "wall_ms": 1.0,
            "ts": 1800000003.0,
            "items": big,
        },
        end("a000000000000001"),
    ]
    (directory / "telemetry.jsonl").write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    return directory
