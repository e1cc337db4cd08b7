"""The lines the fold's loop hands over: usage and cost, errors, unusual span ends,
process headers and trailers, other events and planned work."""

from __future__ import annotations

import math
from array import array
from collections.abc import Mapping
from typing import Any

from spanline._capture._prices import PriceTable, compute_cost
from spanline._capture._usage import usage_from_attributes
from spanline.folds._limits import COUNT_MAX, MS_MAX
from spanline.folds._summary_base import (
    CACHE_NEW,
    CACHE_READ,
    CALLS,
    COST,
    COST_SUM,
    DURATIONS,
    FAILURES,
    IN,
    KIND,
    LLM,
    LLM_OPERATIONS,
    NAME,
    OP,
    OUT,
    PRICED_KEYS,
    REASONING,
    SEEN,
    SPECIAL,
    TOKEN_KEYS,
    TOKENS,
    TOOL,
    TOOL_USES,
    TOTAL,
    TS,
    UP,
    SkipLine,
    count_of,
    exporter_fields,
    is_number,
    json_safe,
    pid_of,
    real_counter,
    text_or_none,
    type_name,
)
from spanline.folds._summary_rank import KthLargest
from spanline.folds._summary_stalls import _Stalls
from spanline.schema import DUPLICATE_OF, RESERVED_END_KEYS, USAGE_ON_CHILD


class _Lines(_Stalls):
    """Part of :class:`~spanline.folds.summary.SummaryFold` (see its module)."""

    def _other_counters(self, event: Mapping[str, Any]) -> tuple[Any, Any]:
        """Counters of a span_end with keys besides the usual: tokens and tool_uses are
        returned (None when not numbers), every other number is summed here."""
        counters = self._counters
        tokens = uses = None
        found = []
        for key in event.keys() - RESERVED_END_KEYS:
            value = event[key]
            if value.__class__ is float:
                value = real_counter(value, key)
            elif value.__class__ is not int:
                if value is not None and (key == "tokens" or key == "tool_uses"):
                    raise SkipLine(f"{key} is {type_name(value)}, not a number")
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
            up = self._ctx[up][UP]
        stand_in[UP] = ctx  # its sums count upwards from now on (added up in results)
        self._hold(index, ctx)
        for child in self._orphans.pop(span_id, ()):
            self._roots.pop(child, None)
        early = self._early_ends.pop(span_id, None)
        if early is None:
            return
        record = self._open.pop(span_id)
        if record[SPECIAL] is not None:
            self._special_end(record[SPECIAL], *early)
        if root and span_id in self._roots:
            self._roots[span_id] = (early[1], record[TS])
        for error in self._errors:
            if error[0] == span_id:
                error[1], error[2] = record[NAME], record[KIND]

    def _end_without_open_start(
        self, event: Mapping[str, Any], span_id: str, tokens: Any, uses: Any
    ) -> None:
        """A second end of a span (only its counters count), or an end before its start."""
        if span_id in self._nodes or span_id in self._early_ends:
            return
        status, duration = event.get("status"), event.get("duration_ms")
        self._early_ends[span_id] = (text_or_none(status), duration)
        attrs = event.get("attributes")
        attrs = attrs if attrs.__class__ is dict and attrs else None
        cost = self._usage(False, None, attrs) if attrs is not None else 0.0
        acc = self._ctx[self._stand_in(span_id)]
        acc[TOKENS] += tokens
        acc[TOOL_USES] += uses
        acc[COST_SUM] += cost
        tool = text_or_none(attrs.get("tool.name")) if attrs is not None else None
        if tool is not None:
            stats = self._tools.setdefault(tool, [0, 0.0, 0, array("d"), KthLargest()])
            stats[CALLS] += 1
            if is_number(duration):
                stats[TOTAL] += duration
                stats[DURATIONS].append(duration)
            stats[FAILURES] += status == "error"
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
            agent_id = text_or_none(attrs.get("gen_ai.agent.id")) if attrs is not None else None
            # span_id, name, kind, agent_id, status, duration, start ts, context
            agent = [span_id, name, kind, agent_id, None, None, ts, ctx]
            self._agents.append(agent)
            self._agent_at[ctx] = agent
            if ts.__class__ is float or ts.__class__ is int:
                self._ctx[ctx][SEEN] = ts  # watched from its start until its end
        if kind == "phase":
            # name, start ts, ended, duration
            phase = self._phase_spans[span_id] = [name, ts, False, None]
        return ctx, (agent, phase)

    def _late(
        self,
        event: Mapping[str, Any],
        span_id: str,
        record: tuple[Any, ...],
        attrs: Mapping[str, Any] | None,
        began: Any,
    ) -> tuple[Any, Any, Any, bool, Any]:
        """A span_end that overrides its start's ``kind`` or ``name`` (a span the bridge
        classified at its end): the final name, kind, tool, whether it is an LLM call,
        and its agent record when it turned out an agent."""
        name, kind, tool, llm, special = (
            record[NAME],
            record[KIND],
            record[TOOL],
            record[LLM],
            record[SPECIAL],
        )
        final = event.get("kind", kind)
        name = text_or_none(event.get("name", name))
        kind = final if final.__class__ is str else None
        llm = llm or kind == "llm"
        if tool is None and name is not None:
            tool = name[5:] if name.startswith("tool.") else name if kind == "tool" else None
        agent = special[0] if special is not None else None
        if agent.__class__ is int and (
            kind in self._kinds or (attrs is not None and attrs.get(OP) == "invoke_agent")
        ):
            ctx = agent  # the context the bridged span's subtree already used
            agent_id = text_or_none(attrs.get("gen_ai.agent.id")) if attrs is not None else None
            agent = [span_id, name, kind, agent_id, None, None, began, ctx]
            self._agents.append(agent)
            self._agent_at[ctx] = agent
            special = (agent, None)
        elif agent.__class__ is list and attrs is not None:
            agent_id = text_or_none(attrs.get("gen_ai.agent.id"))
            agent[1], agent[2] = name, kind
            agent[3] = agent_id or agent[3]
        return name, kind, tool, llm, special

    def _special_end(self, special: tuple[Any, Any], status: Any, duration: Any) -> None:
        agent, phase = special
        if agent.__class__ is int:  # a bridged span's own context: no longer watched
            self._end_watch(agent)
            return
        if agent is not None:
            self._end_watch(agent[7])
            agent[4] = text_or_none(status)
            agent[5] = duration if is_number(duration) else None
        if phase is not None:
            phase[2], phase[3] = True, duration

    def _error(self, span_id: str, name: Any, kind: Any, error: Any) -> None:
        error = error if isinstance(error, Mapping) else {}
        self._errors.append(
            [
                span_id,
                name,
                kind,
                text_or_none(error.get("type")),
                text_or_none(error.get("message")),
            ]
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
        a, b, c, d, e = get(IN), get(OUT), get(REASONING), get(CACHE_READ), get(CACHE_NEW)
        if a is None and b is None and c is None and d is None and e is None:
            if not llm:
                op = get(OP)
                llm = op.__class__ is str and op in LLM_OPERATIONS
            if llm and get(USAGE_ON_CHILD) is not True and get(DUPLICATE_OF) is None:
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
        cost = get(COST)
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
            op = merged.get(OP)
            llm = op.__class__ is str and op in LLM_OPERATIONS
        has_usage = False
        types = self._token_types
        for position, key in enumerate(TOKEN_KEYS):
            value = merged.get(key)
            if value is not None:
                has_usage = True
                if is_number(value):
                    types[position] += value
        if (
            llm
            and not has_usage
            and merged.get(USAGE_ON_CHILD) is not True
            and merged.get(DUPLICATE_OF) is None  # another span recorded this call
        ):
            self._llm_without_usage += 1
        cost = merged.get(COST)
        if is_number(cost):
            self._cost += cost
            return float(cost)
        if not any(key in merged for key in PRICED_KEYS):
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
            if wall is not None and not (is_number(wall) and 0 <= wall <= MS_MAX):
                raise SkipLine(f"wall_ms is {wall!r}, not a plausible number")
            if agents is not None and not (agents.__class__ is int and 0 <= agents <= COUNT_MAX):
                raise SkipLine(f"agents is {agents!r}, not a plausible count")
            self._phase_events.append(
                {str(k): json_safe(v) for k, v in event.items() if k != "event"}
            )
        elif tag == "span_planned":
            self._plan(event)
        elif tag == "run_start" or tag == "process_start":
            self._started_pids.add(pid_of(event))
            if tag == "run_start" and self._run_start is None:
                self._run_start = event
                recorded = event.get("agent_kinds")
                if not self._explicit_kinds and isinstance(recorded, list):
                    self._kinds = frozenset(k for k in recorded if isinstance(k, str))
                stall_s = event.get("stall_s")
                if not self._explicit_stall and is_number(stall_s) and 0 < stall_s < math.inf:
                    self._stall_s = float(stall_s)
        elif tag == "process_end":
            self._process_end(event)

    def _process_end(self, event: Mapping[str, Any]) -> None:
        dropped = count_of(event.get("dropped_events"), "dropped_events")
        suppressed = count_of(event.get("suppressed_spans"), "suppressed_spans")
        exporters = event.get("exporters")
        figures = []
        if isinstance(exporters, Mapping):
            for name, stats in exporters.items():
                if not isinstance(name, str) or not isinstance(stats, Mapping):
                    continue
                counts = [count_of(v, f"exporters.{name}") for v in exporter_fields(stats)]
                exported, dropped_n, failed = counts[1:]
                received = stats.get("received")
                counts[0] = (
                    count_of(received, f"exporters.{name}")
                    if received is not None
                    else exported + dropped_n + failed
                )
                figures.append((name, counts))
        pid = pid_of(event)
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
        if isinstance(plan_id, str) and isinstance(name, str):
            self._plan_matcher.add(plan_id, name, event.get("parent"))

    def _match_plan(
        self, span_id: str, parent: str | None, name: str | None, attrs: Mapping[str, Any] | None
    ) -> None:
        """A span that fulfils a plan, by the rule of ``tracer.plan`` (folds/_plans)."""
        explicit = attrs.get("plan_id") if attrs is not None else None
        plan_id = self._plan_matcher.match(name, explicit, parent, self._parent_of)
        if plan_id is not None:
            self._fulfil(span_id, plan_id)

    def _parent_of(self, span_id: Any) -> str | None:
        node = self._nodes.get(span_id)
        return node[0] if node is not None else None

    def _fulfil(self, span_id: str, plan_id: str) -> None:
        self._plans_started += 1
        self._plan_spans[span_id] = plan_id
