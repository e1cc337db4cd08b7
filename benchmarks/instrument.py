"""What ``spanline.instrument("openai")`` costs: per SDK call, and on the plain span hot path.

Usage::

    python benchmarks/instrument.py [--calls N] [--spans M] [--repeats R] [--smoke] [--json PATH]

The OpenAI client talks to an in-process transport (``httpx2.MockTransport``)
that answers a fixed chat completion, so the SDK's own work (request building,
pydantic parsing) is measured and the network is not. Rows, median of R repeats:

* **SDK call**: the client's ``chat.completions.create`` not instrumented,
  instrumented with tracing off, and instrumented with tracing on;
* **plain span**: ``with tracer.span(...)`` before and after ``instrument()``,
  with tracing on. Instrumenting patches SDK classes only, so it must not change.

Ratios are against the first row of each group. No absolute time is asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import spanline

ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "gpt-4o",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
}


def _client() -> Any:
    import httpx2
    import openai

    def answer(request: Any) -> Any:
        return httpx2.Response(200, json=ANSWER)

    transport = httpx2.MockTransport(answer)
    http_client = openai.DefaultHttpxClient(transport=transport)
    return openai.OpenAI(api_key="sk-bench", base_url="http://bench/v1", http_client=http_client)


def _per_op_us(run: Callable[[int], None], count: int, repeats: int) -> float:
    run(max(1, count // 10))  # warm up
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(count)
        samples.append((time.perf_counter() - start) / count * 1e6)
    return statistics.median(samples)


def measure(calls: int, spans: int, repeats: int) -> list[dict[str, Any]]:
    """The rows: ``{group, name, us}``."""
    client = _client()
    messages = [{"role": "user", "content": "hi"}]

    def sdk_calls(count: int) -> None:
        for _ in range(count):
            client.chat.completions.create(model="gpt-4o", messages=messages)

    tracer = spanline.get_tracer()

    def plain_spans(count: int) -> None:
        for _ in range(count):
            with tracer.span("work"):
                pass

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        rows.append(("SDK call", "not instrumented", _per_op_us(sdk_calls, calls, repeats)))
        spanline.instrument("openai")
        rows.append(
            ("SDK call", "instrumented, tracing off", _per_op_us(sdk_calls, calls, repeats))
        )
        spanline.configure_observability(enabled=True, run_dir=Path(scratch))
        rows.append(("SDK call", "instrumented, tracing on", _per_op_us(sdk_calls, calls, repeats)))
        # Each row starts with the writer idle: a backlog from the row before would
        # compete with the loop being timed.
        spanline.flush()
        spanline.uninstrument("openai")
        rows.append(("plain span", "not instrumented", _per_op_us(plain_spans, spans, repeats)))
        spanline.flush()
        spanline.instrument("openai")
        rows.append(("plain span", "instrumented", _per_op_us(plain_spans, spans, repeats)))
        spanline.uninstrument("openai")
        spanline.shutdown()
    client.close()
    return [{"group": group, "name": name, "us": us} for group, name, us in rows]


def table(rows: list[dict[str, Any]]) -> str:
    """One line per row: µs per operation and the ratio to its group's first row."""
    first: dict[str, float] = {}
    lines = [f"{'group':<11} {'condition':<27} {'µs/op':>9} {'ratio':>7}"]
    for group in ("SDK call", "plain span"):
        for row in (row for row in rows if row["group"] == group):
            base = first.setdefault(group, row["us"])
            ratio = row["us"] / base
            lines.append(f"{group:<11} {row['name']:<27} {row['us']:>9.2f} {ratio:>6.2f}x")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the table, and write the rows as JSON when asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=2000, help="SDK calls per repeat")
    parser.add_argument("--spans", type=int, default=100_000, help="plain spans per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="a tiny run (for tests)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    if args.smoke:
        args.calls, args.spans, args.repeats = 20, 200, 1
    if min(args.calls, args.spans, args.repeats) < 1:
        parser.error("--calls, --spans and --repeats must be at least 1")
    rows = measure(args.calls, args.spans, args.repeats)
    print(table(rows))
    if args.json is not None:
        args.json.write_text(json.dumps({"rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
