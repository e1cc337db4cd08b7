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

The fold is split by concern: this module feeds lines through the hot loop;
``_summary_state`` holds the state, ``_summary_tree`` the subtree sums,
``_summary_stalls`` the stalls, ``_summary_lines`` the lines the loop hands over
(usage and cost, plans, process lines), ``_summary_result`` the result with the
tools' percentiles, and ``_summary_base`` the record slots and value checks they
share.

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

from array import array
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from spanline._capture._prices import PriceTable
from spanline.folds._limits import MS_MAX, TS_MAX, TS_MIN
from spanline.folds._summary_base import (
    BRIDGED_KEY,
    END_WATCH,
    LLM_OPERATIONS,
    MAX_LISTED_PROBLEMS,
    NEVER,
    OP,
    PHASE_KIND,
    PLAIN_END_KEYS,
    ROOT_NODE,
    START_KEEP,
    START_WATCH,
    SkipLine,
    real_counter,
    type_name,
)
from spanline.folds._summary_rank import KthLargest
from spanline.folds._summary_result import _Result
from spanline.folds.events import LineProblem

__all__ = ["SummaryFold"]


class SummaryFold(_Result):
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
        self._start(agent_kinds=agent_kinds, prices=prices, run_id=run_id, stall_s=stall_s)

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
        reason = str(error) if isinstance(error, SkipLine) else f"{type(error).__name__}: {error}"
        problem = LineProblem(file or "<events>", line, reason[:200])
        self._problem_count += 1
        if len(self._problems) < MAX_LISTED_PROBLEMS:
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
                if len(self._problems) < MAX_LISTED_PROBLEMS:
                    self._problems.append(problem.to_dict())

    def _fold(self, events: Sequence[Mapping[str, Any]]) -> None:
        # One long function on purpose, the only one in the package: the usual line's
        # path stays in one frame, because each call taken out of it would cost once per
        # line of a loop tuned and measured line by line ("Folding a run" in
        # docs/performance.md). Rare cases are methods.
        #
        # Runs once per line of possibly millions: state in locals, plain comparisons,
        # ``.__class__ is`` checks, and every rare case handed to a method. A line that
        # breaks a rule raises inside the guard below and is skipped and reported; the
        # guard costs nothing until something raises. Checks come before any change to
        # the state, so a skipped line leaves no trace but its place in the time range.
        first, last = self._first_ts, self._last_ts
        if last == -NEVER:
            last = NEVER  # no time read yet: the first one is a new earliest (see below)
        tok_sum, tool_sum = self._tokens, self._tool_uses
        tok_seen, tool_seen = self._tokens_seen, self._tool_uses_seen
        nodes, open_, roots, ctxs = self._nodes, self._open, self._roots, self._ctx
        kin, kin_get, open_pop, tools = self._kin, self._kin.get, self._open.pop, self._tools
        tools_get, waiting, plan_spans = tools.get, self._waiting, self._plan_spans
        stall, never = self._stall_s, -NEVER
        specials = self._kinds | PHASE_KIND  # agent kinds and "phase": their own context
        plain_keys, start_watch, end_watch = PLAIN_END_KEYS, START_WATCH, END_WATCH
        llm_ops, start_keep, op_key = LLM_OPERATIONS, START_KEEP, OP
        bridged = BRIDGED_KEY
        ts_min, ts_max, ms_max = TS_MIN, TS_MAX, MS_MAX
        model_key, plans, plan_names = (
            "gen_ai.request.model",
            self._plan_matcher.pending,
            self._plan_matcher.pending_names,
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
                                raise SkipLine(f"implausible timestamp {ts!r}")
                            last = ts
                        elif ts < first:
                            if not ts_min <= ts <= ts_max:
                                raise SkipLine(f"implausible timestamp {ts!r}")
                            first = ts
                            if last == NEVER:
                                last = ts  # the first time read
                        elif not ts <= ts_max:
                            raise SkipLine(
                                "timestamp is not a number"
                                if ts != ts
                                else f"implausible timestamp {ts!r}"
                            )
                        now = ts
                    elif ts is None:
                        now = never  # moves no agent's last activity
                    else:
                        raise SkipLine(f"ts is {type_name(ts)}, not a number")
                    if tag == "span_end":
                        late = False
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
                            raise SkipLine(f"span_id is {type_name(sid)}, not a string")
                        if status.__class__ is not str and status is not None:
                            raise SkipLine(f"status is {type_name(status)}, not a string")
                        if duration.__class__ is float or duration.__class__ is int:
                            if not 0.0 <= duration <= ms_max:
                                raise SkipLine(f"implausible duration_ms {duration!r}")
                        elif duration is not None:
                            raise SkipLine(f"duration_ms is {type_name(duration)}, not a number")
                        if attrs.__class__ is not dict:
                            if attrs is not None:
                                raise SkipLine(f"attributes is {type_name(attrs)}, not an object")
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
                                    tokens = real_counter(tokens, "tokens")
                                if uses.__class__ is not int and uses is not None:
                                    uses = real_counter(uses, "tool_uses")
                            else:
                                tokens, uses = self._other_counters(event)
                            # A span classified at its end (the bridge's): the end wins.
                            late = "kind" in event or "name" in event
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
                        if late:
                            name, kind, tool, llm, special = self._late(
                                event, sid, record, attrs, began
                            )
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
                            elif seen == NEVER:
                                self._touch(index, now)
                        if tool is None and attrs is not None:
                            tool = attrs.get("tool.name")  # set only at the end
                            if tool.__class__ is not str:
                                tool = None
                        if tool is not None:
                            stats = tools_get(tool)
                            if stats is None:
                                stats = tools[tool] = [0, 0.0, 0, array("d"), KthLargest()]
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
                            raise SkipLine(f"span_id is {type_name(sid)}, not a string")
                        if name.__class__ is not str and name is not None:
                            raise SkipLine(f"name is {type_name(name)}, not a string")
                        if kind.__class__ is not str and kind is not None:
                            raise SkipLine(f"kind is {type_name(kind)}, not a string")
                        if attrs.__class__ is not dict:
                            if attrs is not None:
                                raise SkipLine(f"attributes is {type_name(attrs)}, not an object")
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
                            node, ctx, root = ROOT_NODE, -1, True
                            roots[sid] = None
                        else:
                            raise SkipLine(f"parent is {type_name(parent)}, not a string")
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
                            elif seen == NEVER:
                                self._touch(ctx, now)
                        if kind in specials or op == "invoke_agent":
                            ctx, special = self._special_start(sid, name, kind, op, attrs, ts, ctx)
                            node = (parent, ctx)  # its own context
                        elif attrs is not None and bridged in attrs:
                            # Read through the bridge: it may turn out an agent at its end,
                            # so its subtree gets its own context (summed upwards).
                            ctx = self._new_ctx(ctx)
                            special, node = (ctx, None), (parent, ctx)
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
                            raise SkipLine(f"span_id is {type_name(sid)}, not a string")
                        node = nodes.get(sid) if sid is not None else None
                        if node is not None and node[1] >= 0:
                            self._touch(node[1], now)
                    elif tag.__class__ is str:
                        self._other_event(tag, event)
                        specials, stall = self._kinds | PHASE_KIND, self._stall_s
                    else:
                        raise SkipLine(f"event is {type_name(tag)}, not a string")
                except Exception as exc:  # any line the rules above missed
                    self._skip(event, exc, events)
        finally:
            self._first_ts, self._last_ts = first, (last if last != NEVER else -NEVER)
            self._tokens, self._tool_uses = tok_sum, tool_sum
            self._tokens_seen, self._tool_uses_seen = tok_seen, tool_seen
