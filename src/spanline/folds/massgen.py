"""MassGen-style artifacts of a run, folded from its coordination events and agent spans.

A run that records coordination events (``spanline.coordination``) gets the
files MassGen's logs have, computed from ``telemetry.jsonl`` alone:

* ``coordination_events.json``: ``[{event_id: "E1", timestamp, agent_id, event_type, data}]``;
* ``vote.json``: ``{votes, final_votes, vote_counts, winner, consensus_reached}``, only
  for a run with votes;
* ``coordination_table.txt``: one column per agent, summary statistics at the bottom;
* ``agent_<id>/<YYYYMMDD_HHMMSS_NNNNNN>/``: one directory per answer, vote or final
  answer, with ``answer.txt`` (or ``vote.txt``), ``context.txt`` and ``execution_trace.md``;
* ``agent_outputs/``: each agent's last answer, and the final presentation.

:class:`MassgenFold` is incremental like the summary fold: coordination events
are few, and of the agents' spans it keeps only those since each agent's last
step (at most ``max_trace_entries`` per agent), so it can ride along a live run.
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from spanline._lines._fileio import write_atomic
from spanline.folds._massgen_render import (
    coordination_table,
    execution_trace,
    iso_timestamp,
    step_texts,
)
from spanline.folds._votes import vote_summary

__all__ = [
    "COORDINATION_EVENT_TYPES",
    "Answer",
    "CoordinationEvent",
    "MassgenArtifacts",
    "MassgenFold",
    "Step",
    "TraceEntry",
    "agent_directory",
    "iso_timestamp",
    "vote_summary",
    "write_artifacts",
    "write_massgen_artifacts",
]

#: The coordination event names (a copy of ``spanline.coordination.EVENT_TYPES``:
#: folds may not import the decorators layer; a test keeps the two equal).
COORDINATION_EVENT_TYPES = (
    "started_streaming",
    "new_answer",
    "vote",
    "restart",
    "restart_completed",
    "final_answer",
    "winner_selected",
)
_COORDINATION = frozenset(COORDINATION_EVENT_TYPES)
#: Events that close an agent's step (a directory of its own).
_STEP_EVENTS = frozenset({"new_answer", "vote", "final_answer"})
_ANSWER_EVENTS = frozenset({"new_answer", "final_answer"})
#: Attributes that identify the agent rather than describe the event.
_IDENTITY_KEYS = frozenset({"agent_id", "gen_ai.agent.id", "gen_ai.agent.name"})


def _step_stamp(ts: float) -> str:
    """MassGen's step directory name: ``YYYYMMDD_HHMMSS_NNNNNN`` (UTC)."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y%m%d_%H%M%S_%f")


def agent_directory(agent_id: str) -> str:
    """The directory of an agent: its id when it reads ``agent…``, else ``agent_<id>``.

    Characters outside ``[A-Za-z0-9._-]`` become ``-`` so an id never leaves the run.
    """
    name = agent_id if agent_id.startswith("agent") else f"agent_{agent_id}"
    name = re.sub(r"[^A-Za-z0-9._-]", "-", name)
    return "agent_-" if name.strip(".") == "" else name


@dataclass(frozen=True)
class CoordinationEvent:
    """One coordination event, numbered in file order (``E1``, ``E2``…)."""

    event_id: str
    ts: float
    agent_id: str | None
    event_type: str
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The ``coordination_events.json`` entry."""
        return {
            "event_id": self.event_id,
            "timestamp": iso_timestamp(self.ts),
            "agent_id": self.agent_id,
            "event_type": self.event_type,
            "data": self.data,
        }


@dataclass(frozen=True)
class Answer:
    """An answer some agent gave (``new_answer`` or ``final_answer``)."""

    label: str | None
    agent_id: str | None
    ts: float
    content: str
    final: bool = False


@dataclass(frozen=True)
class TraceEntry:
    """One finished span of an agent, as its execution trace shows it."""

    kind: str  # "tool", "llm" or "span"
    name: str
    ts: float
    status: str
    args: str | None
    result: str | None
    error: str | None
    round_number: Any = None
    round_type: Any = None
    model: str | None = None


@dataclass
class Step:
    """An agent's answer, vote or final answer, with what led to it."""

    agent_id: str
    event: CoordinationEvent
    entries: list[TraceEntry]
    omitted: int  # earlier entries dropped by the per-agent bound
    context: list[Answer]  # the other agents' earlier answers
    directory: str = ""  # set by the fold: agent_<id>/<stamp>


@dataclass
class MassgenArtifacts:
    """Everything the MassGen-style files are made of."""

    run_id: str | None
    query: str | None
    events: list[CoordinationEvent]
    agents: list[str]
    answers: list[Answer]
    steps: list[Step]
    vote: dict[str, Any] = field(default_factory=dict)

    def coordination_events(self) -> list[dict[str, Any]]:
        """The ``coordination_events.json`` list."""
        return [event.to_dict() for event in self.events]

    def agent_outputs(self) -> dict[str, str]:
        """``agent_outputs/`` file name → text: each agent's last answer, and the final one."""
        outputs: dict[str, str] = {}
        for answer in self.answers:
            if answer.agent_id is not None:
                outputs[f"{agent_directory(answer.agent_id)}.txt"] = answer.content
                if answer.final:
                    name = f"final_presentation_{agent_directory(answer.agent_id)}.txt"
                    outputs[name] = answer.content
        return outputs


class MassgenFold:
    """Incremental reducer from events to :class:`MassgenArtifacts`.

    Args:
        max_trace_entries: spans kept per agent between two of its steps (older
            ones are counted, not kept), so a long run stays in bounded memory.
    """

    def __init__(self, *, max_trace_entries: int = 1000) -> None:
        self._max = max_trace_entries
        self._events: list[CoordinationEvent] = []
        self._answers: list[Answer] = []
        self._steps: list[Step] = []
        self._open: dict[Any, Mapping[str, Any]] = {}
        self._pending: dict[Any, deque[tuple[Mapping[str, Any], Mapping[str, Any]]]] = {}
        self._active: set[Any] = set()  # agent ids seen in coordination events
        self._omitted: dict[Any, int] = {}
        self._run_id: str | None = None
        self._query: str | None = None

    @property
    def has_events(self) -> bool:
        """Whether any coordination event was folded."""
        return bool(self._events)

    def extend(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Fold events in file order (any chunking gives the same result)."""
        for event in events:
            self.add(event)

    def add(self, event: Mapping[str, Any]) -> None:
        """Fold one event.

        Spans cost a lookup or two: only those of agents that have recorded a
        coordination event are kept, so a run without any keeps nothing.
        """
        tag = event.get("event")
        if tag == "span_start":
            attributes = event.get("attributes")
            if attributes.__class__ is dict:  # lines from other producers may be odd
                agent = attributes.get("gen_ai.agent.id")
                span_id = event.get("span_id")
                if agent.__class__ is str and agent in self._active and span_id.__class__ is str:
                    self._open[span_id] = event
        elif tag == "span_end":
            span_id = event.get("span_id")
            if self._open and span_id.__class__ is str:
                start = self._open.pop(span_id, None)
                if start is not None:
                    self._finish_span(start, event)
        elif tag == "event":
            name = event.get("name")
            if name.__class__ is str and name in _COORDINATION:
                self._coordination(event)
        elif tag == "run_start":
            self._run_id = event.get("run_id")
            query = event.get("query")
            self._query = None if query is None else str(query)

    def _finish_span(self, start: Mapping[str, Any], end: Mapping[str, Any]) -> None:
        agent_id = start["attributes"]["gen_ai.agent.id"]
        pending = self._pending.get(agent_id)
        if pending is None:
            pending = self._pending[agent_id] = deque(maxlen=self._max)
        if len(pending) == self._max:
            self._omitted[agent_id] = self._omitted.get(agent_id, 0) + 1
        pending.append((start, end))  # made into a TraceEntry at the agent's next step

    def _coordination(self, event: Mapping[str, Any]) -> None:
        attributes = dict(event.get("attributes") or {})
        agent_id = attributes.get("agent_id") or attributes.get("gen_ai.agent.id")
        agent_id = None if agent_id is None else str(agent_id)
        data = {k: v for k, v in attributes.items() if k not in _IDENTITY_KEYS}
        content = data.pop("content.value", None)
        preview = data.pop("content.preview", None)
        if content is not None or preview is not None:
            data["content"] = content if content is not None else preview
        ts = float(event.get("ts") or 0.0)
        name = str(event.get("name"))
        record = CoordinationEvent(f"E{len(self._events) + 1}", ts, agent_id, name, data)
        self._events.append(record)
        if agent_id is None:
            return
        self._active.add(agent_id)
        if name not in _STEP_EVENTS:
            return
        context = [a for a in self._answers if a.agent_id != agent_id]
        pairs = self._pending.pop(agent_id, ())
        entries = [_entry(start, end) for start, end in pairs]
        omitted = self._omitted.pop(agent_id, 0)
        self._steps.append(Step(agent_id, record, [e for e in entries if e], omitted, context))
        if name in _ANSWER_EVENTS:
            label = data.get("label")
            text = _text(data.get("content", ""))
            final = name == "final_answer"
            self._answers.append(Answer(label, agent_id, ts, text, final))

    def result(self) -> MassgenArtifacts:
        """The artifacts of the events folded so far."""
        agents: list[str] = []
        for event in self._events:
            if event.agent_id is not None and event.agent_id not in agents:
                agents.append(event.agent_id)
        taken: set[str] = set()
        for step in self._steps:
            directory = f"{agent_directory(step.agent_id)}/{_step_stamp(step.event.ts)}"
            unique, number = directory, 1
            while unique in taken:
                number += 1
                unique = f"{directory}_{number}"
            taken.add(unique)
            step.directory = unique
        return MassgenArtifacts(
            run_id=self._run_id,
            query=self._query,
            events=list(self._events),
            agents=agents,
            answers=list(self._answers),
            steps=list(self._steps),
            vote=vote_summary(self._events, self._answers),
        )


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_INDENT_2, default=repr).decode()


def _first(attributes: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = attributes.get(key)
        if value is not None:
            return _text(value)
    return None


def _entry(start: Mapping[str, Any], end: Mapping[str, Any]) -> TraceEntry | None:
    attributes = {**(start.get("attributes") or {}), **(end.get("attributes") or {})}
    if attributes.get("gen_ai.operation.name") == "invoke_agent":
        return None  # an agent's own span: its steps are the trace
    kind = str(start.get("kind") or "")
    name = str(start.get("name") or "")
    if kind == "tool" or "tool.name" in attributes:
        kind, name = "tool", str(attributes.get("tool.name") or name)
    elif kind != "llm":
        kind = "span"
    error = end.get("error")
    message = None
    if isinstance(error, Mapping):
        message = f"{error.get('type')}: {error.get('message')}"
    elif end.get("status") == "error":
        message = _first(attributes, "tool.error_message") or "error"
    return TraceEntry(
        kind=kind,
        name=name,
        ts=float(start.get("ts") or 0.0),
        status=str(end.get("status") or "ok"),
        args=_first(attributes, "input.value", "tool.arguments_preview", "input.preview"),
        result=_first(attributes, "output.value", "tool.output_preview", "output.preview"),
        error=message,
        round_number=attributes.get("round_number"),
        round_type=attributes.get("round_type"),
        model=_first(attributes, "gen_ai.request.model", "llm.model"),
    )


def write_artifacts(artifacts: MassgenArtifacts, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write the MassGen-style files of ``artifacts`` under ``out_dir``.

    JSON files and the table are replaced atomically. Returns the paths written.
    """
    out = Path(out_dir)
    written: list[Path] = []

    def put(relative: str, text: str) -> None:
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text.encode())
        written.append(path)

    events = orjson.dumps(artifacts.coordination_events(), option=orjson.OPT_INDENT_2)
    put("coordination_events.json", events.decode() + "\n")
    if artifacts.vote.get("votes"):  # a run where nobody voted has no vote.json
        put("vote.json", orjson.dumps(artifacts.vote, option=orjson.OPT_INDENT_2).decode() + "\n")
    put("coordination_table.txt", coordination_table(artifacts))
    for step in artifacts.steps:
        for name, text in step_texts(step).items():
            put(f"{step.directory}/{name}", text)
        put(f"{step.directory}/execution_trace.md", execution_trace(step))
    for name, text in artifacts.agent_outputs().items():
        put(f"agent_outputs/{name}", text if text.endswith("\n") else text + "\n")
    return written


def write_massgen_artifacts(
    events: Iterable[Mapping[str, Any]], out_dir: str | os.PathLike[str]
) -> list[Path]:
    """Fold ``events`` (a run's, in file order) and write its MassGen-style files.

    Args:
        events: the run's events, e.g. ``spanline.folds.read_events(path)[0]``.
        out_dir: where to write (a run directory, say); created if needed.

    Returns:
        The paths written.
    """
    fold = MassgenFold()
    fold.extend(events)
    return write_artifacts(fold.result(), out_dir)
