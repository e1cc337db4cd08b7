"""Swimlanes: one lane per agent span, with its phase, times, status and subtree sums.

The dashboard draws these as a Gantt chart. The subtree sums (tokens, tool
uses, cost) are the summary's ``agents`` cards, so a lane always agrees with
``run_summary.json``. This fold adds what the cards do not hold: the name of
the agent's nearest ``phase`` ancestor, its start and end times, and its error.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from spanline.folds._summary_model import RunSummary

__all__ = ["LanesFold", "lanes"]

_PHASE = "phase"


class LanesFold:
    """An incremental reducer from events to lanes (see :func:`lanes`).

    Feed it the same events as a :class:`~spanline.folds.SummaryFold`, in any
    chunking; :meth:`result` joins what it saw with that fold's summary.
    """

    def __init__(self) -> None:
        """Start an empty fold."""
        self._lock = threading.Lock()
        # Every span: its parent (phase ancestors are looked up through it).
        self._parents: dict[str, Any] = {}
        self._phase_names: dict[str, Any] = {}
        self._starts: dict[str, Any] = {}
        # span_id -> (end ts, status, error)
        self._ends: dict[str, tuple[Any, Any, Any]] = {}

    def add(self, event: Mapping[str, Any]) -> None:
        """Fold one event.

        Args:
            event: one decoded line of telemetry.jsonl.
        """
        self.extend((event,))

    def extend(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Fold many events.

        Args:
            events: decoded lines, in file order.
        """
        with self._lock:
            for event in events:
                tag = event.get("event")
                if tag == "span_start":
                    span_id = event.get("span_id")
                    if isinstance(span_id, str):
                        self._parents[span_id] = event.get("parent")
                        self._starts[span_id] = event.get("ts")
                        if event.get("kind") == _PHASE:
                            self._phase_names[span_id] = event.get("name")
                elif tag == "span_end":
                    span_id = event.get("span_id")
                    if isinstance(span_id, str):
                        error = event.get("error")
                        self._ends[span_id] = (
                            event.get("ts"),
                            event.get("status"),
                            dict(error) if isinstance(error, Mapping) else None,
                        )

    def result(self, summary: RunSummary | Mapping[str, Any]) -> list[dict[str, Any]]:
        """The lanes, in the order of the summary's agents (start order).

        Args:
            summary: the :class:`~spanline.folds.RunSummary` (or its dict) of the
                same events.

        Returns:
            One dict per agent span: ``{span_id, name, kind, agent_id, phase,
            start_ts, end_ts, status, tokens, tool_uses, cost_usd, error}``;
            ``end_ts``, ``status`` and ``error`` are None while it runs.
        """
        data = summary.to_dict() if isinstance(summary, RunSummary) else summary
        with self._lock:
            return [self._lane(agent) for agent in data.get("agents", ())]

    def _lane(self, agent: Mapping[str, Any]) -> dict[str, Any]:
        span_id = str(agent.get("span_id"))
        end_ts, status, error = self._ends.get(span_id, (None, None, None))
        return {
            "span_id": span_id,
            "name": agent.get("name"),
            "kind": agent.get("kind"),
            "agent_id": agent.get("agent_id"),
            "phase": self._phase_of(span_id),
            "start_ts": self._starts.get(span_id),
            "end_ts": end_ts,
            "status": status if status is not None else agent.get("status"),
            "tokens": agent.get("tokens", 0),
            "tool_uses": agent.get("tool_uses", 0),
            "cost_usd": agent.get("cost_usd", 0.0),
            "error": error,
        }

    def _phase_of(self, span_id: Any) -> Any:
        """The name of the closest ancestor of kind ``phase``, or None."""
        seen = {span_id}
        parent = self._parents.get(span_id)
        while parent is not None and parent not in seen:
            if parent in self._phase_names:
                return self._phase_names[parent]
            seen.add(parent)
            parent = self._parents.get(parent)
        return None


def lanes(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The lanes of a whole run at once (see :meth:`LanesFold.result`).

    Args:
        events: the run's decoded lines, in file order.

    Returns:
        One dict per agent span.
    """
    from spanline.folds._summary_fold import SummaryFold

    items = list(events)
    summary = SummaryFold()
    summary.extend(items)
    fold = LanesFold()
    fold.extend(items)
    return fold.result(summary.result())
