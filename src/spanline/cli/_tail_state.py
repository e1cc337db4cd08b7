"""What ``spanline tail`` knows of a run: the dashboard's folds, fed batch by batch.

The summary and lanes folds are the ones the dashboard uses; this module adds
only what a terminal needs on top: each agent's state transitions, told from
the times the folds keep (a plan's time, a lane's start and end, a stall's
start), so an agent that started and ended between two reads still shows each
state it went through; and each agent's last tool.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spanline._runs._liveness import WRITER_EVENTS, track_writer
from spanline.folds import SummaryFold
from spanline.folds.lanes import LanesFold

__all__ = ["TailState", "Transition", "lane_state"]


@dataclass(frozen=True)
class Transition:
    """An agent entering a state at a time (``detail`` says more, for done and failed)."""

    ts: float
    agent: str
    state: str  # queued, running, done, failed, stalled, recovered
    detail: str = ""


def lane_state(lane: Mapping[str, Any], stalled: set[str]) -> str:
    """The state a lane is in: queued, running, stalled, done or failed."""
    status = lane.get("status")
    if status == "queued":
        return "queued"
    if lane.get("end_ts") is None:
        return "stalled" if lane.get("span_id") in stalled else "running"
    return "failed" if status == "error" else "done"


class TailState:
    """Folds a run's lines as they come and tells what changed."""

    def __init__(self) -> None:
        self.summary = SummaryFold()
        self.lanes = LanesFold()
        self.writers: dict[int, Any] = {}
        self._planned_at: dict[str, float] = {}  # plan id -> its span_planned time
        self._tool_starts: dict[str, tuple[float, str]] = {}  # tool span -> (ts, name)
        self._seen: dict[str, set[str]] = {}  # lane -> states already told
        self._queued_told: set[str] = set()  # plans whose queued state was told
        self._stalls_seen: set[tuple[str, bool]] = set()
        self.current: list[dict[str, Any]] = []
        self.summary_dict: dict[str, Any] = {}
        self.last_tool: dict[str, str] = {}

    def feed(self, batch: Sequence[Mapping[str, Any]]) -> list[Transition]:
        """Fold a batch of lines; return the transitions it revealed, in time order."""
        for event in batch:
            tag = event.get("event")
            if tag in WRITER_EVENTS:
                track_writer(self.writers, event)
            elif tag == "span_planned" and isinstance(event.get("ts"), (int, float)):
                self._planned_at[str(event.get("plan_id"))] = float(event["ts"])
            elif tag == "span_start" and event.get("kind") == "tool":
                name = str(event.get("name") or "")
                ts = event.get("ts")
                start = float(ts) if isinstance(ts, (int, float)) else 0.0
                self._tool_starts[str(event.get("span_id"))] = (start, name.removeprefix("tool."))
        self.summary.extend(batch)
        self.lanes.extend(batch)
        self.summary_dict = self.summary.result().to_dict()
        self.current = self.lanes.result(self.summary_dict)
        self._update_tools()
        return self._transitions()

    def _update_tools(self) -> None:
        if not self._tool_starts:
            return
        owners = self.lanes.agent_of(self._tool_starts, self.summary_dict)
        latest: dict[str, tuple[float, str]] = {}
        for span_id, agent in owners.items():
            ts, name = self._tool_starts[span_id]
            if agent not in latest or ts >= latest[agent][0]:
                latest[agent] = (ts, name)
        self.last_tool.update({agent: name for agent, (_, name) in latest.items()})

    def _transitions(self) -> list[Transition]:
        found: list[Transition] = []
        for lane in self.current:
            seen = self._seen.setdefault(str(lane.get("span_id")), set())
            told = _Teller(str(lane.get("name")), seen, found)
            plan = lane.get("plan_id")
            if plan is not None and str(plan) not in self._queued_told:
                self._queued_told.add(str(plan))  # its queued lane and its started one share it
                told("queued", self._planned_at.get(str(plan)), _phase(lane))
            if lane.get("start_ts") is not None:
                told("running", lane.get("start_ts"), _phase(lane))
            if lane.get("end_ts") is not None:
                state = "failed" if lane.get("status") == "error" else "done"
                told(state, lane.get("end_ts"), _ended(lane))
        found.extend(self._stall_transitions())
        return sorted(found, key=lambda transition: transition.ts)

    def _stall_transitions(self) -> list[Transition]:
        found = []
        names = {str(lane.get("span_id")): str(lane.get("name")) for lane in self.current}
        for stall in self.summary_dict.get("stalls", ()):
            span_id, since = str(stall.get("span_id")), stall.get("since_ts")
            if span_id not in names or not isinstance(since, (int, float)):
                continue
            if (span_id, False) not in self._stalls_seen:
                self._stalls_seen.add((span_id, False))
                silent = f"silent {stall.get('stalled_ms', 0) / 1000:.1f}s"
                found.append(Transition(float(since), names[span_id], "stalled", silent))
            if stall.get("recovered") and (span_id, True) not in self._stalls_seen:
                self._stalls_seen.add((span_id, True))
                back = float(since) + float(stall.get("stalled_ms") or 0) / 1000
                found.append(Transition(back, names[span_id], "recovered"))
        return found

    def stalled(self) -> set[str]:
        """The agents stalled now (a stall not recovered)."""
        return {
            str(stall.get("span_id"))
            for stall in self.summary_dict.get("stalls", ())
            if not stall.get("recovered")
        }

    def failed(self) -> bool:
        """The run failed, or one of its agents did."""
        failed_lane = any(lane.get("status") == "error" for lane in self.current)
        return failed_lane or self.summary_dict.get("status") == "error"


@dataclass
class _Teller:
    """Adds one agent's transition to ``found`` the first time its state is told."""

    agent: str
    seen: set[str]
    found: list[Transition]

    def __call__(self, state: str, ts: Any, detail: str = "") -> None:
        if state not in self.seen and isinstance(ts, (int, float)):
            self.seen.add(state)
            self.found.append(Transition(float(ts), self.agent, state, detail))


def _phase(lane: Mapping[str, Any]) -> str:
    return f"in {lane['phase']}" if lane.get("phase") else ""


def _ended(lane: Mapping[str, Any]) -> str:
    start, end = lane.get("start_ts"), lane.get("end_ts")
    parts = []
    if isinstance(start, (int, float)) and isinstance(end, (int, float)):
        parts.append(f"{end - start:.2f}s")
    parts.append(f"{lane.get('tokens') or 0:,} tokens")
    error = lane.get("error")
    if isinstance(error, Mapping):
        parts.append(f"{error.get('type')}: {error.get('message')}")
    return "  ".join(parts)
