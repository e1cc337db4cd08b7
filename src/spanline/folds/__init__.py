"""Folds: pure functions from events to results. They never touch the tracer."""

from __future__ import annotations

from spanline.folds.events import LineProblem, read_events
from spanline.folds.summary import RunSummary, summarize, summarize_file

__all__ = ["LineProblem", "RunSummary", "read_events", "summarize", "summarize_file"]
