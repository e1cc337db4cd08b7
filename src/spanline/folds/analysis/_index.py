"""The spans of a run, indexed once for the analysis: one small record per span.

:class:`AnalysisFold` reads the events in one pass. It feeds the run summary
(stalls, plan progress, tool percentiles, totals) and, for a comparison with a
baseline, the run profile of ``spanline compare``; and it keeps, for each span,
what the analysis needs and the summary does not: its times, parent, status,
error, tokens, cost and a few attributes (a tool call's argument fingerprint,
the model, an LLM call's usage, the time to first chunk). Error messages are
redacted and bounded here, on their way out of the log; argument previews when
a section quotes them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from spanline._capture._redact import redacted_window
from spanline.folds._plans import PlanMatcher
from spanline.folds.compare import ProfileFold, RunProfile, llm_cost
from spanline.folds.summary import RunSummary, SummaryFold, is_agent
from spanline.schema import AGENT_KINDS, DUPLICATE_OF, USAGE_ON_CHILD

__all__ = ["AnalysisFold", "Indexed", "SpanRecord", "bounded"]

#: The longest quoted text (a message, an argument preview) the analysis keeps.
QUOTE_MAX = 160

#: The attributes kept of an LLM call and of a tool call (other spans keep none).
_LLM_KEPT = (
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.response.time_to_first_chunk_ms",
    DUPLICATE_OF,
    USAGE_ON_CHILD,
)
_TOOL_KEPT = ("tool.name", "tool.error_message")
_USAGE = "gen_ai.usage."
_NOTHING: dict[str, Any] = {}
_LLM_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "responses"})


def bounded(value: Any, limit: int = QUOTE_MAX) -> str:
    """Text from the log made safe to quote: redacted, on one line, at most ``limit`` long."""
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    shown = redacted_window(text, limit)
    shown = " ".join(shown.split())
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _number(value: Any) -> float | None:
    if value.__class__ is int or value.__class__ is float:
        return float(value)
    return None


class SpanRecord:
    """What the analysis keeps of one span."""

    __slots__ = (
        "agent",
        "args",
        "attrs",
        "children",
        "cost",
        "duration_ms",
        "end",
        "error_message",
        "error_type",
        "kind",
        "llm",
        "ms",
        "name",
        "order",
        "parent",
        "sid",
        "start",
        "status",
        "tokens",
        "tool",
        "usage",
    )

    def __init__(self, sid: str, order: int, event: Mapping[str, Any], agent: bool) -> None:
        # One lookup per key and no call for the usual types: this runs once per span.
        attrs = event.get("attributes")
        if attrs.__class__ is not dict and not isinstance(attrs, dict):
            attrs = _NOTHING
        name, kind, parent, ts = (
            event.get("name"),
            event.get("kind"),
            event.get("parent"),
            event.get("ts"),
        )
        self.sid, self.order, self.agent = sid, order, agent
        self.name = name if name.__class__ is str or isinstance(name, str) else "?"
        self.kind = kind if kind.__class__ is str or isinstance(kind, str) else "span"
        self.parent: str | None = parent if isinstance(parent, str) and parent != sid else None
        self.start = float(ts) if ts.__class__ is float or ts.__class__ is int else 0.0
        self.end: float | None = None
        #: Wall time in milliseconds: its end minus its start (0 while open).
        self.ms = 0.0
        self.status: str | None = None
        self.duration_ms = 0.0
        self.tokens = 0.0
        self.cost = 0.0
        self.error_type: str | None = None
        self.error_message: str | None = None
        # Filled in by Indexed; a span with no child shares the empty tuple (fewer objects
        # for the garbage collector to track on a large run).
        self.children: list[SpanRecord] | tuple[()] = ()
        op = attrs.get("gen_ai.operation.name")
        self.llm = self.kind == "llm" or (op.__class__ is str and op in _LLM_OPERATIONS)
        self.tool = not self.llm and (self.kind == "tool" or "tool.name" in attrs)
        self.args: str | None = None
        if self.llm or self.tool:
            self.attrs: dict[str, Any] = {}
            self.usage: dict[str, Any] = {}
            self._keep(attrs)
        else:  # shared and never written: only LLM and tool calls keep attributes
            self.attrs = self.usage = _NOTHING

    def finish(self, event: Mapping[str, Any]) -> None:
        """Take in the span's end line."""
        attrs = event.get("attributes")
        if (self.llm or self.tool) and attrs.__class__ is dict and attrs:
            self._keep(attrs)
        get = event.get
        status, duration, end, tokens = get("status"), get("duration_ms"), get("ts"), get("tokens")
        self.status = status if status.__class__ is str or isinstance(status, str) else "ok"
        if duration.__class__ is float or duration.__class__ is int:
            self.duration_ms = max(float(duration) or 0.0, 0.0)
        if end.__class__ is float or end.__class__ is int:
            self.end = float(end)
        else:
            self.end = self.start + self.duration_ms / 1000.0
        self.ms = max((self.end - self.start) * 1000.0, 0.0)
        if tokens.__class__ is float or tokens.__class__ is int:
            self.tokens = max(float(tokens) or 0.0, 0.0)
        error = event.get("error")
        if isinstance(error, dict):
            kind, message = error.get("type"), error.get("message")
            self.error_type = bounded(kind, 80) if kind is not None else "error"
            self.error_message = bounded(message) if message is not None else ""
        elif self.status == "error":
            self.error_type = "error"
            message = self.attrs.get("tool.error_message")
            self.error_message = bounded(message) if message is not None else ""

    def _keep(self, attrs: dict[str, Any]) -> None:
        """Keep what the analysis reads of an LLM or tool call's attributes (end wins)."""
        kept = self.attrs
        for key in _LLM_KEPT if self.llm else _TOOL_KEPT:
            if key in attrs:
                kept[key] = attrs[key]
        if self.llm:
            self.usage.update(_usage(attrs))
        elif self.args is None:
            self.args = _fingerprint(attrs)

    @property
    def model(self) -> str | None:
        """The model that answered, else the one asked for."""
        for key in ("gen_ai.response.model", "gen_ai.request.model"):
            value = self.attrs.get(key)
            if isinstance(value, str):
                return value
        return None


def _usage(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if k.__class__ is str and k.startswith(_USAGE)}


def _fingerprint(attrs: Mapping[str, Any]) -> str | None:
    """A tool call's arguments for spotting repeats: the full arguments' hash when they
    were captured, else their preview as logged (redacted when a report quotes it)."""
    full = attrs.get("input.value")
    if full is not None:
        try:
            data = orjson.dumps(full, option=orjson.OPT_SORT_KEYS, default=str)
        except TypeError:  # integers past 64 bits, keys that are not strings
            data = repr(full).encode("utf-8", "replace")
        return "sha256:" + hashlib.sha256(data).hexdigest()[:16]
    preview = attrs.get("tool.arguments_preview")
    if preview is None:
        return None
    return "preview:" + (preview if isinstance(preview, str) else repr(preview))[: QUOTE_MAX * 4]


class Indexed:
    """The fold's result: every span by id, the plans, the profile and the summary."""

    def __init__(
        self,
        spans: dict[str, SpanRecord],
        plans: dict[str, dict[str, Any]],
        plan_of: dict[str, str],
        profile: RunProfile | None,
        summary: RunSummary,
        last_ts: float,
    ) -> None:
        self.spans, self.plans, self.plan_of = spans, plans, plan_of
        self.profile, self.summary, self.last_ts = profile, summary, last_ts
        self.roots = [
            span for span in spans.values() if span.parent is None or span.parent not in spans
        ]
        for span in spans.values():
            parent = spans.get(span.parent) if span.parent is not None else None
            if parent is not None:
                if parent.children:
                    parent.children.append(span)
                else:
                    parent.children = [span]
            if span.end is None:  # still open (or abandoned without a line): to the last line
                span.end = max(last_ts, span.start)
                span.ms = (span.end - span.start) * 1000.0
        self.phase_of = _nearest(spans, lambda span: span.kind == "phase")
        self.agent_of = _nearest(spans, lambda span: span.agent)


def _nearest(spans: dict[str, SpanRecord], mark: Any) -> dict[str, str | None]:
    """Span id -> the nearest span at or above it (by parent) that ``mark`` accepts.

    Iterative, memoised and safe against parents that loop.
    """
    found: dict[str, str | None] = {}
    for sid, record in spans.items():
        if mark(record):
            found[sid] = sid
            continue
        up = record.parent
        if up is None or up not in spans:
            found[sid] = None
            continue
        if up in found:  # the usual case: a parent starts before its children
            found[sid] = found[up]
            continue
        path: list[str] = []
        seen: set[str] = set()
        current: str | None = sid
        answer: str | None = None
        while current is not None and current in spans and current not in found:
            if current in seen:
                break
            seen.add(current)
            span = spans[current]
            if mark(span):
                answer = current
                break
            path.append(current)
            current = span.parent
        else:
            answer = found.get(current) if current is not None else None
        for step in path:
            found[step] = answer
        found[sid] = answer if not mark(spans[sid]) else sid
    return found


class AnalysisFold:
    """An incremental reducer from telemetry events to what the analysis reads."""

    def __init__(self, *, run_id: str | None = None, profile: bool = False) -> None:
        """Start an empty fold.

        Args:
            run_id: used when the events have no run_start line.
            profile: also fold the run profile (what a baseline comparison needs; it
                holds the summary, so the summary is then folded once).
        """
        self._feed: ProfileFold | SummaryFold = (
            ProfileFold(run_id=run_id) if profile else SummaryFold(run_id=run_id)
        )
        self._kinds = frozenset(AGENT_KINDS)
        self._spans: dict[str, SpanRecord] = {}
        self._early: dict[str, Mapping[str, Any]] = {}
        self._plans: dict[str, dict[str, Any]] = {}
        self._matcher = PlanMatcher()
        self._plan_of: dict[str, str] = {}
        self._last = float("-inf")

    def extend(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Fold events, in file order."""
        batch = [e for e in events if e.__class__ is dict or isinstance(e, Mapping)]
        self._feed.extend(batch)
        for event in batch:
            ts = _number(event.get("ts"))
            if ts is not None and ts > self._last:
                self._last = ts
            tag = event.get("event")
            if tag == "span_start":
                self._start(event)
            elif tag == "span_end":
                self._end(event)
            elif tag == "span_planned":
                self._plan(event)
            elif tag == "run_start" and isinstance(event.get("agent_kinds"), list):
                self._kinds = frozenset(k for k in event["agent_kinds"] if isinstance(k, str))

    def _start(self, event: Mapping[str, Any]) -> None:
        sid = event.get("span_id")
        if not isinstance(sid, str) or sid in self._spans:
            return
        span = SpanRecord(sid, len(self._spans), event, is_agent(event, self._kinds))
        self._spans[sid] = span
        attrs = event.get("attributes")
        named = attrs.get("plan_id") if isinstance(attrs, Mapping) else None
        if self._matcher and self._matcher.wanted(span.name, named):
            plan_id = self._matcher.match(span.name, named, span.parent, self._parent_of)
            if plan_id is not None:
                self._plan_of[sid] = plan_id
        early = self._early.pop(sid, None)
        if early is not None:
            self._end(early)

    def _end(self, event: Mapping[str, Any]) -> None:
        sid = event.get("span_id")
        if not isinstance(sid, str):
            return
        span = self._spans.get(sid)
        if span is None:
            self._early[sid] = event  # an end read before its start
        elif span.status is None:
            span.finish(event)
            if span.llm:
                span.cost = llm_cost({**span.usage, **span.attrs})

    def _plan(self, event: Mapping[str, Any]) -> None:
        plan_id, name = event.get("plan_id"), event.get("name")
        if not isinstance(plan_id, str) or not isinstance(name, str) or plan_id in self._plans:
            return
        attrs = event.get("attributes")
        phase = attrs.get("phase") if isinstance(attrs, Mapping) else None
        parent = event.get("parent")
        self._plans[plan_id] = {
            "plan_id": plan_id,
            "name": name,
            "kind": event.get("kind") if isinstance(event.get("kind"), str) else None,
            "parent": parent if isinstance(parent, str) else None,
            "phase": phase if isinstance(phase, str) else None,
            "ts": _number(event.get("ts")),
        }
        self._matcher.add(plan_id, name, parent)

    def _parent_of(self, sid: Any) -> str | None:
        span = self._spans.get(sid)
        return span.parent if span is not None else None

    def result(self) -> Indexed:
        """Everything folded so far, linked (the fold is not changed for the summary, but
        the span records are shared: call once, at the end)."""
        profile: RunProfile | None = None
        if isinstance(self._feed, ProfileFold):
            profile, summary = self._feed.result(), self._feed.summary_fold.result()
        else:
            summary = self._feed.result()
        last = self._last if self._last != float("-inf") else 0.0
        return Indexed(self._spans, self._plans, dict(self._plan_of), profile, summary, last)
