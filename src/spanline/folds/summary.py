"""The run summary: a pure fold of a run's events into ``run_summary.json``.

Rules (DESIGN.md, contracts 4 and 5):

* Totals are sums over every span_end line (each span's *own* counters).
* A span is an agent iff its kind is in the agent kinds (the run's
  ``run_start.agent_kinds``, else :data:`AGENT_KINDS`) or it was opened by
  ``@traced_agent`` (``gen_ai.operation.name == "invoke_agent"``).
* ``phases`` has one entry per span of kind ``phase``: its duration and the
  number of agents whose nearest phase ancestor it is. ``phase`` events are
  milestones; they fill ``phases`` only when the run has no phase spans.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import orjson
from pydantic import BaseModel, ConfigDict, Field

from spanline._prices import PriceTable, compute_cost
from spanline._report import report
from spanline._usage import usage_from_attributes
from spanline.folds.events import LineProblem, iter_events
from spanline.schema import AGENT_KINDS, RESERVED_END_KEYS

__all__ = ["RunSummary", "is_agent", "summarize", "summarize_file", "write_summary"]

Number = int | float
#: span_end fields that are not counters (no counter may use a span field's name).
_END_FIELDS = RESERVED_END_KEYS


class PhaseSummary(BaseModel):
    """One phase: wall time and agents run inside it (extra keys: milestone counts)."""

    model_config = ConfigDict(extra="allow")
    wall_ms: float
    agents: int | None = None
    incomplete: bool | None = None


class Totals(BaseModel):
    """Run-wide sums."""

    agents_spawned: int = 0
    total_tokens: Number = 0
    total_tool_uses: Number = 0
    analyses_written: Number = 0
    #: Sum of ``gen_ai.usage.cost_usd`` over LLM spans (priced models only).
    cost_usd: float = 0.0
    counters: dict[str, Number] = Field(default_factory=dict)


class AgentSummary(BaseModel):
    """One agent span with the sums of its whole subtree (contract 4)."""

    span_id: str
    name: str | None
    kind: str | None
    agent_id: str | None = None
    status: str | None = None
    duration_ms: float | None = None
    tokens: Number = 0
    tool_uses: Number = 0
    cost_usd: float = 0.0


class SpanError(BaseModel):
    """A span that ended with status ``error``."""

    span_id: str
    name: str | None
    kind: str | None = None
    type: str | None = None
    message: str | None = None


class RunSummary(BaseModel):
    """What ``run_summary.json`` holds (reference 001's fields, plus more)."""

    run_id: str | None = None
    source_repo: str | None = None
    source_commit: str | None = None
    total_wall_ms: float = 0.0
    phases: dict[str, PhaseSummary] = Field(default_factory=dict)
    totals: Totals = Field(default_factory=Totals)
    errors: list[SpanError] = Field(default_factory=list)
    dropped_events: int = 0
    span_count: int = 0
    open_spans: int = 0
    processes: int = 0
    milestones: list[dict[str, Any]] = Field(default_factory=list)
    #: LLM models that reported usage but have no price: their cost is unknown, not 0.
    unpriced_models: list[str] = Field(default_factory=list)
    agents: list[AgentSummary] = Field(default_factory=list)
    #: The first skipped lines (at most 1,000; ``skipped_line_count`` has them all).
    skipped_lines: list[dict[str, Any]] = Field(default_factory=list)
    skipped_line_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; absent phase fields (``agents`` when 0) are omitted."""
        data = self.model_dump(mode="json")
        data["phases"] = {
            name: phase.model_dump(mode="json", exclude_none=True)
            for name, phase in self.phases.items()
        }
        return data


def is_agent(start: Mapping[str, Any], agent_kinds: Iterable[str] = AGENT_KINDS) -> bool:
    """Whether a span_start event opens an agent (the rule of contract 5)."""
    return _agent_rule(start.get("kind"), start.get("attributes"), agent_kinds)


def _agent_rule(kind: Any, attributes: Any, agent_kinds: Iterable[str]) -> bool:
    if kind in agent_kinds:
        return True
    return isinstance(attributes, Mapping) and (
        attributes.get("gen_ai.operation.name") == "invoke_agent"
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_COST = "gen_ai.usage.cost_usd"
_USAGE_KEYS = ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens")
#: The only attributes the fold reads; keeping just these bounds its memory per span.
_KEPT_ATTRIBUTES = frozenset(
    {
        _COST,
        "gen_ai.operation.name",
        "gen_ai.agent.id",
        "gen_ai.request.model",
        "gen_ai.response.model",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.reasoning.output_tokens",
    }
)


def _kept(attributes: Any) -> dict[str, Any] | None:
    if not attributes or not isinstance(attributes, Mapping):
        return None
    kept = {key: attributes[key] for key in _KEPT_ATTRIBUTES.intersection(attributes)}
    return kept or None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _error(value: Any) -> dict[str, Any] | None:
    """Type and message only: the stack trace is not needed for the summary."""
    if not isinstance(value, Mapping):
        return None
    return {"type": _text(value.get("type")), "message": _text(value.get("message"))}


class _Start(NamedTuple):
    """What the fold keeps of a span_start line."""

    parent: Any
    name: Any
    kind: Any
    ts: Any
    attributes: dict[str, Any] | None


class _End(NamedTuple):
    """What the fold keeps of a span_end line."""

    status: Any
    duration_ms: Any
    tokens: Number
    tool_uses: Number
    error: Any
    attributes: dict[str, Any] | None


class _Fold:
    """Accumulates one pass over the events, keeping a few fields per span."""

    def __init__(self) -> None:
        self.starts: dict[str, _Start] = {}
        self.ends: dict[str, _End] = {}
        self.phase_events: list[Mapping[str, Any]] = []
        self.run_start: Mapping[str, Any] | None = None
        self.counters: dict[str, Number] = {}
        self.dropped = 0
        self.pids: set[Any] = set()
        self.first_ts: float | None = None
        self.last_ts: float | None = None

    def add(self, event: Mapping[str, Any]) -> None:
        # Runs once per line of possibly millions: plain comparisons, no helpers.
        ts = event.get("ts")
        if ts.__class__ is float or ts.__class__ is int:
            if self.first_ts is None or ts < self.first_ts:
                self.first_ts = ts
            if self.last_ts is None or ts > self.last_ts:
                self.last_ts = ts
        kind = event.get("event")
        if kind == "span_end":
            span_id = event.get("span_id")
            if span_id.__class__ is str:
                tokens, tools = event.get("tokens"), event.get("tool_uses")
                self.ends[span_id] = _End(
                    _text(event.get("status")),
                    event.get("duration_ms"),
                    tokens if _is_number(tokens) else 0,
                    tools if _is_number(tools) else 0,
                    _error(event.get("error")),
                    _kept(event.get("attributes")),
                )
                counters = self.counters
                for key in event.keys() - _END_FIELDS:
                    value = event[key]
                    if _is_number(value):
                        counters[key] = counters.get(key, 0) + value
        elif kind == "span_start":
            span_id = event.get("span_id")
            if span_id.__class__ is str:
                # Lines from other producers may have odd types: keep only
                # strings where the fold compares or hashes, so it cannot crash.
                self.starts[span_id] = _Start(
                    _text(event.get("parent")),
                    _text(event.get("name")),
                    _text(event.get("kind")),
                    event.get("ts"),
                    _kept(event.get("attributes")),
                )
        elif kind == "phase":
            self.phase_events.append(event)
        elif kind in ("run_start", "process_start"):
            self.pids.add(event.get("pid"))
            if kind == "run_start" and self.run_start is None:
                self.run_start = event
        elif kind == "process_end" and _is_number(event.get("dropped_events")):
            self.dropped += int(event["dropped_events"])

    def nearest_phase(self, span_id: str) -> str | None:
        """The span id of the closest ancestor of kind ``phase``."""
        seen = {span_id}
        parent = self.starts[span_id].parent
        while isinstance(parent, str) and parent in self.starts and parent not in seen:
            if self.starts[parent].kind == "phase":
                return parent
            seen.add(parent)
            parent = self.starts[parent].parent
        return None

    def wall_ms(self, span_id: str) -> tuple[float, bool]:
        """Duration of a span, or time until the last event if it never ended."""
        end = self.ends.get(span_id)
        if end is not None and _is_number(end.duration_ms):
            return float(end.duration_ms), False
        start_ts = self.starts[span_id].ts
        if _is_number(start_ts) and self.last_ts is not None:
            return max(0.0, (self.last_ts - start_ts) * 1000.0), True
        return 0.0, True


_PHASE_EVENT_FIELDS = ("event", "name", "wall_ms", "ts")
_MAX_LISTED_PROBLEMS = 1_000


def _add_phase(phases: dict[str, PhaseSummary], name: str, phase: PhaseSummary) -> None:
    """Repeated phase names (one per round, say) add up instead of overwriting."""
    known = phases.get(name)
    if known is None:
        phases[name] = phase
        return
    known.wall_ms += phase.wall_ms
    if phase.agents:
        known.agents = (known.agents or 0) + phase.agents
    if phase.incomplete:
        known.incomplete = True


def _phase_from_event(event: Mapping[str, Any]) -> PhaseSummary:
    wall = event.get("wall_ms")
    agents = event.get("agents")
    # Caller counts ride along, but never as our own fields (agents="many" would break).
    extras = {
        k: v
        for k, v in event.items()
        if k not in _PHASE_EVENT_FIELDS and k not in PhaseSummary.model_fields
    }
    return PhaseSummary(
        wall_ms=float(wall) if _is_number(wall) else 0.0,
        agents=agents if isinstance(agents, int) and not isinstance(agents, bool) else None,
        **extras,
    )


def _phases(fold: _Fold, agents: list[str]) -> dict[str, PhaseSummary]:
    phases: dict[str, PhaseSummary] = {}
    phase_ids = sorted(
        (sid for sid, start in fold.starts.items() if start.kind == "phase"),
        key=lambda sid: _sort_ts(fold.starts[sid]),
    )
    if not phase_ids:
        for event in fold.phase_events:
            _add_phase(phases, str(event.get("name")), _phase_from_event(event))
        return phases
    counts: dict[str, int] = {}
    for agent in agents:
        phase = fold.nearest_phase(agent)
        if phase is not None:
            counts[phase] = counts.get(phase, 0) + 1
    for sid in phase_ids:
        wall, incomplete = fold.wall_ms(sid)
        summary = PhaseSummary(
            wall_ms=wall, agents=counts.get(sid) or None, incomplete=incomplete or None
        )
        _add_phase(phases, str(fold.starts[sid].name), summary)
    return phases


def _total_wall_ms(fold: _Fold) -> float:
    roots = [sid for sid, start in fold.starts.items() if start.parent not in fold.starts]
    if len(roots) == 1 and roots[0] in fold.ends:
        return fold.wall_ms(roots[0])[0]
    if fold.first_ts is None or fold.last_ts is None:
        return 0.0
    return (fold.last_ts - fold.first_ts) * 1000.0


def _sort_ts(start: _Start) -> float:
    return start.ts if _is_number(start.ts) else 0.0


def _span_cost(attributes: Mapping[str, Any], prices: PriceTable) -> float | str | None:
    """A span's cost: recorded, else computed from its usage; the model name if unpriced."""
    cost = attributes.get(_COST)
    if _is_number(cost):
        return float(cost)
    if not any(key in attributes for key in _USAGE_KEYS):
        return None  # not an LLM span with usage
    model = attributes.get("gen_ai.response.model") or attributes.get("gen_ai.request.model")
    if not isinstance(model, str) or not model:
        return "(unknown model)"
    computed = compute_cost(usage_from_attributes(attributes), model, prices)
    return model if computed is None else computed


def _costs(fold: _Fold, prices: PriceTable) -> tuple[float, list[str], dict[str, float]]:
    """Total cost, the models whose usage could not be priced, and each span's cost.

    Usage is read from the merged start and end attributes (contract 3). Spans
    that recorded ``gen_ai.usage.cost_usd`` keep it; others with usage are priced
    from the table here, so usage recorded by hand is costed too.
    """
    total, unpriced, per_span = 0.0, set(), {}
    for span_id, end in fold.ends.items():
        start = fold.starts.get(span_id)
        start_attributes = start.attributes if start is not None else None
        if not end.attributes and not start_attributes:
            continue
        cost = _span_cost({**(start_attributes or {}), **(end.attributes or {})}, prices)
        if isinstance(cost, float):
            total += cost
            per_span[span_id] = cost
        elif isinstance(cost, str):
            unpriced.add(cost)
    return total, sorted(unpriced), per_span


def _subtree_sums(
    fold: _Fold, costs: Mapping[str, float]
) -> dict[str, tuple[Number, Number, float]]:
    """Tokens, tool uses and cost of every span's whole subtree, in one pass.

    Children are summed into parents from the deepest span up, so nested agents
    cost O(spans), not O(spans x depth).
    """
    children: dict[str, list[str]] = {}
    for span_id, start in fold.starts.items():
        if start.parent is not None and start.parent in fold.starts:
            children.setdefault(start.parent, []).append(span_id)
    order: list[str] = []
    seen: set[str] = set()
    for root in fold.starts:
        if root in seen:
            continue
        stack = [root]
        while stack:  # iterative DFS: parents before children
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            order.append(current)
            stack.extend(children.get(current, ()))
    sums: dict[str, tuple[Number, Number, float]] = {}
    for span_id in reversed(order):
        end = fold.ends.get(span_id)
        tokens, tools = (end.tokens, end.tool_uses) if end is not None else (0, 0)
        cost = costs.get(span_id, 0.0)
        for child in children.get(span_id, ()):
            child_tokens, child_tools, child_cost = sums.get(child, (0, 0, 0.0))
            tokens, tools, cost = tokens + child_tokens, tools + child_tools, cost + child_cost
        sums[span_id] = (tokens, tools, cost)
    return sums


def _agents(fold: _Fold, agent_ids: list[str], costs: Mapping[str, float]) -> list[AgentSummary]:
    """Agents with subtree sums, in start order."""
    sums = _subtree_sums(fold, costs)
    summaries = []
    for span_id in sorted(agent_ids, key=lambda sid: _sort_ts(fold.starts[sid])):
        tokens, tools, cost = sums.get(span_id, (0, 0, 0.0))
        start = fold.starts[span_id]
        end = fold.ends.get(span_id)
        summaries.append(
            AgentSummary(
                span_id=span_id,
                name=start.name,
                kind=start.kind,
                agent_id=_text((start.attributes or {}).get("gen_ai.agent.id")),
                status=end.status if end is not None else None,
                duration_ms=end.duration_ms if end and _is_number(end.duration_ms) else None,
                tokens=tokens,
                tool_uses=tools,
                cost_usd=cost,
            )
        )
    return summaries


def _errors(fold: _Fold) -> list[SpanError]:
    errors = []
    for sid, end in fold.ends.items():
        if end.status != "error":
            continue
        start = fold.starts.get(sid)
        error = end.error if isinstance(end.error, Mapping) else {}
        errors.append(
            SpanError(
                span_id=sid,
                name=start.name if start is not None else None,
                kind=start.kind if start is not None else None,
                type=error.get("type"),
                message=error.get("message"),
            )
        )
    return errors


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
        problems: skipped lines to list in ``skipped_lines``.
        run_id: used when the events have no run_start line.
        prices: prices for LLM spans that recorded usage but no cost (default: shipped).

    Returns:
        The summary.
    """
    fold = _Fold()
    for event in events:
        fold.add(event)
    run_start = fold.run_start or {}
    if agent_kinds is None:
        recorded = run_start.get("agent_kinds")
        agent_kinds = recorded if isinstance(recorded, list) else AGENT_KINDS
    kinds = frozenset(k for k in agent_kinds if isinstance(k, str))
    agents = [
        sid
        for sid, start in fold.starts.items()
        if _agent_rule(start.kind, start.attributes, kinds)
    ]
    counters = fold.counters
    cost, unpriced, span_costs = _costs(fold, prices or PriceTable.default())
    return RunSummary(
        run_id=_text(run_start.get("run_id")) or run_id,
        source_repo=_text(run_start.get("source_repo")),
        source_commit=_text(run_start.get("source_commit")),
        total_wall_ms=_total_wall_ms(fold),
        phases=_phases(fold, agents),
        totals=Totals(
            agents_spawned=len(agents),
            total_tokens=counters.get("tokens", 0),
            total_tool_uses=counters.get("tool_uses", 0),
            analyses_written=counters.get("analyses_written", 0),
            cost_usd=cost,
            counters=counters,
        ),
        errors=_errors(fold),
        dropped_events=fold.dropped,
        span_count=len(fold.starts.keys() | fold.ends.keys()),
        open_spans=len(fold.starts.keys() - fold.ends.keys()),
        processes=len(fold.pids),
        milestones=[
            {k: v for k, v in event.items() if k != "event"} for event in fold.phase_events
        ],
        unpriced_models=unpriced,
        agents=_agents(fold, agents, span_costs),
        skipped_lines=[problem.to_dict() for problem in problems[:_MAX_LISTED_PROBLEMS]],
        skipped_line_count=len(problems),
    )


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
        report_problems: also log each skipped line (they are in ``skipped_lines``).
    """
    problems: list[LineProblem] = []
    summary = summarize(
        iter_events(path, problems),
        agent_kinds=agent_kinds,
        problems=problems,  # filled while the events are folded, read afterwards
        run_id=Path(path).parent.name,
        prices=prices,
    )
    if report_problems and problems:
        shown = "; ".join(str(problem) for problem in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        report(f"skipped {len(problems)} malformed line(s): {shown}{more}")
    return summary


def write_summary(summary: RunSummary, path: str | os.PathLike[str]) -> None:
    """Write ``run_summary.json`` atomically (write a temp file, then rename)."""
    target = Path(path)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temp.write_bytes(orjson.dumps(summary.to_dict(), option=orjson.OPT_INDENT_2) + b"\n")
    os.replace(temp, target)
