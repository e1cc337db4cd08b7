"""Swimlanes: one lane per agent span, with its phase, times, status and subtree sums.

The dashboard draws these as a Gantt chart. The subtree sums (tokens, tool
uses, cost) are the summary's ``agents`` cards, so a lane always agrees with
``run_summary.json``. This fold adds what the cards do not hold: the name of
the agent's nearest ``phase`` ancestor, its start and end times, and its error;
the planned agents not started yet (``span_planned`` lines, as queued lanes);
the spans still open; the run's ``run_start`` line; and the token burn rate
(:meth:`LanesFold.burn`), which the dashboard shows as it is computed here, live
and reopened alike.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from spanline.folds._plans import PlanMatcher
from spanline.folds._summary_model import RunSummary

__all__ = ["BURN_WINDOW_S", "LanesFold", "lanes"]

_PHASE = "phase"
#: The burn rate's rolling window, in seconds.
BURN_WINDOW_S = 30
#: Most points of the burn rate's history (``burn()["series"]``).
_SERIES_POINTS = 150
#: Timestamps outside this range are not times (the summary skips such lines too).
_TS_MAX = 1e11


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
        # Spans started and not ended: span_id -> {span_id, parent, name, kind, start_ts}.
        self._open: dict[str, dict[str, Any]] = {}
        self._run_start: dict[str, Any] | None = None
        # Plans not fulfilled yet, in plan order: plan_id -> its queued lane.
        self._plans: dict[str, dict[str, Any]] = {}
        self._matcher = PlanMatcher()
        # span_id -> the plan it fulfilled.
        self._plan_of: dict[str, str] = {}
        # Whole second -> tokens of the span_end lines of that second (the burn rate).
        self._burn: dict[int, float] = {}
        self._first_ts: float | None = None
        self._last_ts: float | None = None

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
                ts = _time_of(event.get("ts"))
                if ts is not None:
                    self._time(ts)
                if tag == "span_start":
                    span_id, parent = event.get("span_id"), event.get("parent")
                    # The summary skips (and reports) a line with ids of the wrong type.
                    if isinstance(span_id, str) and (parent is None or isinstance(parent, str)):
                        self._start(span_id, event)
                elif tag == "span_end":
                    span_id = event.get("span_id")
                    if isinstance(span_id, str):
                        self._open.pop(span_id, None)
                        error = event.get("error")
                        self._ends[span_id] = (
                            event.get("ts"),
                            event.get("status"),
                            dict(error) if isinstance(error, Mapping) else None,
                        )
                        self._tokens(event)
                elif tag == "span_planned":
                    self._plan(event)
                elif tag == "run_start" and self._run_start is None:
                    self._run_start = dict(event)

    def _time(self, ts: float) -> None:
        if self._first_ts is None or ts < self._first_ts:
            self._first_ts = ts
        if self._last_ts is None or ts > self._last_ts:
            self._last_ts = ts

    def _tokens(self, event: Mapping[str, Any]) -> None:
        """A span_end's own ``tokens`` go to the second it ended in."""
        tokens, ts = event.get("tokens"), _time_of(event.get("ts"))
        if type(tokens) not in (int, float) or not tokens or not math.isfinite(tokens):
            return
        if ts is None:
            return
        second = math.floor(ts)
        self._burn[second] = self._burn.get(second, 0) + tokens

    def burn(self, now: float | None = None) -> dict[str, Any]:
        """The token burn rate: tokens per minute over the last :data:`BURN_WINDOW_S` s.

        The tokens are the ``tokens`` counters of the ``span_end`` lines (each span's
        own, so every token of the run counts once), by the whole second the span
        ended in; the rate at time ``t`` sums the seconds in ``(t - 30, t]``.

        Args:
            now: the time of the rate (Unix seconds); None (a run that is over, or a
                reader with no clock): the latest time folded, so equal logs give
                equal figures.

        Returns:
            ``{window_s, tokens_per_min, at, series}``: the rate at ``at`` (the time
            used), and its history from the first line to ``at`` as at most 150
            ``[second, tokens_per_min]`` points.
        """
        with self._lock:
            last = self._last_ts
            at = last if now is None else max(now, last if last is not None else now)
            if at is None or self._first_ts is None:
                return {"window_s": BURN_WINDOW_S, "tokens_per_min": 0, "at": None, "series": []}
            seconds = sorted(self._burn)
            sums = [0.0]  # sums[i]: the tokens of the first i seconds
            for second in seconds:
                sums.append(sums[-1] + self._burn[second])

        def rate(t: float) -> int:
            # The seconds s with t - window < s <= t, by bisection: a long run stays cheap.
            high = bisect.bisect_right(seconds, t)
            low = bisect.bisect_right(seconds, t - BURN_WINDOW_S)
            return round((sums[high] - sums[low]) * 60 / BURN_WINDOW_S)

        start, end = math.floor(self._first_ts), math.floor(at)
        step = max(1, math.ceil((end - start) / _SERIES_POINTS))
        return {
            "window_s": BURN_WINDOW_S,
            "tokens_per_min": rate(at),
            "at": at,
            "series": [[t, rate(t)] for t in range(start, end + 1, step)],
        }

    def _start(self, span_id: str, event: Mapping[str, Any]) -> None:
        parent = event.get("parent")
        self._parents[span_id] = parent
        self._starts[span_id] = event.get("ts")
        if event.get("kind") == _PHASE:
            self._phase_names[span_id] = event.get("name")
        self._open[span_id] = {
            "span_id": span_id,
            "parent": parent,
            "name": event.get("name"),
            "kind": event.get("kind"),
            "start_ts": event.get("ts"),
        }
        if self._plans:
            self._match_plan(span_id, parent, event)

    def _plan(self, event: Mapping[str, Any]) -> None:
        """A ``span_planned`` line: a queued lane until a span fulfils it."""
        plan_id, name = event.get("plan_id"), event.get("name")
        if not isinstance(plan_id, str) or not isinstance(name, str):
            return
        parent = event.get("parent")
        if not isinstance(parent, str):
            parent = None
        attributes = event.get("attributes")
        phase = attributes.get("phase") if isinstance(attributes, Mapping) else None
        self._plans[plan_id] = {
            "span_id": plan_id,
            "plan_id": plan_id,
            "name": name,
            "kind": event.get("kind"),
            "parent": parent,
            "agent_id": None,
            "phase": phase if isinstance(phase, str) else self._phase_at(parent),
            "start_ts": None,
            "end_ts": None,
            "status": "queued",
            "tokens": 0,
            "tool_uses": 0,
            "cost_usd": 0,
            "error": None,
        }
        self._matcher.add(plan_id, name, parent)

    def _match_plan(self, span_id: str, parent: Any, event: Mapping[str, Any]) -> None:
        """Fulfil the plan the span names (attribute ``plan_id``), else the first plan
        of its name whose parent is one of the span's ancestors (any, if it has none)."""
        attributes = event.get("attributes")
        explicit = attributes.get("plan_id") if isinstance(attributes, Mapping) else None
        plan_id = self._matcher.match(event.get("name"), explicit, parent, self._parents.get)
        if plan_id is not None:
            self._plans.pop(plan_id, None)
            self._plan_of[span_id] = plan_id

    @property
    def run_start(self) -> dict[str, Any] | None:
        """The run's ``run_start`` line (the first one folded), or None."""
        with self._lock:
            return None if self._run_start is None else dict(self._run_start)

    def open_spans(self) -> list[dict[str, Any]]:
        """The spans started and not ended, in start order.

        Returns:
            ``[{span_id, parent, name, kind, start_ts}]``.
        """
        with self._lock:
            return [dict(span) for span in self._open.values()]

    def result(self, summary: RunSummary | Mapping[str, Any]) -> list[dict[str, Any]]:
        """The lanes, in the order of the summary's agents (start order).

        Args:
            summary: the :class:`~spanline.folds.RunSummary` (or its dict) of the
                same events.

        Returns:
            One dict per agent span: ``{span_id, name, kind, agent_id, phase,
            start_ts, end_ts, status, tokens, tool_uses, cost_usd, error,
            plan_id}``; ``end_ts``, ``status`` and ``error`` are None while it
            runs, ``plan_id`` is the plan it fulfilled (or None). Then one per
            plan not fulfilled yet: ``{span_id: plan_id, plan_id, name, kind,
            parent, status: "queued", start_ts: None, end_ts: None, tokens: 0,
            tool_uses: 0, cost_usd: 0, phase, agent_id: None, error: None}``,
            where ``phase`` is the plan's attribute ``phase``, else the phase
            its parent is in.
        """
        data = summary.to_dict() if isinstance(summary, RunSummary) else summary
        with self._lock:
            memo: dict[Any, Any] = {}  # span -> its phase: nested agents cost linear time
            started = [self._lane(agent, memo) for agent in data.get("agents", ())]
            return started + [dict(plan) for plan in self._plans.values()]

    def agent_of(
        self, span_ids: Iterable[str], summary: RunSummary | Mapping[str, Any]
    ) -> dict[str, str]:
        """The lane (agent span) each span belongs to: itself or its nearest agent ancestor.

        Args:
            span_ids: the spans asked about (say, those of the summary's ``errors``).
            summary: the summary of the same events (its ``agents`` are the lanes).

        Returns:
            ``{span_id: agent span_id}`` for each span inside some agent's subtree.
        """
        data = summary.to_dict() if isinstance(summary, RunSummary) else summary
        agents = {str(agent.get("span_id")) for agent in data.get("agents", ())}
        found: dict[str, str] = {}
        with self._lock:
            for span_id in span_ids:
                at: Any = span_id
                seen: set[Any] = set()
                while at is not None and at not in seen:
                    if at in agents:
                        found[span_id] = at
                        break
                    seen.add(at)
                    at = self._parents.get(at)
        return found

    def _lane(self, agent: Mapping[str, Any], memo: dict[Any, Any]) -> dict[str, Any]:
        span_id = str(agent.get("span_id"))
        end_ts, status, error = self._ends.get(span_id, (None, None, None))
        return {
            "span_id": span_id,
            "name": agent.get("name"),
            "kind": agent.get("kind"),
            "agent_id": agent.get("agent_id"),
            "phase": self._phase_at(self._parents.get(span_id), {span_id}, memo),
            "start_ts": self._starts.get(span_id),
            "end_ts": end_ts,
            "status": status if status is not None else agent.get("status"),
            "tokens": agent.get("tokens", 0),
            "tool_uses": agent.get("tool_uses", 0),
            "cost_usd": agent.get("cost_usd", 0.0),
            "error": error,
            "plan_id": self._plan_of.get(span_id),
        }

    def _phase_at(
        self, span_id: Any, seen: set[Any] | None = None, memo: dict[Any, Any] | None = None
    ) -> Any:
        """The name of ``span_id`` if it is a phase, else of its closest phase ancestor.

        ``memo`` keeps the answer for every span passed on the way (``seen`` stops a
        cycle in parent links), so the lanes of nested agents cost linear time.
        """
        seen = set() if seen is None else seen
        memo = {} if memo is None else memo
        passed = []
        found = None
        while span_id is not None and span_id not in seen:
            if span_id in self._phase_names:
                found = self._phase_names[span_id]
                break
            if span_id in memo:
                found = memo[span_id]
                break
            seen.add(span_id)
            passed.append(span_id)
            span_id = self._parents.get(span_id)
        for each in passed:
            memo[each] = found
        return found


def _time_of(value: Any) -> float | None:
    """A line's ``ts`` when it is a time (a number from 0 to 1e11), else None."""
    if type(value) not in (int, float) or not 0 <= value <= _TS_MAX:
        return None
    return float(value)


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
