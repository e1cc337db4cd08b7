"""Folds: pure functions and reducers from events to results. They never touch the tracer."""

from __future__ import annotations

from spanline.folds.events import JsonlTail, LineProblem, read_events
from spanline.folds.summary import (
    RunSummary,
    SummaryFold,
    summarize,
    summarize_file,
    write_summary,
)

__all__ = [
    "JsonlTail",
    "LineProblem",
    "RunSummary",
    "SummaryFold",
    "read_events",
    "summarize",
    "summarize_file",
    "write_summary",
]
