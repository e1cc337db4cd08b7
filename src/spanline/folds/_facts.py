"""The facts a rule or a test assertion asks about a run, with the spans behind each.

:class:`FactsFold` folds a run's events once into :class:`RunFacts`: the run
summary and profile (the folds behind ``summary`` and ``compare``) and a small
record per span (name, kind, parent, tool, status, error, duration, own
tokens), so every answer can name the spans that make it. ``spanline check``
and the helpers of ``spanline.testing`` both read these facts; neither
computes a figure of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from spanline.folds._plans import PlanMatcher
from spanline.folds._summary_fold import SummaryFold
from spanline.folds._summary_model import AgentSummary, RunSummary
from spanline.folds.compare import ProfileFold, RunProfile

__all__ = ["FactsFold", "PlanFact", "RunFacts", "SpanFact", "run_facts"]


@dataclass(slots=True)
class SpanFact:
    """One span, as much as a rule needs to name it."""

    span_id: str
    name: str | None
    kind: str | None
    parent: str | None
    tool: str | None = None
    status: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    duration_ms: float | None = None
    tokens: int | float = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict.

        Returns:
            ``{span_id, name, kind, status, error}`` (``error`` null when none).
        """
        error = None
        if self.status == "error":
            error = {"type": self.error_type, "message": self.error_message}
        return {
            "span_id": self.span_id,
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "error": error,
        }

    def __str__(self) -> str:
        """``span 00ab… lib-core (library-analysis): error RuntimeError: message``."""
        text = f"span {self.span_id} {self.name}"
        if self.kind:
            text += f" ({self.kind})"
        if self.status is None:
            text += ": not ended"
        elif self.status == "error":
            text += f": error {self.error_type or ''}: {self.error_message or ''}".rstrip(": ")
        return text


@dataclass
class PlanFact:
    """A planned agent and the span that fulfilled it (None: never started)."""

    plan_id: str
    name: str
    span: SpanFact | None = None

    @property
    def finished(self) -> bool:
        """Started and ended ``ok``."""
        return self.span is not None and self.span.status == "ok"

    def __str__(self) -> str:
        """The plan as a line of evidence."""
        if self.span is None:
            return f"planned {self.name}: never started"
        return f"planned {self.name}: {self.span}"


def _number(value: Any) -> TypeGuard[int | float]:
    return value.__class__ is int or value.__class__ is float


class FactsFold:
    """An incremental reducer from telemetry events to :class:`RunFacts`.

    Feed it with :meth:`extend` in file order; :meth:`result` may be called at any time.
    """

    def __init__(self, *, run_id: str | None = None, profile: bool = True) -> None:
        """Start an empty fold.

        Args:
            run_id: used when the events have no run_start line.
            profile: fold the run's profile too (phases, and the figures a baseline
                comparison needs); without it the result's ``profile`` is None and the
                fold costs about half as much.
        """
        self._profile = ProfileFold(run_id=run_id) if profile else None
        self._summary = self._profile.summary_fold if self._profile else SummaryFold(run_id=run_id)
        self._spans: dict[str, SpanFact] = {}
        self._ends: dict[str, Mapping[str, Any]] = {}
        self._plans: dict[str, PlanFact] = {}
        self._matcher = PlanMatcher()

    def extend(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Fold events, in file order (any chunking gives the same result)."""
        batch = list(events)
        if self._profile is not None:
            self._profile.extend(batch)
        else:
            self._summary.extend(batch)
        for event in batch:
            tag = event.get("event")
            if tag == "span_start":
                self._start(event)
            elif tag == "span_end":
                self._end(event)
            elif tag == "span_planned":
                self._plan(event)

    def _start(self, event: Mapping[str, Any]) -> None:
        span_id = event.get("span_id")
        if not isinstance(span_id, str) or span_id in self._spans:
            return
        name, kind, parent = event.get("name"), event.get("kind"), event.get("parent")
        fact = SpanFact(
            span_id,
            name if isinstance(name, str) else None,
            kind if isinstance(kind, str) else None,
            parent if isinstance(parent, str) else None,
        )
        attrs = event.get("attributes")
        self._tool(fact, attrs if isinstance(attrs, Mapping) else {})
        self._spans[span_id] = fact
        self._fulfil(fact, attrs if isinstance(attrs, Mapping) else {})
        early = self._ends.pop(span_id, None)
        if early is not None:
            self._end(early)

    @staticmethod
    def _tool(fact: SpanFact, attrs: Mapping[str, Any]) -> None:
        """The tool name as the summary's ``tools`` keys it."""
        tool = attrs.get("tool.name")
        if isinstance(tool, str):
            fact.tool = tool
        elif fact.name is not None and fact.name.startswith("tool."):
            fact.tool = fact.name[5:]
        elif fact.kind == "tool":
            fact.tool = fact.name

    def _end(self, event: Mapping[str, Any]) -> None:
        span_id = event.get("span_id")
        if not isinstance(span_id, str):
            return
        fact = self._spans.get(span_id)
        if fact is None:
            self._ends.setdefault(span_id, event)
            return
        if fact.status is not None:
            return
        status = event.get("status")
        fact.status = status if isinstance(status, str) else "ok"
        attrs = event.get("attributes")
        if isinstance(attrs, Mapping) and isinstance(attrs.get("tool.name"), str):
            fact.tool = attrs["tool.name"]
        error = event.get("error")
        if isinstance(error, Mapping):
            kind, message = error.get("type"), error.get("message")
            fact.error_type = str(kind) if kind is not None else None
            fact.error_message = str(message) if message is not None else None
        duration, tokens = event.get("duration_ms"), event.get("tokens")
        fact.duration_ms = float(duration) if _number(duration) else None
        fact.tokens = tokens if _number(tokens) else 0

    def _plan(self, event: Mapping[str, Any]) -> None:
        plan_id, name = event.get("plan_id"), event.get("name")
        if isinstance(plan_id, str) and isinstance(name, str) and plan_id not in self._plans:
            self._plans[plan_id] = PlanFact(plan_id, name)
            self._matcher.add(plan_id, name, event.get("parent"))

    def _fulfil(self, fact: SpanFact, attrs: Mapping[str, Any]) -> None:
        """The plan a starting span fulfils, by the rule of ``tracer.plan`` (folds/_plans)."""
        explicit = attrs.get("plan_id")
        if not self._matcher or not self._matcher.wanted(fact.name, explicit):
            return  # most spans: no plan of their name waits
        plan_id = self._matcher.match(fact.name, explicit, fact.parent, self._parent_of)
        if plan_id is not None:
            self._plans[plan_id].span = fact

    def _parent_of(self, span_id: Any) -> str | None:
        node = self._spans.get(span_id)
        return node.parent if node is not None else None

    def result(self) -> RunFacts:
        """The facts of everything folded so far.

        Returns:
            A :class:`RunFacts` (it shares the span records with the fold).
        """
        return RunFacts(
            summary=self._summary.result(),
            profile=self._profile.result() if self._profile is not None else None,
            spans=self._spans,
            plans=list(self._plans.values()),
        )


@dataclass
class RunFacts:
    """A folded run: its summary, its profile, its spans and its plans."""

    summary: RunSummary
    #: None when folded without it (see :class:`FactsFold`).
    profile: RunProfile | None
    spans: dict[str, SpanFact] = field(default_factory=dict)
    plans: list[PlanFact] = field(default_factory=list)

    def agents(self, *, kind: str | None = None, name: str | None = None) -> list[AgentSummary]:
        """The agents of a kind, or of a name (both: of both), in start order.

        Returns:
            The summary's agent cards (tokens and cost summed over each subtree).
        """
        return [
            agent
            for agent in self.summary.agents
            if (kind is None or agent.kind == kind) and (name is None or agent.name == name)
        ]

    def span(self, span_id: str) -> SpanFact:
        """The record of one span (an empty one for an id never started)."""
        return self.spans.get(span_id) or SpanFact(span_id, None, None, None)

    def tool_spans(self, tool: str) -> list[SpanFact]:
        """Every span of one tool, in start order."""
        return [fact for fact in self.spans.values() if fact.tool == tool]

    def tool_calls(self, tool: str) -> int:
        """How many times ``tool`` was called (the summary's count)."""
        stats = self.summary.tools.get(tool)
        return stats.calls if stats is not None else 0

    def failed(self) -> list[SpanFact]:
        """Every span that ended in error, in start order."""
        return [fact for fact in self.spans.values() if fact.status == "error"]

    def errors_outside(self, tools: Iterable[str]) -> list[SpanFact]:
        """Failed spans not explained by a failure of one of ``tools``.

        A failed tool span of those tools is allowed, and so is a failed span with the
        same error (type and message) as an allowed failure among its children: the
        error only travelled up from the tool.
        """
        allowed_tools = set(tools)
        failed = self.failed()
        allowed: set[str] = set()
        for fact in failed:
            if fact.tool is None or fact.tool not in allowed_tools:
                continue
            error = (fact.error_type, fact.error_message)
            node: SpanFact | None = fact
            while node is not None and node.span_id not in allowed:  # up while it travels
                allowed.add(node.span_id)
                node = self.spans.get(node.parent) if node.parent is not None else None
                if node is None or node.status != "error":
                    break
                if (node.error_type, node.error_message) != error:
                    break
        return [fact for fact in failed if fact.span_id not in allowed]

    def unfinished_plans(self) -> list[PlanFact]:
        """Planned agents that never started, or did not end ``ok``, in plan order."""
        return [plan for plan in self.plans if not plan.finished]

    def stalled_spans(self) -> list[SpanFact]:
        """The spans the summary lists under ``stalls`` (each once, in order)."""
        seen: dict[str, SpanFact] = {}
        for stall in self.summary.stalls:
            span_id = stall.get("span_id")
            if isinstance(span_id, str) and span_id not in seen:
                seen[span_id] = self.span(span_id)
        return list(seen.values())


def run_facts(events: Iterable[Mapping[str, Any]], *, run_id: str | None = None) -> RunFacts:
    """Fold events into :class:`RunFacts` at once (see :class:`FactsFold`).

    Returns:
        The facts.
    """
    fold = FactsFold(run_id=run_id)
    fold.extend(events)
    return fold.result()
