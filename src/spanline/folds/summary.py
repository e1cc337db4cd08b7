"""The run summary: a fold of a run's events into ``run_summary.json``.

:class:`SummaryFold` does the work incrementally (see its module for the
rules); :func:`summarize` and :func:`summarize_file` fold a whole run at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from spanline._capture._prices import PriceTable
from spanline._capture._report import report
from spanline._lines._fileio import write_atomic
from spanline.folds._summary_fold import SummaryFold
from spanline.folds._summary_model import (
    AgentSummary,
    ExporterStats,
    PhaseSummary,
    PlanProgress,
    RunSummary,
    SpanError,
    TokensByType,
    ToolStats,
    Totals,
)
from spanline.folds.events import JsonlTail, LineProblem
from spanline.schema import AGENT_KINDS

__all__ = [
    "AgentSummary",
    "ExporterStats",
    "PhaseSummary",
    "PlanProgress",
    "RunSummary",
    "SpanError",
    "SummaryFold",
    "TokensByType",
    "ToolStats",
    "Totals",
    "is_agent",
    "summarize",
    "summarize_file",
    "write_summary",
]


def is_agent(start: Mapping[str, Any], agent_kinds: Iterable[str] = AGENT_KINDS) -> bool:
    """Whether a span_start event opens an agent.

    Args:
        start: a span_start event.
        agent_kinds: span kinds that are agents.

    Returns:
        True when its kind is an agent kind or ``@traced_agent`` opened it.
    """
    kind: Any = start.get("kind")
    if kind.__class__ is str and kind in agent_kinds:
        return True
    attributes = start.get("attributes")
    return isinstance(attributes, Mapping) and (
        attributes.get("gen_ai.operation.name") == "invoke_agent"
    )


def summarize(
    events: Iterable[Mapping[str, Any]],
    *,
    agent_kinds: Iterable[str] | None = None,
    problems: Sequence[LineProblem] = (),
    run_id: str | None = None,
    prices: PriceTable | None = None,
) -> RunSummary:
    """Fold events into a :class:`RunSummary`.

    Args:
        events: the run's events, in file order.
        agent_kinds: span kinds that are agents (default: the run's, else AGENT_KINDS).
        problems: skipped lines to list in ``skipped_lines`` (read after the events).
        run_id: used when the events have no run_start line.
        prices: prices for LLM spans that recorded usage but no cost (default: shipped).

    Returns:
        The summary.
    """
    fold = SummaryFold(agent_kinds=agent_kinds, prices=prices, run_id=run_id)
    fold.extend(events)
    fold.note_problems(problems)
    return fold.result()


def summarize_file(
    path: str | os.PathLike[str],
    *,
    agent_kinds: Iterable[str] | None = None,
    prices: PriceTable | None = None,
    report_problems: bool = True,
) -> RunSummary:
    """Read a telemetry.jsonl (bad lines reported and skipped) and fold it, streaming.

    Args:
        path: the file.
        agent_kinds: see :func:`summarize`.
        prices: see :func:`summarize`.
        report_problems: also log each skipped line, as ``file:line: why``
            (they are in ``skipped_lines`` either way).

    Returns:
        The summary; its run id defaults to the name of the file's directory.
    """
    fold = SummaryFold(agent_kinds=agent_kinds, prices=prices, run_id=Path(path).parent.name)
    tail = JsonlTail(path)
    name = str(path)
    for batch in tail.batches(final=True):
        fold.extend(batch, file=name, lines=tail.batch_lines)
    fold.note_problems(tail.problems)
    fold.cover(tail.offset)
    if report_problems:
        report_skipped(sorted([*tail.problems, *fold.problems], key=lambda p: p.line))
    return fold.result()


def report_skipped(problems: Sequence[LineProblem]) -> None:
    """Log skipped lines once, as ``file:line: why`` (the first five, and how many more).

    Args:
        problems: the lines a reader skipped.
    """
    if problems:
        shown = "; ".join(str(problem) for problem in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        report(f"skipped {len(problems)} malformed line(s): {shown}{more}")


def write_summary(summary: RunSummary, path: str | os.PathLike[str]) -> None:
    """Write ``run_summary.json`` atomically (write a temp file, then rename).

    Args:
        summary: the summary.
        path: where to write it.
    """
    write_atomic(path, orjson.dumps(summary.to_dict(), option=orjson.OPT_INDENT_2) + b"\n")
