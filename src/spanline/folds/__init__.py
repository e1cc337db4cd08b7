"""Folds: pure functions and reducers from events to results. They never touch the tracer."""

from __future__ import annotations

from spanline.folds.events import JsonlTail, LineProblem, read_events
from spanline.folds.massgen import MassgenFold, write_massgen_artifacts
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
    "MassgenFold",
    "RunSummary",
    "SummaryFold",
    "read_events",
    "summarize",
    "summarize_file",
    "write_massgen_artifacts",
    "write_summary",
]
