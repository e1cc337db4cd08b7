"""Where calls and money went: tools, LLM calls, errors and waste."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from spanline.folds._summary_model import round_ms, round_usd
from spanline.folds.analysis._index import Indexed, SpanRecord, bounded
from spanline.schema import DUPLICATE_OF, USAGE_ON_CHILD

__all__ = ["errors", "llm_calls", "tools", "waste"]

TOP = 10
#: A call is an outlier when it took (or wrote) more than this many times the median
#: of its group, in a group of at least OUTLIER_MIN calls.
OUTLIER_FACTOR = 3.0
OUTLIER_MIN = 5
#: Span ids listed per finding.
IDS = 5


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return 0.0
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2.0


def _p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(int(-(-len(ordered) * 95 // 100)) - 1, 0)] if ordered else 0.0


def _ids(spans: Iterable[SpanRecord]) -> list[str]:
    return [span.sid for span in sorted(spans, key=lambda s: s.order)[:IDS]]


def _tool_name(span: SpanRecord) -> str:
    name = span.attrs.get("tool.name")
    return name if isinstance(name, str) else span.name.removeprefix("tool.")


def _outliers(groups: dict[str, list[SpanRecord]], value: Any) -> list[dict[str, Any]]:
    found = []
    for name, spans in groups.items():
        if len(spans) < OUTLIER_MIN:
            continue
        values = [value(span) for span in spans]  # each span's value read once
        median = _median(values)
        if median <= 0:
            continue
        limit = OUTLIER_FACTOR * median
        for span, measured in zip(spans, values, strict=True):
            if measured > limit:
                found.append((measured / median, name, span, median, measured))
    found.sort(key=lambda f: (-f[0], f[1], f[2].order))
    return [
        {"name": name, "span_id": span.sid, "value": round_ms(measured),
         "median": round_ms(median), "times_median": round(ratio, 2)}
        for ratio, name, span, median, measured in found[:TOP]
    ]  # fmt: skip


def tools(index: Indexed) -> dict[str, Any]:
    """Slowest tools by p95, outlying calls, repeated calls with the same arguments and
    failure rates with their messages grouped."""
    groups: dict[str, list[SpanRecord]] = {}
    for span in index.spans.values():
        if span.tool and span.status is not None:
            groups.setdefault(_tool_name(span), []).append(span)
    slowest: list[dict[str, Any]] = []
    for name, stats in index.summary.tools.items():
        slowest.append({"name": name, "calls": stats.calls, "p95_ms": round_ms(stats.p95_ms),
                        "avg_ms": round_ms(stats.avg_ms), "failures": stats.failures})  # fmt: skip
    slowest.sort(key=lambda row: (-row["p95_ms"], row["name"]))
    repeats: dict[tuple[str, str], list[SpanRecord]] = {}
    for name, spans in groups.items():
        for span in spans:
            if span.args is not None:
                repeats.setdefault((name, span.args), []).append(span)
    repeated = sorted(
        ((name, args, spans) for (name, args), spans in repeats.items() if len(spans) > 1),
        key=lambda r: (-len(r[2]), r[0], r[1]),
    )
    failures: list[dict[str, Any]] = []
    for name, spans in sorted(groups.items()):
        failed = [span for span in spans if span.status == "error"]
        if failed:
            failures.append({"name": name, "calls": len(spans), "failures": len(failed),
                             "rate": round(len(failed) / len(spans), 4),
                             "messages": _grouped(failed)})  # fmt: skip
    failures.sort(key=lambda row: (-row["rate"], -row["failures"], row["name"]))
    return {
        "slowest": slowest[:TOP],
        "outliers": _outliers(groups, lambda span: span.ms),
        "repeated": [
            {
                "name": name,
                "arguments": bounded(args),
                "calls": len(spans),
                "ok": sum(1 for span in spans if span.status == "ok"),
                "span_ids": _ids(spans),
            }
            for name, args, spans in repeated[:TOP]
        ],
        "failures": failures[:TOP],
    }


def _grouped(failed: list[SpanRecord]) -> list[dict[str, Any]]:
    messages: dict[tuple[str, str], list[SpanRecord]] = {}
    for span in failed:
        messages.setdefault((span.error_type or "error", span.error_message or ""), []).append(span)
    ordered = sorted(messages.items(), key=lambda m: (-len(m[1]), m[0]))
    return [
        {"type": kind, "message": message, "count": len(spans), "span_ids": _ids(spans)}
        for (kind, message), spans in ordered[:TOP]
    ]


def _add(table: dict[str, dict[str, float]], key: str, span: SpanRecord) -> None:
    row = table.setdefault(key, {"calls": 0, "tokens": 0.0, "cost_usd": 0.0})
    row["calls"] += 1
    row["tokens"] += span.tokens
    row["cost_usd"] += span.cost


def _rows(table: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {"name": key, "calls": int(row["calls"]), "tokens": int(row["tokens"]),
         "cost_usd": round_usd(row["cost_usd"])}
        for key, row in table.items()
    ]  # fmt: skip
    rows.sort(key=lambda row: (-row["cost_usd"], -row["tokens"], row["name"]))
    return rows[:TOP]


def llm_calls(index: Indexed) -> dict[str, Any]:
    """Tokens and cost by agent and by model, the cache hit rate, calls without usage,
    time to first chunk and output-token outliers."""
    calls = [s for s in index.spans.values() if s.llm and s.status is not None]
    calls = [s for s in calls if DUPLICATE_OF not in s.attrs]  # counted on its twin
    by_agent: dict[str, dict[str, float]] = {}
    by_model: dict[str, dict[str, float]] = {}
    for span in calls:
        agent = index.agent_of.get(span.sid)
        _add(by_agent, index.spans[agent].name if agent else "(no agent)", span)
        _add(by_model, span.model or "(unknown model)", span)
    tokens = index.summary.totals.tokens_by_type
    read, fresh = float(tokens.cache_read), float(tokens.input)
    without = [  # as the summary counts them: not one whose usage a call inside recorded
        s for s in calls
        if s.attrs.get(USAGE_ON_CHILD) is not True
        and not any(k.endswith("_tokens") for k in s.usage)
    ]  # fmt: skip
    first: list[tuple[float, SpanRecord]] = []
    for span in calls:
        value = span.attrs.get("gen_ai.response.time_to_first_chunk_ms")
        if value.__class__ in (int, float):
            first.append((float(value), span))
    first.sort(key=lambda f: (-f[0], f[1].order))
    models: dict[str, list[SpanRecord]] = {}
    for span in calls:
        models.setdefault(span.model or "(unknown model)", []).append(span)
    return {
        "calls": len(calls),
        "by_agent": _rows(by_agent),
        "by_model": _rows(by_model),
        "cache": {"read_tokens": int(read), "input_tokens": int(fresh),
                  "hit_rate": round(read / (read + fresh), 4) if read + fresh else None},
        "without_usage": {"count": len(without), "span_ids": _ids(without)},
        "first_chunk": {
            "calls": len(first),
            "median_ms": round_ms(_median([f[0] for f in first])),
            "p95_ms": round_ms(_p95([f[0] for f in first])),
            "slowest": [{"span_id": s.sid, "ms": round_ms(ms)} for ms, s in first[:IDS]],
        },
        "output_outliers": _outliers(models, _output_tokens),
    }  # fmt: skip


def _output_tokens(span: SpanRecord) -> float:
    value = span.usage.get("gen_ai.usage.output_tokens")
    return float(value) if value.__class__ in (int, float) else 0.0


def errors(index: Indexed) -> dict[str, Any]:
    """Failed spans grouped by type and message (first occurrence, agents affected), and
    spans abandoned with the reason, or still open at the end of the log."""
    groups: dict[tuple[str, str], list[SpanRecord]] = {}
    abandoned = []
    for span in index.spans.values():
        if span.status != "error":
            continue
        if span.error_type == "abandoned":
            abandoned.append(span)
            continue
        groups.setdefault((span.error_type or "error", span.error_message or ""), []).append(span)
    rows: list[dict[str, Any]] = []
    for (kind, message), spans in groups.items():
        first = min(spans, key=lambda s: (s.end or s.start, s.order))
        agents = {index.agent_of.get(s.sid) for s in spans} - {None}
        rows.append({
            "type": kind, "message": message, "count": len(spans),
            "first": {"span_id": first.sid, "name": first.name, "ts": first.end},
            "agents": sorted(index.spans[a].name for a in agents if a)[:TOP],
            "agent_count": len(agents), "span_ids": _ids(spans),
        })  # fmt: skip
    rows.sort(key=lambda row: (-row["count"], row["first"]["ts"] or 0.0, row["type"]))
    still_open = [s for s in index.spans.values() if s.status is None]
    return {
        "groups": rows[:TOP],
        "group_count": len(rows),
        "abandoned": [{"span_id": s.sid, "name": s.name, "why": s.error_message or ""}
                      for s in sorted(abandoned, key=lambda s: s.order)[:TOP]],
        "abandoned_count": len(abandoned),
        "open": {"count": len(still_open), "span_ids": _ids(still_open)},
    }  # fmt: skip


def _subtree(span: SpanRecord) -> tuple[float, float]:
    tokens, cost, stack, seen = 0.0, 0.0, [span], set()
    while stack:
        current = stack.pop()
        if current.sid in seen:
            continue
        seen.add(current.sid)
        tokens += current.tokens
        cost += current.cost
        stack.extend(current.children)
    return tokens, cost


def waste(index: Indexed) -> dict[str, Any]:
    """Tokens and cost spent in failed agents (their whole subtree), in failed LLM calls
    outside them, and the calls retried after a failure (a failed call followed by one of
    the same name under the same parent)."""
    failed_agents = [s for s in index.spans.values() if s.agent and s.status == "error"]
    inside: set[str] = set()
    rows: list[dict[str, Any]] = []
    tokens, cost = 0.0, 0.0
    for agent in sorted(failed_agents, key=lambda s: s.order):
        spent = _subtree(agent)
        if agent.sid not in inside:  # a failed agent inside another is counted there
            tokens, cost = tokens + spent[0], cost + spent[1]
        inside.update(_below(agent))
        rows.append({"span_id": agent.sid, "name": agent.name, "tokens": int(spent[0]),
                     "cost_usd": round_usd(spent[1])})  # fmt: skip
    calls = [s for s in index.spans.values()
             if s.llm and s.status == "error" and s.sid not in inside]  # fmt: skip
    call_tokens = sum(s.tokens for s in calls)
    call_cost = sum(s.cost for s in calls)
    retried = []
    for parent in index.spans.values():
        kids = sorted(parent.children, key=lambda s: (s.start, s.order))
        for before, after in itertools.pairwise(kids):
            if (
                before.status == "error"
                and after.name == before.name
                and (before.tool or before.llm)
            ):
                retried.append(before)
    rows.sort(key=lambda row: (-row["cost_usd"], -row["tokens"], row["span_id"]))
    return {
        "tokens": int(tokens + call_tokens),
        "cost_usd": round_usd(cost + call_cost),
        "failed_agents": rows[:TOP],
        "failed_agent_count": len(rows),
        "failed_calls": {"count": len(calls), "tokens": int(call_tokens),
                         "cost_usd": round_usd(call_cost), "span_ids": _ids(calls)},
        "retried": {"count": len(retried), "tokens": int(sum(s.tokens for s in retried)),
                    "cost_usd": round_usd(sum(s.cost for s in retried)),
                    "span_ids": _ids(retried)},
    }  # fmt: skip


def _below(span: SpanRecord) -> set[str]:
    found, stack = set(), [span]
    while stack:
        current = stack.pop()
        if current.sid not in found:
            found.add(current.sid)
            stack.extend(current.children)
    return found
