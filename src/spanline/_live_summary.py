"""run_summary.json for a live run: folded from telemetry.jsonl on a thread of its own."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from spanline._report import report
from spanline._runs import Run

if TYPE_CHECKING:
    from spanline.folds.summary import RunSummary

__all__ = ["LiveSummary"]


class LiveSummary:
    """Keeps a run's summary up to date and writes it at the end.

    Args:
        run: the run whose telemetry.jsonl is folded.
        interval: seconds between rewrites of run_summary.json while live
            (0: only at the end).
        agent_kinds: span kinds counted as agents.
        prices: the session's price table (None: the shipped one).
    """

    def __init__(
        self, run: Run, *, interval: float, agent_kinds: Iterable[str], prices: Any
    ) -> None:
        self.run = run
        self.interval = interval
        self.agent_kinds = frozenset(agent_kinds)
        self.prices = prices

    def start(self) -> None:
        """Begin folding in the background."""

    def finish(self) -> RunSummary | None:
        """Fold what is left, write run_summary.json, and return the summary."""
        try:
            from spanline.folds.summary import summarize_file, write_summary

            summary = summarize_file(self.run.telemetry_path, prices=self.prices)
            write_summary(summary, self.run.summary_path)
            return summary
        except Exception as exc:  # the events are safe on disk; the summary can be re-folded
            report("could not write run_summary.json", exc=exc)
            return None
