"""What doing nothing costs: decorated functions and spans while tracing is off.

Usage::

    python benchmarks/disabled.py [--rounds N] [--calls N] [--smoke] [--json PATH]

Each figure is measured beside its anchor in the same process, interleaved:

* ``@traced_tool``, ``@traced_agent``, ``@traced_llm`` on ``def f(x): return x``
  against a bare call of the same function, and ``@traced_tool`` on an
  ``async def`` against the bare coroutine function (each call awaited in one
  event loop);
* a disabled ``with tracer.span("x"):`` against ``with contextlib.nullcontext():``.

Tracing is off for good (``shutdown()`` first), as in a program that never
configures it. Each round times ``--calls`` calls of every contender in turn
(``timeit`` loops); the figure is the best round of ``--rounds``: on a shared
machine the best round is the one the others' load disturbed least, and the
interleaving gives every contender the same chances. Targets: decorated
calls at most 2.5x a bare call; a disabled span at most 1.2x ``nullcontext``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import timeit
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import spanline

DECORATOR_TARGET = 2.5
SPAN_TARGET = 1.2
DEFAULT_ROUNDS, DEFAULT_CALLS = 300, 5_000
SMOKE_ROUNDS, SMOKE_CALLS = 3, 200


def _identity(x: int) -> int:
    return x


async def _async_identity(x: int) -> int:
    return x


#: The event loops of the async rounds, closed once measured (an unclosed loop's
#: finaliser fails at interpreter exit, once its pipe is gone).
_LOOPS: list[asyncio.AbstractEventLoop] = []


def _async_loop(function: Callable[[int], Any], calls: int) -> Callable[[], None]:
    """One round of awaited calls, run to completion in an event loop made once."""
    loop = asyncio.new_event_loop()
    _LOOPS.append(loop)

    async def run() -> None:
        for _ in range(calls):
            await function(1)

    return lambda: loop.run_until_complete(run())


def contenders(calls: int) -> dict[str, Callable[[], float]]:
    """Name -> a callable timing one round (seconds), anchors included."""
    tracer = spanline.get_tracer()
    timers: dict[str, Callable[[], float]] = {}
    for name, function in (
        ("bare call", _identity),
        ("@traced_tool", spanline.traced_tool(_identity)),
        ("@traced_agent", spanline.traced_agent(_identity)),
        ("@traced_llm", spanline.traced_llm(_identity)),
    ):
        timer = timeit.Timer("f(1)", globals={"f": function})
        timers[name] = lambda t=timer: t.timeit(calls)  # type: ignore[misc]
    for name, coroutine_function in (
        ("bare async call", _async_identity),
        ("async @traced_tool", spanline.traced_tool(_async_identity)),
    ):
        round_ = _async_loop(coroutine_function, calls)
        timers[name] = lambda r=round_: timeit.timeit(r, number=1)  # type: ignore[misc]
    nothing = timeit.Timer("with s('x'):\n    pass", globals={"s": tracer.span})
    null = timeit.Timer("with n():\n    pass", globals={"n": contextlib.nullcontext})
    timers["disabled span"] = lambda: nothing.timeit(calls)
    timers["nullcontext"] = lambda: null.timeit(calls)
    return timers


#: Each measured figure and its anchor.
PAIRS = (
    ("@traced_tool", "bare call", DECORATOR_TARGET),
    ("@traced_agent", "bare call", DECORATOR_TARGET),
    ("@traced_llm", "bare call", DECORATOR_TARGET),
    ("async @traced_tool", "bare async call", DECORATOR_TARGET),
    ("disabled span", "nullcontext", SPAN_TARGET),
)


def measure(rounds: int, calls: int) -> dict[str, float]:
    """Best round per contender, in nanoseconds per call."""
    spanline.shutdown()  # tracing off for good, the environment read
    timers = contenders(calls)
    best = {name: float("inf") for name in timers}
    try:
        for _ in range(rounds):
            for name, timer in timers.items():
                best[name] = min(best[name], timer())
    finally:
        while _LOOPS:
            _LOOPS.pop().close()
    return {name: seconds / calls * 1e9 for name, seconds in best.items()}


def rows(ns: dict[str, float]) -> list[dict[str, Any]]:
    """One row per figure: its cost, its anchor's, the ratio and the verdict."""
    return [
        {
            "measured": name,
            "anchor": anchor,
            "ns": ns[name],
            "anchor_ns": ns[anchor],
            "ratio": ns[name] / ns[anchor],
            "target": target,
            "target_met": ns[name] / ns[anchor] <= target,
        }
        for name, anchor, target in PAIRS
    ]


def format_table(table: list[dict[str, Any]]) -> str:
    header = f"{'measured':<20} {'ns/call':>8} {'anchor':<16} {'ns/call':>8} {'ratio':>6}  target"
    lines = [header, "-" * len(header)]
    for row in table:
        verdict = "met" if row["target_met"] else "NOT met"
        lines.append(
            f"{row['measured']:<20} {row['ns']:>8.1f} {row['anchor']:<16} "
            f"{row['anchor_ns']:>8.1f} {row['ratio']:>5.2f}x  <= {row['target']}x: {verdict}"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, help=f"rounds (default {DEFAULT_ROUNDS})")
    parser.add_argument("--calls", type=int, help=f"calls per round (default {DEFAULT_CALLS})")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: tests only")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = SMOKE_ROUNDS if args.smoke else DEFAULT_ROUNDS
    if args.calls is None:
        args.calls = SMOKE_CALLS if args.smoke else DEFAULT_CALLS
    if args.rounds < 1 or args.calls < 1:
        parser.error("--rounds and --calls must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    table = rows(measure(args.rounds, args.calls))
    print(
        f"python {platform.python_version()} on {os.cpu_count()} CPUs; tracing off; "
        f"best of {args.rounds} rounds of {args.calls:,} calls each, interleaved"
    )
    print(format_table(table))
    if args.json is not None:
        document = {"rounds": args.rounds, "calls": args.calls, "rows": table}
        args.json.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
