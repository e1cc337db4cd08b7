"""The run summary's data objects: plain dataclasses with a deterministic ``to_dict()``.

Equal runs give equal bytes: keys come out in a fixed order, counters and
name-keyed maps sorted by name, and every figure the fold computes is rounded
(milliseconds to 3 decimals, USD to 1e-8). A duration copied from a single
line (a span's ``duration_ms``, a phase line's ``wall_ms``) is written as the
line has it: the log is the truth, and copying it is already deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AgentSummary",
    "ExporterStats",
    "PhaseSummary",
    "PlanProgress",
    "RunSummary",
    "SpanError",
    "TokensByType",
    "ToolStats",
    "Totals",
    "round_ms",
    "round_usd",
]

Number = int | float


def round_ms(value: float) -> float:
    """A computed duration in milliseconds, rounded to 3 decimals (microseconds).

    Args:
        value: milliseconds.

    Returns:
        The rounded float.
    """
    return round(float(value), 3)


def _ms_or_none(value: Any) -> Any:
    return round_ms(value) if value.__class__ is float or value.__class__ is int else value


def _rounded_milestone(milestone: dict[str, Any]) -> dict[str, Any]:
    """A milestone with its millisecond fields rounded (other fields as written)."""
    return {
        key: _ms_or_none(value) if key in ("wall_ms", "process_wall_ms") else value
        for key, value in milestone.items()
    }


def round_usd(value: float) -> float:
    """A computed cost in USD, rounded to 1e-8 (a hundredth of a micro-dollar).

    Args:
        value: US dollars.

    Returns:
        The rounded float.
    """
    return round(float(value), 8)


@dataclass
class PhaseSummary:
    """One phase: wall time and agents run inside it.

    ``extra`` holds a milestone line's own counts (``libraries=9``), written
    after the named fields.
    """

    wall_ms: float
    agents: int | None = None
    incomplete: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; ``agents`` and ``incomplete`` are omitted when unset.

        Returns:
            ``{wall_ms, agents?, incomplete?, **extra}``.
        """
        data: dict[str, Any] = {"wall_ms": round_ms(self.wall_ms)}
        if self.agents is not None:
            data["agents"] = self.agents
        if self.incomplete is not None:
            data["incomplete"] = self.incomplete
        data.update(self.extra)
        return data


@dataclass
class TokensByType:
    """Token counts by type, summed from the OpenTelemetry GenAI usage attributes."""

    input: Number = 0
    output: Number = 0
    reasoning: Number = 0
    cache_read: Number = 0
    cache_creation: Number = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict.

        Returns:
            ``{input, output, reasoning, cache_read, cache_creation}``.
        """
        return {
            "input": self.input,
            "output": self.output,
            "reasoning": self.reasoning,
            "cache_read": self.cache_read,
            "cache_creation": self.cache_creation,
        }


@dataclass
class Totals:
    """Run-wide sums over every span_end line (each span's own counts)."""

    agents_spawned: int = 0
    total_tokens: Number = 0
    total_tool_uses: Number = 0
    analyses_written: Number = 0
    #: Sum of ``gen_ai.usage.cost_usd`` over LLM spans (priced models only).
    cost_usd: float = 0.0
    tokens_by_type: TokensByType = field(default_factory=TokensByType)
    #: LLM spans that ended without any usage attribute.
    llm_calls_without_usage: int = 0
    #: Spans not recorded because they were opened on spanline's own threads.
    suppressed_spans: Number = 0
    counters: dict[str, Number] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; ``counters`` sorted by name.

        Returns:
            The totals.
        """
        return {
            "agents_spawned": self.agents_spawned,
            "total_tokens": self.total_tokens,
            "total_tool_uses": self.total_tool_uses,
            "analyses_written": self.analyses_written,
            "cost_usd": round_usd(self.cost_usd),
            "tokens_by_type": self.tokens_by_type.to_dict(),
            "llm_calls_without_usage": self.llm_calls_without_usage,
            "suppressed_spans": self.suppressed_spans,
            "counters": {key: self.counters[key] for key in sorted(self.counters)},
        }


@dataclass
class AgentSummary:
    """One agent span with the sums of its whole subtree (its own and its descendants')."""

    span_id: str
    name: str | None
    kind: str | None
    agent_id: str | None = None
    status: str | None = None
    duration_ms: float | None = None
    tokens: Number = 0
    tool_uses: Number = 0
    cost_usd: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict.

        Returns:
            The agent's card.
        """
        return {
            "span_id": self.span_id,
            "name": self.name,
            "kind": self.kind,
            "agent_id": self.agent_id,
            "status": self.status,
            "duration_ms": _ms_or_none(self.duration_ms),
            "tokens": self.tokens,
            "tool_uses": self.tool_uses,
            "cost_usd": round_usd(self.cost_usd),
        }


@dataclass
class SpanError:
    """A span that ended with status ``error``."""

    span_id: str
    name: str | None
    kind: str | None = None
    type: str | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict.

        Returns:
            ``{span_id, name, kind, type, message}``.
        """
        return {
            "span_id": self.span_id,
            "name": self.name,
            "kind": self.kind,
            "type": self.type,
            "message": self.message,
        }


@dataclass
class ToolStats:
    """Calls of one tool: count, time and failures."""

    calls: int = 0
    total_ms: float = 0.0
    avg_ms: float = 0.0
    #: Nearest-rank 95th percentile of the calls' durations.
    p95_ms: float = 0.0
    failures: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, milliseconds rounded to 3 decimals.

        Returns:
            ``{calls, total_ms, avg_ms, p95_ms, failures}``.
        """
        return {
            "calls": self.calls,
            "total_ms": round_ms(self.total_ms),
            "avg_ms": round_ms(self.avg_ms),
            "p95_ms": round_ms(self.p95_ms),
            "failures": self.failures,
        }


@dataclass
class ExporterStats:
    """What one exporter did with the events, summed over the run's processes."""

    received: Number = 0
    exported: Number = 0
    dropped: Number = 0
    failed: Number = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict.

        Returns:
            ``{received, exported, dropped, failed}``.
        """
        return {
            "received": self.received,
            "exported": self.exported,
            "dropped": self.dropped,
            "failed": self.failed,
        }


@dataclass
class PlanProgress:
    """Planned work (``span_planned`` lines): how much of it started and finished."""

    planned: int = 0
    started: int = 0
    done: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict.

        Returns:
            ``{planned, started, done}``.
        """
        return {"planned": self.planned, "started": self.started, "done": self.done}


@dataclass
class RunSummary:
    """What ``run_summary.json`` holds: a run's headline figures, phases, agents and tools."""

    run_id: str | None = None
    #: ``ok``, ``error`` (a root span failed) or ``incomplete`` (a process has not ended).
    status: str = "ok"
    source_repo: str | None = None
    source_commit: str | None = None
    total_wall_ms: float = 0.0
    phases: dict[str, PhaseSummary] = field(default_factory=dict)
    totals: Totals = field(default_factory=Totals)
    errors: list[SpanError] = field(default_factory=list)
    dropped_events: Number = 0
    span_count: int = 0
    open_spans: int = 0
    processes: int = 0
    milestones: list[dict[str, Any]] = field(default_factory=list)
    #: LLM models that reported usage but have no price: their cost is unknown, not 0.
    unpriced_models: list[str] = field(default_factory=list)
    agents: list[AgentSummary] = field(default_factory=list)
    #: The first skipped lines (at most 1,000; ``skipped_line_count`` has them all).
    skipped_lines: list[dict[str, Any]] = field(default_factory=list)
    skipped_line_count: int = 0
    tools: dict[str, ToolStats] = field(default_factory=dict)
    exporters: dict[str, ExporterStats] = field(default_factory=dict)
    #: The oldest spans still open (at most 1,000; ``open_spans`` is the count).
    open_span_list: list[dict[str, Any]] = field(default_factory=list)
    #: Agents that went silent for longer than the run's ``stall_s``: ``span_id, name,
    #: agent_id, since_ts, stalled_ms, recovered``, by ``since_ts``.
    stalls: list[dict[str, Any]] = field(default_factory=list)
    plan: PlanProgress = field(default_factory=PlanProgress)
    #: Agent spans that ended with status ``error`` (beside ``status``, which stays
    #: ``ok`` when the run went on and its root span did not fail).
    failed_agents: int = 0
    #: Bytes of telemetry.jsonl folded into this summary: a reader folds what lies
    #: beyond it (a run killed before its final summary, a line appended later).
    log_offset: int = 0
    #: The run's budget (when one was set): limits, spent, remaining (see budget_summary).
    budget: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with a fixed key order: equal summaries give equal bytes.

        Returns:
            The summary as ``run_summary.json`` holds it.
        """
        return {
            "run_id": self.run_id,
            "status": self.status,
            "source_repo": self.source_repo,
            "source_commit": self.source_commit,
            "total_wall_ms": round_ms(self.total_wall_ms),
            "phases": {name: phase.to_dict() for name, phase in self.phases.items()},
            "totals": self.totals.to_dict(),
            "errors": [error.to_dict() for error in self.errors],
            "dropped_events": self.dropped_events,
            "span_count": self.span_count,
            "open_spans": self.open_spans,
            "processes": self.processes,
            "milestones": [_rounded_milestone(milestone) for milestone in self.milestones],
            "unpriced_models": list(self.unpriced_models),
            "agents": [agent.to_dict() for agent in self.agents],
            "skipped_lines": [dict(line) for line in self.skipped_lines],
            "skipped_line_count": self.skipped_line_count,
            "tools": {name: self.tools[name].to_dict() for name in sorted(self.tools)},
            "exporters": {name: self.exporters[name].to_dict() for name in sorted(self.exporters)},
            "open_span_list": [dict(item) for item in self.open_span_list],
            "stalls": [dict(stall) for stall in self.stalls],
            "plan": self.plan.to_dict(),
            # Keys added later are appended here, in a fixed order, and never renamed.
            "failed_agents": self.failed_agents,
            "log_offset": self.log_offset,
            # Only in a run that set a budget: the summaries of the others keep their bytes.
            **({"budget": dict(self.budget)} if self.budget is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSummary:
        """The summary that ``run_summary.json`` holds: ``from_dict(d).to_dict() == d``.

        Args:
            data: a dict as :meth:`to_dict` returns it (a missing key is left empty).

        Returns:
            A new :class:`RunSummary`.
        """
        totals = dict(data.get("totals") or {})
        totals["tokens_by_type"] = TokensByType(**(totals.get("tokens_by_type") or {}))
        phases = {}
        for name, phase in (data.get("phases") or {}).items():
            extra = {k: v for k, v in phase.items() if k not in ("wall_ms", "agents", "incomplete")}
            phases[name] = PhaseSummary(
                phase["wall_ms"], phase.get("agents"), phase.get("incomplete"), extra
            )
        nested = {
            "phases": phases,
            "totals": Totals(**totals),
            "errors": [SpanError(**error) for error in data.get("errors") or []],
            "agents": [AgentSummary(**agent) for agent in data.get("agents") or []],
            "tools": {name: ToolStats(**t) for name, t in (data.get("tools") or {}).items()},
            "exporters": {
                name: ExporterStats(**e) for name, e in (data.get("exporters") or {}).items()
            },
            "plan": PlanProgress(**(data.get("plan") or {})),
        }
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**{**known, **nested})


def budget_summary(limits: Any, cost_usd: float, tokens: int) -> dict[str, Any] | None:
    """The summary's ``budget``: the run header's limits beside what the run spent.

    Args:
        limits: ``run_start.budget`` (``max_usd``, ``max_tokens``, session limits, ``action``).
        cost_usd: the run's cost; tokens: its tokens.

    Returns:
        ``{max_usd, max_tokens, [session limits,] action, spent_usd, spent_tokens,
        remaining_usd, remaining_tokens, exceeded}``, or None when the run set no budget.
    """
    if not isinstance(limits, dict) or not limits:
        return None

    def number(key: str) -> float | int | None:
        value = limits.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        return value if 0 <= value <= 2**63 - 1 else None  # what a reader can hold

    max_usd, max_tokens = number("max_usd"), number("max_tokens")
    action = limits.get("action")
    summary: dict[str, Any] = {"max_usd": max_usd, "max_tokens": max_tokens}
    for key in ("session_max_usd", "session_max_tokens"):
        if number(key) is not None:
            summary[key] = number(key)
    summary["action"] = action if action in ("warn", "raise", "callback") else None
    summary.update(
        spent_usd=round_usd(cost_usd),
        spent_tokens=tokens,
        remaining_usd=None if max_usd is None else round_usd(max(max_usd - cost_usd, 0.0)),
        remaining_tokens=None if max_tokens is None else max(int(max_tokens) - tokens, 0),
        exceeded=(max_usd is not None and cost_usd >= max_usd)
        or (max_tokens is not None and tokens >= max_tokens),
    )
    return summary
