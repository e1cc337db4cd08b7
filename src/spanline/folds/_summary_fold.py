"""The incremental run-summary fold: feed events one at a time or in batches, ask any time.

Rules:

* Totals are sums over every span_end line (each span's *own* counters).
* A span is an agent iff its kind is in the agent kinds (the run's
  ``run_start.agent_kinds``, else :data:`~spanline.schema.AGENT_KINDS`) or it
  was opened by ``@traced_agent`` (``gen_ai.operation.name == "invoke_agent"``).
  Each agent's tokens, tool uses and cost are sums over its whole subtree.
* ``phases`` has one entry per span of kind ``phase``: its duration and the
  number of agents whose nearest phase ancestor it is. ``phase`` lines are
  milestones; they fill ``phases`` only when the run has no phase spans.
* ``stalls``: a running agent whose subtree (its own start and end, and the
  span_start, span_end and event lines of its descendants) shows no line for
  more than ``stall_s`` seconds (``run_start.stall_s``, else 60) stalled. A gap
  between two such lines is a stall it recovered from; a gap between its last
  line and the run's last line, a stall still going on.

How it stays cheap: :meth:`SummaryFold.extend` keeps running aggregates and,
per span, one small tuple (its parent and the agent it reports to) plus the
start line's few useful fields while the span is open. A span's counters are
added at its span_end to its agent's record only; :meth:`SummaryFold.result`
adds them up the agent tree, so it costs time in proportion to agents, tools,
errors and open spans, never to the number of lines folded. Activity, too, is
kept at the line's nearest agent: the agents above are looked at only when that
agent has been silent for longer than the stall time. Each line costs the same
however deeply agents nest.

A line that breaks a rule (a field of the wrong type, an implausible timestamp,
duration or counter: see ``spanline.folds._limits``) is skipped and listed in
``skipped_lines`` with its file and line number; the checks are ones the loop
makes anyway, or comparisons on branches that rarely run, and anything they miss
is caught by a guard around each line that costs nothing until it fires.
"""

from __future__ import annotations

import heapq
import math
import threading
from array import array
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeGuard

from spanline._prices import PriceTable, compute_cost
from spanline._usage import usage_from_attributes
from spanline.folds._limits import COUNT_MAX, MS_MAX, TS_MAX, TS_MIN
from spanline.folds._summary_model import (
    AgentSummary,
    ExporterStats,
    PhaseSummary,
    PlanProgress,
    RunSummary,
    SpanError,
    TokensByType,
    ToolStats,
    Totals,
    round_ms,
)
from spanline.folds.events import LineProblem
from spanline.schema import AGENT_KINDS, RESERVED_END_KEYS, USAGE_ON_CHILD

_NEVER = math.inf
#: Seconds without activity in a running agent's subtree before it is stalled.
DEFAULT_STALL_S = 60.0

__all__ = ["SummaryFold"]

_OP = "gen_ai.operation.name"
_COST = "gen_ai.usage.cost_usd"
#: gen_ai.operation.name values of LLM calls (``@traced_llm`` also sets kind "llm").
_LLM_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "responses"})
#: Token attributes, in the order of :class:`TokensByType`'s fields.
_IN = "gen_ai.usage.input_tokens"
_OUT = "gen_ai.usage.output_tokens"
_REASONING = "gen_ai.usage.reasoning.output_tokens"
_CACHE_READ = "gen_ai.usage.cache_read.input_tokens"
_CACHE_NEW = "gen_ai.usage.cache_creation.input_tokens"
_TOKEN_KEYS = (_IN, _OUT, _REASONING, _CACHE_READ, _CACHE_NEW)
_PRICED_KEYS = ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens")
_MODEL_KEYS = ("gen_ai.request.model", "gen_ai.response.model")
#: Start attributes kept while a span is open, for pricing and usage at its end.
_START_KEEP = (*_TOKEN_KEYS, _COST, *_MODEL_KEYS, _OP)
#: Start attributes that make a span worth keeping them for (besides being an LLM call).
_START_WATCH = frozenset((*_TOKEN_KEYS, _COST))
#: End attributes that send a span through the usage and cost path.
_END_WATCH = frozenset((*_TOKEN_KEYS, _COST, _OP))
#: span_end keys whose presence means "no counter besides tokens and tool_uses".
_PLAIN_END_KEYS = frozenset(RESERVED_END_KEYS | {"tokens", "tool_uses"})
_PHASE_KIND = frozenset({"phase"})
_MAX_OPEN_LISTED = 1_000
_MAX_LISTED_PROBLEMS = 1_000
_PHASE_EVENT_FIELDS = frozenset({"event", "name", "wall_ms", "ts", "agents", "incomplete"})
_TS_MIN, _TS_MAX, _MS_MAX, _COUNT_MAX = TS_MIN, TS_MAX, MS_MAX, COUNT_MAX
_FLOAT_MAX = 1.7976931348623157e308

# Slots of the tuple kept per open span.
_NAME, _KIND, _TS, _TOOL, _LLM, _KEEP, _CTX, _ROOT, _SPECIAL = range(9)
#: A span's parent id and context index.
_Node = tuple[str | None, int]
#: The pair of every span without a parent.
_ROOT_NODE: _Node = (None, -1)
# Slots of a context record: a subtree-sum accumulator (an agent's, or a stand-in for a
# span referred to before its start line was read), the index of the next one up, and
# the last time its subtree showed a line (an open agent's; +inf: not watched).
_TOKENS, _TOOL_USES, _COST_SUM, _UP, _SEEN = range(5)
# Slots of a tool record.
_CALLS, _TOTAL, _FAILURES, _DURATIONS, _P95 = range(5)


class _Skip(ValueError):
    """A line that breaks a rule of the schema: it is skipped and reported."""


def _type(value: Any) -> str:
    """How a wrong value is named in a skipped line's reason."""
    return "null" if value is None else type(value).__name__


def _real(value: Any, field: str) -> float:
    """A counter that is not an int: a finite float within 64 bits, or the line is skipped."""
    if value.__class__ is not float:
        raise _Skip(f"{field} is {_type(value)}, not a number")
    if not -_COUNT_MAX <= value <= _COUNT_MAX:
        raise _Skip(f"implausible {field} {value!r}")
    return float(value)


def _number(value: Any) -> TypeGuard[int | float]:
    return value.__class__ is int or value.__class__ is float


def _fit(value: int | float) -> int | float:
    """A sum as JSON can hold it: past 64 bits an int is carried as a float, and a float
    past the largest double (finite addends can get there) is clamped to it."""
    if value.__class__ is int:
        if -_COUNT_MAX - 1 <= value <= _COUNT_MAX:
            return value
        return math.copysign(_FLOAT_MAX, value) if abs(value) >= _FLOAT_MAX else float(value)
    if math.isfinite(value):
        return value
    return 0.0 if math.isnan(value) else math.copysign(_FLOAT_MAX, value)


def _json_safe(value: Any, depth: int = 0) -> Any:
    """A copy of a value a caller passed along that JSON can hold (events handed to
    :meth:`SummaryFold.add` directly may hold any Python value; a file's cannot)."""
    if value is None or value.__class__ in (str, bool):
        return value
    if value.__class__ is int or value.__class__ is float:
        return _fit(value) if value == value else None
    if depth > 32:
        return None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v, depth + 1) for v in value]
    return repr(value)


def _text(value: Any) -> str | None:
    return value if value.__class__ is str else None


def _sort_ts(value: Any) -> float:
    return float(value) if _number(value) else 0.0


class SummaryFold:
    """An incremental reducer from telemetry events to a :class:`RunSummary`.

    Feed it from any source — a file read once, a file being tailed, batches —
    with :meth:`add` or :meth:`extend`; the same events in any chunking give
    the same summary. :meth:`result` may be called at any time, as often as
    needed, and never changes what later calls return. Both are safe to call
    from different threads (one lock guards the state).

    A span_end read before its span_start (lines of two processes interleave
    in the file) still counts fully in totals and subtree sums; only its tool,
    usage and cost figures miss what the start line alone carried.
    """

    def __init__(
        self,
        *,
        agent_kinds: Iterable[str] | None = None,
        prices: PriceTable | None = None,
        run_id: str | None = None,
        stall_s: float | None = None,
    ) -> None:
        """Start an empty fold.

        Args:
            agent_kinds: span kinds that are agents (default: the run_start line's
                ``agent_kinds``, else :data:`~spanline.schema.AGENT_KINDS`).
            prices: prices for LLM spans that recorded usage but no cost
                (default: the table shipped with spanline).
            run_id: used when the events have no run_start line.
            stall_s: seconds without a line in a running agent's subtree before it
                is stalled (default: the run_start line's ``stall_s``, else 60).
        """
        self._explicit_kinds = agent_kinds is not None
        kinds = AGENT_KINDS if agent_kinds is None else agent_kinds
        self._kinds: frozenset[Any] = frozenset(k for k in kinds if isinstance(k, str))
        self._prices = prices
        self._run_id = run_id
        self._explicit_stall = stall_s is not None
        self._stall_s = float(stall_s) if stall_s is not None else DEFAULT_STALL_S
        if not self._stall_s > 0:
            raise ValueError(f"stall_s must be greater than 0, not {stall_s!r}")
        # Stalls an agent recovered from: [span_id, name, agent_id, since, gap (s)].
        self._stalls: list[list[Any]] = []
        self._agent_at: dict[int, list[Any]] = {}  # context index -> its agent's record
        self._lock = threading.Lock()
        self._run_start: Mapping[str, Any] | None = None
        # Scalars the hot loop keeps in locals.
        self._first_ts = math.inf
        self._last_ts = -math.inf
        self._tokens: Any = 0
        self._tool_uses: Any = 0
        self._tokens_seen = False
        self._tool_uses_seen = False
        self._counters: dict[str, Any] = {}
        # Per span: (parent id, context index); open spans: the start's fields. Every child
        # of a span that is not itself an agent has the same pair, so siblings share one
        # tuple, found in ``_kin`` (kept for spans with children): a tuple per span would
        # be a third of the fold's memory, and on a million-line file growing memory costs
        # more time than the work per line.
        self._nodes: dict[str, _Node] = {}
        self._kin: dict[str, _Node] = {}
        self._open: dict[str, tuple[Any, ...]] = {}
        self._roots: dict[str, tuple[Any, Any] | None] = {}
        self._ctx: list[list[Any]] = []
        self._agents: list[list[Any]] = []
        self._phase_spans: dict[str, list[Any]] = {}
        # Spans referred to (as a parent, or by their end) before their start line.
        self._waiting: dict[str, int] = {}
        self._orphans: dict[str, list[str]] = {}
        self._early_ends: dict[str, tuple[Any, Any]] = {}
        self._errors: list[list[Any]] = []
        self._tools: dict[str, list[Any]] = {}
        self._token_types: list[int | float] = [0, 0, 0, 0, 0]
        self._llm_without_usage = 0
        self._cost = 0.0
        self._unpriced: set[str] = set()
        self._phase_events: list[dict[str, Any]] = []
        self._started_pids: set[Any] = set()
        self._ended_pids: set[Any] = set()
        self._dropped = 0
        self._suppressed = 0
        self._exporters: dict[str, list[int]] = {}
        self._plans_by_name: dict[str, list[tuple[str, str | None]]] = {}
        self._plans_by_id: dict[str, str] = {}
        self._plan_spans: dict[str, str] = {}
        self._planned = 0
        self._plans_started = 0
        self._plans_done = 0
        self._problems: list[dict[str, Any]] = []
        self._problem_count = 0
        # Lines the fold itself skipped (the reader's are handed to note_problems).
        self._skipped: list[LineProblem] = []
        self._fed = 0  # events fed so far: where a line of events handed over is
        self._where: tuple[str | None, Sequence[int] | None, int] = (None, None, 0)
        # Activity watch: each agent's record keeps the last line at the agent itself;
        # its subtree's last line is the latest over the open agents below it, found
        # through these links only when a silence is long enough to matter.
        self._kids: dict[int, set[int]] = {}
        self._holder: dict[int, int] = {}
        self._ended: set[int] = set()
        self._past: dict[int, int] = {}  # ended context -> the nearest above not ended

    # -- feeding -------------------------------------------------------------------------
    def add(self, event: Mapping[str, Any]) -> None:
        """Fold one event.

        Args:
            event: one decoded line of telemetry.jsonl.
        """
        with self._lock:
            self._feed((event,), None, None)

    def extend(
        self,
        events: Iterable[Mapping[str, Any]],
        *,
        file: str | None = None,
        lines: Sequence[int] | None = None,
    ) -> None:
        """Fold many events (faster than calling :meth:`add` for each).

        An event that breaks the schema's rules (a field of the wrong type, an
        implausible timestamp, duration or counter) is skipped and listed in the
        summary's ``skipped_lines`` and in :attr:`problems`.

        Args:
            events: decoded lines, in file order.
            file: the file they were read from, to name in skipped lines.
            lines: each event's line number in ``file`` (default: its position among
                all the events fed so far, from 1).
        """
        with self._lock:
            self._feed(events, file, lines)

    @property
    def problems(self) -> list[LineProblem]:
        """The lines this fold skipped, with why (the first thousand).

        Returns:
            A copy of the list.
        """
        with self._lock:
            return list(self._skipped)

    def _feed(
        self, events: Iterable[Mapping[str, Any]], file: str | None, lines: Sequence[int] | None
    ) -> None:
        if not isinstance(events, (list, tuple)):
            events = list(events)  # a skipped line is then found by its position
        self._where = (file, lines, 0)
        try:
            self._fold(events)
        finally:
            self._fed += len(events)

    def _skip(self, event: Any, error: Exception, events: Sequence[Any]) -> None:
        """Record a line the loop could not use (rare: the loop's guard calls it)."""
        file, lines, start = self._where
        position = next(
            (i for i in range(start, len(events)) if events[i] is event), len(events) - 1
        )
        self._where = (file, lines, position + 1)
        if lines is not None and position < len(lines):
            line = lines[position]
        else:
            line = self._fed + position + 1
        reason = str(error) if isinstance(error, _Skip) else f"{type(error).__name__}: {error}"
        problem = LineProblem(file or "<events>", line, reason[:200])
        self._problem_count += 1
        if len(self._problems) < _MAX_LISTED_PROBLEMS:
            self._problems.append(problem.to_dict())
            self._skipped.append(problem)

    def note_problems(self, problems: Iterable[LineProblem]) -> None:
        """Record skipped lines, listed in the summary's ``skipped_lines``.

        Args:
            problems: lines a reader could not use.
        """
        with self._lock:
            for problem in problems:
                self._problem_count += 1
                if len(self._problems) < _MAX_LISTED_PROBLEMS:
                    self._problems.append(problem.to_dict())

    def _fold(self, events: Sequence[Mapping[str, Any]]) -> None:
        # Runs once per line of possibly millions: state in locals, plain comparisons,
        # ``.__class__ is`` checks, and every rare case handed to a method. A line that
        # breaks a rule raises inside the guard below and is skipped and reported; the
        # guard costs nothing until something raises. Checks come before any change to
        # the state, so a skipped line leaves no trace but its place in the time range.
        first, last = self._first_ts, self._last_ts
        if last == -_NEVER:
            last = _NEVER  # no time read yet: the first one is a new earliest (see below)
        tok_sum, tool_sum = self._tokens, self._tool_uses
        tok_seen, tool_seen = self._tokens_seen, self._tool_uses_seen
        nodes, open_, roots, ctxs = self._nodes, self._open, self._roots, self._ctx
        kin, kin_get, open_pop, tools = self._kin, self._kin.get, self._open.pop, self._tools
        tools_get, waiting, plan_spans = tools.get, self._waiting, self._plan_spans
        stall, never = self._stall_s, -_NEVER
        specials = self._kinds | _PHASE_KIND  # agent kinds and "phase": their own context
        plain_keys, start_watch, end_watch = _PLAIN_END_KEYS, _START_WATCH, _END_WATCH
        llm_ops, start_keep, op_key = _LLM_OPERATIONS, _START_KEEP, _OP
        ts_min, ts_max, ms_max = _TS_MIN, _TS_MAX, _MS_MAX
        model_key, plans, plan_names = (
            "gen_ai.request.model",
            self._plans_by_id,
            self._plans_by_name,
        )
        try:
            for event in events:
                try:
                    try:  # subscripts are cheaper than .get(); spanline's lines have both keys
                        tag, ts = event["event"], event["ts"]
                    except KeyError:
                        tag, ts = event.get("event"), event.get("ts")
                    if ts.__class__ is float or ts.__class__ is int:
                        # The usual line is the latest so far: it is above the earliest
                        # (checked), so only the upper bound is left to check. A new
                        # earliest is rare and gets the full range check. Before any time
                        # was read, ``last`` is +inf, so the first one takes that branch.
                        # A NaN fails every comparison and is caught by the last test.
                        if ts > last:
                            if ts > ts_max:
                                raise _Skip(f"implausible timestamp {ts!r}")
                            last = ts
                        elif ts < first:
                            if not ts_min <= ts <= ts_max:
                                raise _Skip(f"implausible timestamp {ts!r}")
                            first = ts
                            if last == _NEVER:
                                last = ts  # the first time read
                        elif not ts <= ts_max:
                            raise _Skip(
                                "timestamp is not a number"
                                if ts != ts
                                else f"implausible timestamp {ts!r}"
                            )
                        now = ts
                    elif ts is None:
                        now = never  # moves no agent's last activity
                    else:
                        raise _Skip(f"ts is {_type(ts)}, not a number")
                    if tag == "span_end":
                        try:  # subscripts cost half a .get(); spanline's lines have every key
                            sid, tokens, uses = (
                                event["span_id"],
                                event["tokens"],
                                event["tool_uses"],
                            )
                            attrs, status = event["attributes"], event["status"]
                            duration = event["duration_ms"]
                            # Those six, "event" and "ts" (and "error"): no other counter.
                            # Counting keys is cheaper than comparing key sets.
                            size = len(event)
                        except KeyError:
                            get = event.get
                            sid, tokens, uses = get("span_id"), get("tokens"), get("tool_uses")
                            attrs, status, duration = (
                                get("attributes"),
                                get("status"),
                                get("duration_ms"),
                            )
                            size, plain = 0, event.keys() <= plain_keys
                        if sid.__class__ is not str:
                            raise _Skip(f"span_id is {_type(sid)}, not a string")
                        if status.__class__ is not str and status is not None:
                            raise _Skip(f"status is {_type(status)}, not a string")
                        if duration.__class__ is float or duration.__class__ is int:
                            if not 0.0 <= duration <= ms_max:
                                raise _Skip(f"implausible duration_ms {duration!r}")
                        elif duration is not None:
                            raise _Skip(f"duration_ms is {_type(duration)}, not a number")
                        if attrs.__class__ is not dict:
                            if attrs is not None:
                                raise _Skip(f"attributes is {_type(attrs)}, not an object")
                        elif not attrs:
                            attrs = None
                        if (
                            size == 8
                            and tokens.__class__ is int
                            and uses.__class__ is int
                            and ts is not None  # else "ts" was missing: another key counts
                        ):
                            tok_sum += tokens  # the usual line: both are plain integers
                            tool_sum += uses
                            tok_seen = tool_seen = True
                        else:
                            if size:  # every usual key was there (else ``plain`` is known)
                                plain = ts is not None and (
                                    size == 8 or (size == 9 and "error" in event)
                                )
                            if plain:
                                # Integers of any size are exact in Python (their sums are
                                # written as floats past 64 bits); anything else is checked.
                                if tokens.__class__ is not int and tokens is not None:
                                    tokens = _real(tokens, "tokens")
                                if uses.__class__ is not int and uses is not None:
                                    uses = _real(uses, "tool_uses")
                            else:
                                tokens, uses = self._other_counters(event)
                            if tokens is None:
                                tokens = 0
                            else:
                                tok_sum += tokens
                                tok_seen = True
                            if uses is None:
                                uses = 0
                            else:
                                tool_sum += uses
                                tool_seen = True
                        record = open_pop(sid, None)
                        if record is None:
                            self._end_without_open_start(event, sid, tokens, uses)
                            continue
                        # One unpacking is cheaper than a subscript per field.
                        name, kind, began, tool, llm, keep, index, root, special = record
                        if keep.__class__ is dict:
                            cost = self._usage(llm, keep, attrs)
                        elif llm or (attrs is not None and not end_watch.isdisjoint(attrs)):
                            cost = self._end_usage(llm, keep, attrs)
                        else:
                            cost = 0.0
                        # The span's own sums go to its agent's record only: subtree sums
                        # are added up once, when a result is asked for.
                        if index >= 0:
                            acc = ctxs[index]
                            if tokens or uses or cost:
                                acc[0] += tokens
                                acc[1] += uses
                                acc[2] += cost
                            seen = acc[4]  # _touch, inlined: it runs for most spans
                            if now > seen:
                                if now - seen > stall:
                                    self._quiet(index, now)
                                acc[4] = now
                            elif seen == _NEVER:
                                self._touch(index, now)
                        if tool is None and attrs is not None:
                            tool = attrs.get("tool.name")  # set only at the end
                            if tool.__class__ is not str:
                                tool = None
                        if tool is not None:
                            stats = tools_get(tool)
                            if stats is None:
                                stats = tools[tool] = [0, 0.0, 0, array("d"), (0, 0.0)]
                            stats[0] += 1
                            if duration is not None:
                                stats[1] += duration
                                stats[3].append(duration)
                        if status == "error":
                            if tool is not None:
                                tools[tool][2] += 1
                            self._error(sid, name, kind, event.get("error"))
                        if special is not None:
                            self._special_end(special, status, duration)
                        if root and sid in roots:
                            roots[sid] = (duration, began)
                        if plan_spans and sid in plan_spans:
                            del plan_spans[sid]
                            self._plans_done += 1
                    elif tag == "span_start":
                        try:
                            sid, parent, name = event["span_id"], event["parent"], event["name"]
                            kind, attrs = event["kind"], event["attributes"]
                        except KeyError:
                            get = event.get
                            sid, parent, name = get("span_id"), get("parent"), get("name")
                            kind, attrs = get("kind"), get("attributes")
                        if sid.__class__ is not str:
                            raise _Skip(f"span_id is {_type(sid)}, not a string")
                        if name.__class__ is not str and name is not None:
                            raise _Skip(f"name is {_type(name)}, not a string")
                        if kind.__class__ is not str and kind is not None:
                            raise _Skip(f"kind is {_type(kind)}, not a string")
                        if attrs.__class__ is not dict:
                            if attrs is not None:
                                raise _Skip(f"attributes is {_type(attrs)}, not an object")
                        elif not attrs:
                            attrs = None
                        if parent.__class__ is str:
                            node = kin_get(parent)
                            if node is None:
                                node, root = self._first_child(sid, parent)
                            else:
                                root = False
                            parent, ctx = node
                        elif parent is None:
                            node, ctx, root = _ROOT_NODE, -1, True
                            roots[sid] = None
                        else:
                            raise _Skip(f"parent is {_type(parent)}, not a string")
                        tool = keep = special = None
                        llm = kind == "llm"
                        if attrs is not None:
                            op = attrs.get(op_key)
                            if op.__class__ is str and not llm:
                                llm = op in llm_ops
                            tool = attrs.get("tool.name")
                            if tool.__class__ is not str:
                                tool = None
                            if not start_watch.isdisjoint(attrs):
                                keep = {k: attrs[k] for k in start_keep if k in attrs}
                            elif llm:
                                keep = attrs.get(model_key)  # for pricing, if no cost recorded
                        else:
                            op = None
                        if tool is None and name is not None:
                            if name.startswith("tool."):
                                tool = name[5:]
                            elif kind == "tool":
                                tool = name
                        if ctx >= 0:  # _touch, inlined: it runs for every span
                            acc = ctxs[ctx]
                            seen = acc[4]
                            if now > seen:
                                if now - seen > stall:
                                    self._quiet(ctx, now)
                                acc[4] = now
                            elif seen == _NEVER:
                                self._touch(ctx, now)
                        if kind in specials or op == "invoke_agent":
                            ctx, special = self._special_start(sid, name, kind, op, attrs, ts, ctx)
                            node = (parent, ctx)  # its own context
                        if sid in kin:  # started again: its children's pair may change
                            del kin[sid]
                        nodes[sid] = node
                        open_[sid] = (name, kind, ts, tool, llm, keep, ctx, root, special)
                        if waiting and sid in waiting:
                            self._arrived(sid, ctx, root)
                        if plans and (
                            name in plan_names or (attrs is not None and "plan_id" in attrs)
                        ):
                            self._match_plan(sid, parent, name, attrs)
                    elif tag == "event":
                        sid = event.get("span_id")
                        if sid.__class__ is not str and sid is not None:
                            raise _Skip(f"span_id is {_type(sid)}, not a string")
                        node = nodes.get(sid) if sid is not None else None
                        if node is not None and node[1] >= 0:
                            self._touch(node[1], now)
                    elif tag.__class__ is str:
                        self._other_event(tag, event)
                        specials, stall = self._kinds | _PHASE_KIND, self._stall_s
                    else:
                        raise _Skip(f"event is {_type(tag)}, not a string")
                except Exception as exc:  # any line the rules above missed
                    self._skip(event, exc, events)
        finally:
            self._first_ts, self._last_ts = first, (last if last != _NEVER else -_NEVER)
            self._tokens, self._tool_uses = tok_sum, tool_sum
            self._tokens_seen, self._tool_uses_seen = tok_seen, tool_seen

    # -- rare cases of the loop ---------------------------------------------------------
    def _other_counters(self, event: Mapping[str, Any]) -> tuple[Any, Any]:
        """Counters of a span_end with keys besides the usual: tokens and tool_uses are
        returned (None when not numbers), every other number is summed here."""
        counters = self._counters
        tokens = uses = None
        found = []
        for key in event.keys() - RESERVED_END_KEYS:
            value = event[key]
            if value.__class__ is float:
                value = _real(value, key)
            elif value.__class__ is not int:
                if value is not None and (key == "tokens" or key == "tool_uses"):
                    raise _Skip(f"{key} is {_type(value)}, not a number")
                continue
            if key == "tokens":
                tokens = value
            elif key == "tool_uses":
                uses = value
            elif key.__class__ is str:
                found.append((key, value))
        for key, value in found:  # only once the whole line is known to be good
            counters[key] = counters.get(key, 0) + value
        return tokens, uses

    def _first_child(self, span_id: str, parent: str) -> tuple[_Node, bool]:
        """The (parent, context) pair of a span whose parent has no child yet, and
        whether the span is a root for now (its parent has not started)."""
        node = self._nodes.get(parent)
        if node is None:
            return (parent, self._orphan(span_id, parent)), True
        pair = self._kin[parent] = (parent, node[1])
        return pair, False

    def _new_ctx(self, up: int) -> int:
        self._ctx.append([0, 0, 0.0, up, _NEVER])
        index = len(self._ctx) - 1
        self._hold(index, up)
        return index

    def _hold(self, index: int, up: int) -> None:
        """Link a context under the nearest context at or above ``up`` still open."""
        up = self._open_at(up)
        if up >= 0:
            self._kids.setdefault(up, set()).add(index)
            self._holder[index] = up

    def _open_at(self, index: int) -> int:
        """The nearest context at or above ``index`` that has not ended. Ended stays
        ended, so the answer is kept for every context passed: lines under a deep
        chain of ended agents cost constant time each, not the chain's depth."""
        ended, past, ctxs = self._ended, self._past, self._ctx
        passed = []
        while index >= 0 and index in ended:
            passed.append(index)
            index = past.get(index, ctxs[index][_UP])
        for each in passed:
            past[each] = index
        return index

    def _touch(self, index: int, now: float) -> None:
        """A line at ``now`` in the subtree of context ``index``: the nearest watched agent
        at or above it was active then (and, through it, every agent above)."""
        if now == -_NEVER:
            return
        ctxs = self._ctx
        while index >= 0:
            acc = ctxs[index]
            seen = acc[_SEEN]
            if seen != _NEVER:
                if now > seen:
                    if now - seen > self._stall_s:
                        self._quiet(index, now)
                    acc[_SEEN] = now
                return
            # Ended, not started yet, or not timed: the one above.
            index = self._open_at(index) if index in self._ended else acc[_UP]

    def _quiet(self, index: int, now: float) -> None:
        """A line at ``now`` for the watched agent of ``index``, whose own last line is
        older than the stall time: each agent from it upwards whose whole subtree was
        silent that long stalled. Upwards, subtrees only grow, so the first agent
        with a recent enough line ends the walk."""
        stall, ctxs, latest = self._stall_s, self._ctx, self._latest
        memo: dict[int, float] = {}
        while index >= 0:
            if ctxs[index][_SEEN] != _NEVER:
                since = latest(index, memo)
                if not now - since > stall:
                    return
                if since > -_NEVER:
                    self._stalled(index, since, now)
            index = ctxs[index][_UP]

    def _latest(self, index: int, memo: dict[int, float]) -> float:
        """The last activity in the subtree of context ``index`` (-inf: none)."""
        kids, ctxs = self._kids, self._ctx
        order, stack = [], [index]
        while stack:
            current = stack.pop()
            if current not in memo:
                order.append(current)
                stack.extend(kids.get(current, ()))
        for current in reversed(order):  # children before their parents
            seen = ctxs[current][_SEEN]
            best = seen if seen != _NEVER else -_NEVER
            for kid in kids.get(current, ()):
                best = max(best, memo.get(kid, -_NEVER))
            memo[current] = best
        return memo[index]

    def _subtree_sums(self) -> list[list[Any]]:
        """Tokens, tool uses and cost of each context's whole subtree, leaves first."""
        ctxs = self._ctx
        sums = [acc[:3] for acc in ctxs]
        pending = [0] * len(ctxs)
        for acc in ctxs:
            if acc[_UP] >= 0:
                pending[acc[_UP]] += 1
        ready = [index for index, count in enumerate(pending) if not count]
        while ready:
            index = ready.pop()
            up = ctxs[index][_UP]
            if up >= 0:
                total, part = sums[up], sums[index]
                total[0] += part[0]
                total[1] += part[1]
                total[2] += part[2]
                pending[up] -= 1
                if not pending[up]:
                    ready.append(up)
        return sums

    def _stalled(self, ctx: int, since: float, now: float) -> None:
        """The agent of context ``ctx`` showed no line from ``since`` until ``now``."""
        agent = self._agent_at[ctx]
        self._stalls.append([agent[0], agent[1], agent[3], since, now - since])

    def _stand_in(self, span_id: str) -> int:
        """The accumulator of a span not started yet (created on first need)."""
        index = self._waiting.get(span_id)
        if index is None:
            index = self._waiting[span_id] = self._new_ctx(-1)
        return index

    def _orphan(self, span_id: str, parent: str) -> int:
        """A span whose parent has not started (yet, or in this run): a root for now."""
        self._roots[span_id] = None
        self._orphans.setdefault(parent, []).append(span_id)
        return self._stand_in(parent)

    def _arrived(self, span_id: str, ctx: int, root: bool) -> None:
        """The start of a span already referred to: hand over what waited for it."""
        index = self._waiting.pop(span_id)
        stand_in = self._ctx[index]
        # A span that is (directly or not) its own ancestor would make the chains
        # below loop forever: hostile or broken input. It stays a root.
        up = ctx
        while up >= 0:
            if up == index:
                ctx = -1
                break
            up = self._ctx[up][_UP]
        stand_in[_UP] = ctx  # its sums count upwards from now on (added up in results)
        self._hold(index, ctx)
        for child in self._orphans.pop(span_id, ()):
            self._roots.pop(child, None)
        early = self._early_ends.pop(span_id, None)
        if early is None:
            return
        record = self._open.pop(span_id)
        if record[_SPECIAL] is not None:
            self._special_end(record[_SPECIAL], *early)
        if root and span_id in self._roots:
            self._roots[span_id] = (early[1], record[_TS])
        for error in self._errors:
            if error[0] == span_id:
                error[1], error[2] = record[_NAME], record[_KIND]

    def _end_without_open_start(
        self, event: Mapping[str, Any], span_id: str, tokens: Any, uses: Any
    ) -> None:
        """A second end of a span (only its counters count), or an end before its start."""
        if span_id in self._nodes or span_id in self._early_ends:
            return
        status, duration = event.get("status"), event.get("duration_ms")
        self._early_ends[span_id] = (_text(status), duration)
        attrs = event.get("attributes")
        attrs = attrs if attrs.__class__ is dict and attrs else None
        cost = self._usage(False, None, attrs) if attrs is not None else 0.0
        acc = self._ctx[self._stand_in(span_id)]
        acc[_TOKENS] += tokens
        acc[_TOOL_USES] += uses
        acc[_COST_SUM] += cost
        tool = _text(attrs.get("tool.name")) if attrs is not None else None
        if tool is not None:
            stats = self._tools.setdefault(tool, [0, 0.0, 0, array("d"), (0, 0.0)])
            stats[_CALLS] += 1
            if _number(duration):
                stats[_TOTAL] += duration
                stats[_DURATIONS].append(duration)
            stats[_FAILURES] += status == "error"
        if status == "error":
            self._error(span_id, None, None, event.get("error"))

    def _special_start(
        self,
        span_id: str,
        name: str | None,
        kind: str | None,
        op: Any,
        attrs: Mapping[str, Any] | None,
        ts: Any,
        ctx: int,
    ) -> tuple[int, tuple[list[Any] | None, list[Any] | None] | None]:
        """An agent or phase span starts: its records, and the context its children use."""
        agent = phase = None
        if kind in self._kinds or op == "invoke_agent":
            ctx = self._new_ctx(ctx)
            agent_id = _text(attrs.get("gen_ai.agent.id")) if attrs is not None else None
            # span_id, name, kind, agent_id, status, duration, start ts, context
            agent = [span_id, name, kind, agent_id, None, None, ts, ctx]
            self._agents.append(agent)
            self._agent_at[ctx] = agent
            if ts.__class__ is float or ts.__class__ is int:
                self._ctx[ctx][_SEEN] = ts  # watched from its start until its end
        if kind == "phase":
            # name, start ts, ended, duration
            phase = self._phase_spans[span_id] = [name, ts, False, None]
        return ctx, (agent, phase)

    def _special_end(self, special: tuple[Any, Any], status: Any, duration: Any) -> None:
        agent, phase = special
        if agent is not None:
            self._end_watch(agent[7])
            agent[4] = _text(status)
            agent[5] = duration if _number(duration) else None
        if phase is not None:
            phase[2], phase[3] = True, duration

    def _end_watch(self, index: int) -> None:
        """An agent ended: no longer watched. Its last activity moves to the nearest
        watched agent above, and what is open below it hangs from its holder."""
        ctxs, kids, holder = self._ctx, self._kids, self._holder
        acc = ctxs[index]
        seen, acc[_SEEN] = acc[_SEEN], _NEVER
        self._ended.add(index)
        if seen != _NEVER:
            up = acc[_UP]
            while up >= 0 and ctxs[up][_SEEN] == _NEVER:
                up = self._open_at(up) if up in self._ended else ctxs[up][_UP]
            if up >= 0 and seen > ctxs[up][_SEEN]:
                ctxs[up][_SEEN] = seen
        above = holder.pop(index, -1)
        if above >= 0:
            kids[above].discard(index)
        for kid in kids.pop(index, ()):
            if above >= 0:
                kids.setdefault(above, set()).add(kid)
                holder[kid] = above
            else:
                holder.pop(kid, None)

    def _error(self, span_id: str, name: Any, kind: Any, error: Any) -> None:
        error = error if isinstance(error, Mapping) else {}
        self._errors.append(
            [span_id, name, kind, _text(error.get("type")), _text(error.get("message"))]
        )

    def _end_usage(self, llm: bool, model: Any, attrs: dict[str, Any] | None) -> float:
        """:meth:`_usage` for the usual case: usage and cost only in the end attributes.

        ``model`` is the start's ``gen_ai.request.model``: the start line had no other
        attribute this needs, so nothing is merged.
        """
        if attrs is None:
            if llm:
                self._llm_without_usage += 1
            return 0.0
        get = attrs.get
        a, b, c, d, e = get(_IN), get(_OUT), get(_REASONING), get(_CACHE_READ), get(_CACHE_NEW)
        if a is None and b is None and c is None and d is None and e is None:
            if not llm:
                op = get(_OP)
                llm = op.__class__ is str and op in _LLM_OPERATIONS
            if llm and get(USAGE_ON_CHILD) is not True:
                self._llm_without_usage += 1
        else:
            types = self._token_types
            if a.__class__ is int or a.__class__ is float:
                types[0] += a
            if b.__class__ is int or b.__class__ is float:
                types[1] += b
            if c.__class__ is int or c.__class__ is float:
                types[2] += c
            if d.__class__ is int or d.__class__ is float:
                types[3] += d
            if e.__class__ is int or e.__class__ is float:
                types[4] += e
        cost = get(_COST)
        if cost.__class__ is float or cost.__class__ is int:
            self._cost += cost
            return float(cost)
        if a is None and b is None:
            return 0.0
        if model.__class__ is str and "gen_ai.request.model" not in attrs:
            attrs = {"gen_ai.request.model": model, **attrs}
        return self._price(attrs)

    def _usage(self, llm: bool, kept: dict[str, Any] | None, attrs: dict[str, Any] | None) -> float:
        """Token types, LLM calls without usage and cost of one ended span.

        Usage is read from the start attributes merged with the end's (the end wins).
        Spans that recorded ``gen_ai.usage.cost_usd`` keep it; others with usage are
        priced from the table, so usage recorded by hand is costed too.
        """
        merged = {**kept, **attrs} if kept and attrs else kept or attrs or {}
        if not llm:
            op = merged.get(_OP)
            llm = op.__class__ is str and op in _LLM_OPERATIONS
        has_usage = False
        types = self._token_types
        for position, key in enumerate(_TOKEN_KEYS):
            value = merged.get(key)
            if value is not None:
                has_usage = True
                if _number(value):
                    types[position] += value
        if llm and not has_usage and merged.get(USAGE_ON_CHILD) is not True:
            self._llm_without_usage += 1
        cost = merged.get(_COST)
        if _number(cost):
            self._cost += cost
            return float(cost)
        if not any(key in merged for key in _PRICED_KEYS):
            return 0.0
        return self._price(merged)

    def _price(self, merged: Mapping[str, Any]) -> float:
        """Cost from the usage and the model; an unpriced model is listed, not costed."""
        model = merged.get("gen_ai.response.model") or merged.get("gen_ai.request.model")
        if not isinstance(model, str) or not model:
            self._unpriced.add("(unknown model)")
            return 0.0
        table = self._prices if self._prices is not None else PriceTable.default()
        computed = compute_cost(usage_from_attributes(merged), model, table)
        if computed is None:
            self._unpriced.add(model)
            return 0.0
        self._cost += computed
        return computed

    def _other_event(self, tag: Any, event: Mapping[str, Any]) -> None:
        """Lines that are not spans: headers, trailers, milestones, plans."""
        if tag == "phase":
            wall, agents = event.get("wall_ms"), event.get("agents")
            if wall is not None and not (_number(wall) and 0 <= wall <= _MS_MAX):
                raise _Skip(f"wall_ms is {wall!r}, not a plausible number")
            if agents is not None and not (agents.__class__ is int and 0 <= agents <= _COUNT_MAX):
                raise _Skip(f"agents is {agents!r}, not a plausible count")
            self._phase_events.append(
                {str(k): _json_safe(v) for k, v in event.items() if k != "event"}
            )
        elif tag == "span_planned":
            self._plan(event)
        elif tag == "run_start" or tag == "process_start":
            self._started_pids.add(_pid(event))
            if tag == "run_start" and self._run_start is None:
                self._run_start = event
                recorded = event.get("agent_kinds")
                if not self._explicit_kinds and isinstance(recorded, list):
                    self._kinds = frozenset(k for k in recorded if isinstance(k, str))
                stall_s = event.get("stall_s")
                if not self._explicit_stall and _number(stall_s) and 0 < stall_s < math.inf:
                    self._stall_s = float(stall_s)
        elif tag == "process_end":
            self._process_end(event)

    def _process_end(self, event: Mapping[str, Any]) -> None:
        dropped = _count(event.get("dropped_events"), "dropped_events")
        suppressed = _count(event.get("suppressed_spans"), "suppressed_spans")
        exporters = event.get("exporters")
        figures = []
        if isinstance(exporters, Mapping):
            for name, stats in exporters.items():
                if not isinstance(name, str) or not isinstance(stats, Mapping):
                    continue
                counts = [_count(v, f"exporters.{name}") for v in _exporter_fields(stats)]
                exported, dropped_n, failed = counts[1:]
                received = stats.get("received")
                counts[0] = (
                    _count(received, f"exporters.{name}")
                    if received is not None
                    else exported + dropped_n + failed
                )
                figures.append((name, counts))
        pid = _pid(event)
        # Only once the whole line is known to be good.
        self._ended_pids.add(pid)
        self._dropped += dropped
        self._suppressed += suppressed
        for name, counts in figures:
            totals = self._exporters.setdefault(name, [0, 0, 0, 0])
            for position, value in enumerate(counts):
                totals[position] += value

    def _plan(self, event: Mapping[str, Any]) -> None:
        plan_id, name = event.get("plan_id"), event.get("name")
        self._planned += 1
        if not isinstance(plan_id, str) or not isinstance(name, str):
            return
        self._plans_by_id[plan_id] = name
        self._plans_by_name.setdefault(name, []).append((plan_id, _text(event.get("parent"))))

    def _match_plan(
        self, span_id: str, parent: str | None, name: str | None, attrs: Mapping[str, Any] | None
    ) -> None:
        """A span that fulfils a plan: the one it names, else the first plan of its name
        whose parent is one of the span's ancestors (any span when the plan has none)."""
        explicit = attrs.get("plan_id") if attrs is not None else None
        if explicit.__class__ is str and explicit in self._plans_by_id:
            self._fulfil(span_id, explicit)
            return
        pending = self._plans_by_name.get(name) if name is not None else None
        if not pending:
            return
        ancestors = self._ancestors(parent)
        for plan_id, plan_parent in pending:
            if plan_parent is None or plan_parent in ancestors:
                self._fulfil(span_id, plan_id)
                return

    def _ancestors(self, parent: str | None) -> set[str]:
        found: set[str] = set()
        while parent is not None and parent not in found:
            found.add(parent)
            node = self._nodes.get(parent)
            parent = node[0] if node is not None else None
        return found

    def _fulfil(self, span_id: str, plan_id: str) -> None:
        name = self._plans_by_id.pop(plan_id)
        pending = self._plans_by_name[name]
        pending[:] = [plan for plan in pending if plan[0] != plan_id]
        if not pending:
            del self._plans_by_name[name]
        self._plans_started += 1
        self._plan_spans[span_id] = plan_id

    # -- the summary ---------------------------------------------------------------------
    def result(self) -> RunSummary:
        """The summary of everything folded so far (the fold itself is not changed).

        Returns:
            A new :class:`RunSummary`.
        """
        with self._lock:
            return self._result()

    def _result(self) -> RunSummary:
        run_start = self._run_start or {}
        counters = dict(self._counters)
        if self._tokens_seen:
            counters["tokens"] = self._tokens
        if self._tool_uses_seen:
            counters["tool_uses"] = self._tool_uses
        counters = {key: _fit(counters[key]) for key in sorted(counters)}
        agents = self._agent_cards()
        return RunSummary(
            run_id=_text(run_start.get("run_id")) or self._run_id,
            status=self._status(),
            source_repo=_text(run_start.get("source_repo")),
            source_commit=_text(run_start.get("source_commit")),
            total_wall_ms=self._total_wall_ms(),
            phases=self._phases(),
            totals=Totals(
                agents_spawned=len(self._agents),
                total_tokens=counters.get("tokens", 0),
                total_tool_uses=counters.get("tool_uses", 0),
                analyses_written=counters.get("analyses_written", 0),
                cost_usd=round(_fit(self._cost), 8),
                tokens_by_type=TokensByType(*map(_fit, self._token_types)),
                llm_calls_without_usage=self._llm_without_usage,
                suppressed_spans=min(self._suppressed, _COUNT_MAX),
                counters=counters,
            ),
            errors=[SpanError(*error) for error in self._errors],
            dropped_events=min(self._dropped, _COUNT_MAX),
            span_count=len(self._nodes) + len(self._early_ends),
            open_spans=len(self._open),
            processes=len(self._started_pids),
            milestones=self._milestones(),
            unpriced_models=sorted(self._unpriced),
            agents=agents,
            skipped_lines=sorted(
                (dict(problem) for problem in self._problems),
                key=lambda problem: (str(problem["file"]), problem["line"]),
            ),
            skipped_line_count=self._problem_count,
            tools=self._tool_stats(),
            exporters={
                name: ExporterStats(*(min(n, _COUNT_MAX) for n in self._exporters[name]))
                for name in sorted(self._exporters)
            },
            open_span_list=self._open_span_list(),
            stalls=self._stall_list(),
            plan=PlanProgress(self._planned, self._plans_started, self._plans_done),
            failed_agents=sum(agent.status == "error" for agent in agents),
        )

    def _status(self) -> str:
        if any(error[0] in self._roots for error in self._errors):
            return "error"
        if self._started_pids - self._ended_pids:
            return "incomplete"
        return "ok"

    def _since_start_ms(self, ts: Any) -> float:
        """Time from ``ts`` to the last line read: the wall time of a span still open."""
        if _number(ts) and self._last_ts > -math.inf:
            return round_ms(max(0.0, (self._last_ts - ts) * 1000.0))
        return 0.0

    def _total_wall_ms(self) -> float:
        if len(self._roots) == 1:
            ended = next(iter(self._roots.values()))
            if ended is not None:
                duration, ts = ended
                return float(duration) if _number(duration) else self._since_start_ms(ts)
        if self._last_ts == -math.inf:
            return 0.0
        return round_ms((self._last_ts - self._first_ts) * 1000.0)

    def _nearest_phase(self, span_id: str, memo: dict[str, str | None]) -> str | None:
        """The span id of the closest ancestor of kind ``phase``. ``memo`` keeps the
        answer for every span passed on the way, so nested agents cost linear time."""
        nodes, phases = self._nodes, self._phase_spans
        path: list[str] = []
        on_path: set[str] = {span_id}
        node = nodes.get(span_id)
        parent = node[0] if node is not None else None
        found: str | None = None
        while parent is not None and parent not in on_path:  # a cycle: no phase
            if parent in phases:
                found = parent
                break
            if parent in memo:
                found = memo[parent]
                break
            path.append(parent)
            on_path.add(parent)
            node = nodes.get(parent)
            parent = node[0] if node is not None else None
        for passed in path:
            memo[passed] = found
        return found

    def _milestones(self) -> list[dict[str, Any]]:
        """Phase lines in time order; ``wall_ms`` recomputed across the whole run.

        A line's own ``wall_ms`` is what its process measured since its previous
        phase line (kept as ``process_wall_ms``); here it is the time since the
        previous phase line of *any* process, or since the run started.
        """
        run_start = self._run_start or {}
        started = run_start.get("ts")
        previous = started if _number(started) else self._first_ts
        ordered = sorted(
            enumerate(self._phase_events), key=lambda item: (_sort_ts(item[1].get("ts")), item[0])
        )
        milestones = []
        for _, event in ordered:
            milestone = dict(event)
            ts = event.get("ts")
            if _number(ts) and math.isfinite(previous):
                milestone["process_wall_ms"] = event.get("wall_ms")
                milestone["wall_ms"] = round_ms(max(0.0, (ts - previous) * 1000.0))
                previous = ts
            milestones.append(milestone)
        return milestones

    def _phases(self) -> dict[str, PhaseSummary]:
        phases: dict[str, PhaseSummary] = {}
        if not self._phase_spans:
            for event in self._phase_events:
                _add_phase(phases, str(event.get("name")), _phase_from_event(event))
            return phases
        counts: dict[str, int] = {}
        memo: dict[str, str | None] = {}
        for agent in self._agents:
            phase_id = self._nearest_phase(agent[0], memo)
            if phase_id is not None:
                counts[phase_id] = counts.get(phase_id, 0) + 1
        ordered = sorted(self._phase_spans.items(), key=lambda item: _sort_ts(item[1][1]))
        for span_id, (name, ts, ended, duration) in ordered:
            if ended and _number(duration):
                wall, incomplete = float(duration), None
            else:
                wall, incomplete = self._since_start_ms(ts), True
            summary = PhaseSummary(wall, counts.get(span_id) or None, incomplete)
            _add_phase(phases, str(name), summary)
        return phases

    def _agent_cards(self) -> list[AgentSummary]:
        """Agents with subtree sums, in start order."""
        cards = []
        sums = self._subtree_sums()
        for span_id, name, kind, agent_id, status, duration, _ts, ctx in sorted(
            self._agents, key=lambda agent: _sort_ts(agent[6])
        ):
            tokens, uses, cost = sums[ctx]
            cost = round(_fit(cost), 8)
            cards.append(
                AgentSummary(
                    span_id, name, kind, agent_id, status, duration, _fit(tokens), _fit(uses), cost
                )
            )
        return cards

    def _tool_stats(self) -> dict[str, ToolStats]:
        stats = {}
        for name in sorted(self._tools):
            record = self._tools[name]
            calls, total, failures, durations, (known, p95) = record
            timed = len(durations)
            if timed != known:
                # The 95th percentile is the k-th largest duration: a heap of k (a
                # twentieth of them), not a sort of all, and only when new calls came.
                # Durations are C doubles (array), not float objects: less memory.
                largest = timed - math.ceil(0.95 * timed) + 1
                p95 = heapq.nlargest(largest, durations)[-1]
                record[_P95] = (timed, p95)
            stats[name] = ToolStats(
                calls=calls,
                total_ms=round_ms(total),
                avg_ms=round_ms(total / timed) if timed else 0.0,
                p95_ms=round_ms(p95),
                failures=failures,
            )
        return stats

    def _stall_list(self) -> list[dict[str, Any]]:
        """Stalls recovered from, and those of running agents silent since before the
        run's last line; by start of the silence. Costs time in agents and stalls."""
        stalls = [(*stall, True) for stall in self._stalls]
        last = self._last_ts
        memo: dict[int, float] = {}
        for agent in self._agents:
            if self._ctx[agent[7]][_SEEN] == _NEVER:
                continue  # ended (or never timed): not watched
            seen = self._latest(agent[7], memo)
            if last - seen > self._stall_s:
                stalls.append((agent[0], agent[1], agent[3], seen, last - seen, False))
        stalls.sort(key=lambda stall: (stall[3], str(stall[0])))
        return [
            {
                "span_id": span_id,
                "name": name,
                "agent_id": agent_id,
                "since_ts": since,
                "stalled_ms": round_ms(gap * 1000.0),
                "recovered": recovered,
            }
            for span_id, name, agent_id, since, gap, recovered in stalls
        ]

    def _open_span_list(self) -> list[dict[str, Any]]:
        oldest = heapq.nsmallest(
            _MAX_OPEN_LISTED, self._open.items(), key=lambda item: _sort_ts(item[1][_TS])
        )
        return [
            {"span_id": span_id, "name": record[_NAME], "start_ts": record[_TS]}
            for span_id, record in oldest
        ]


def _count(value: Any, field: str) -> int:
    """A count a line carries (0 when absent); a wrong one skips the line."""
    if value is None:
        return 0
    if not _number(value) or not 0 <= value <= _COUNT_MAX:
        raise _Skip(f"{field} is {value!r}, not a plausible count")
    return int(value)


def _pid(event: Mapping[str, Any]) -> int | None:
    """The process id of a header or trailer line; a wrong one skips the line."""
    pid = event.get("pid")
    if pid is not None and pid.__class__ is not int:
        raise _Skip(f"pid is {_type(pid)}, not an integer")
    return pid


def _exporter_fields(stats: Mapping[str, Any]) -> Sequence[Any]:
    """Received (filled in later), exported, dropped, failed."""
    return (None, stats.get("exported"), stats.get("dropped"), stats.get("failed"))


def _add_phase(phases: dict[str, PhaseSummary], name: str, phase: PhaseSummary) -> None:
    """Repeated phase names (one per round, say) add up instead of overwriting."""
    known = phases.get(name)
    if known is None:
        phases[name] = phase
        return
    known.wall_ms = round_ms(known.wall_ms + phase.wall_ms)
    if phase.agents:
        known.agents = (known.agents or 0) + phase.agents
    if phase.incomplete:
        known.incomplete = True


def _phase_from_event(event: Mapping[str, Any]) -> PhaseSummary:
    wall, agents = event.get("wall_ms"), event.get("agents")
    # Caller counts ride along, but never as our own fields (agents="many" would break).
    extra = {k: v for k, v in event.items() if k not in _PHASE_EVENT_FIELDS}
    return PhaseSummary(
        wall_ms=float(wall) if _number(wall) else 0.0,
        agents=agents if agents.__class__ is int else None,
        extra=extra,
    )
