"""An :class:`~spanline.folds.analysis.Analysis` as Markdown: ANALYSIS_REPORT.md.

Every text that comes from the log goes through :func:`cell`: redacted, on one
line, cut to a bounded length and escaped, so a hostile name can neither leak a
secret nor break a table. Lists are bounded by the analysis itself. The same
analysis always gives the same bytes (no clock, no path, no locale).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Any

from spanline._capture._redact import redacted_window
from spanline.folds.analysis import Analysis

__all__ = ["cell", "render_markdown"]

#: The longest name or message a report shows.
CELL_MAX = 80
_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]")
_ESCAPED = str.maketrans({c: "\\" + c for c in "\\`*_{}[]<>()#+!|~"})


def cell(value: Any, limit: int = CELL_MAX) -> str:
    """Text from the log, safe in a Markdown table: redacted, one line, bounded, escaped."""
    text = value if isinstance(value, str) else "" if value is None else str(value)
    text = " ".join(redacted_window(text, limit).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.translate(_ESCAPED)


def _ms(value: Any) -> str:
    number = float(value) if isinstance(value, (int, float)) else 0.0
    return f"{number:,.0f} ms" if abs(number) >= 10 else f"{number:.1f} ms"


def _pct(value: Any) -> str:
    return f"{float(value) * 100:.1f}%" if isinstance(value, (int, float)) else "-"


def _usd(value: Any) -> str:
    return f"${float(value):,.4f}" if isinstance(value, (int, float)) else "-"


def _ids(ids: Iterable[Any]) -> str:
    """Span ids in code spans: only the characters an id may have, at most 40 of them."""
    shown = [f"`{_UNSAFE.sub('?', str(sid))[:40]}`" for sid in ids]
    return ", ".join(shown) if shown else "-"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    if not rows:
        return ["(none)", ""]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _head(analysis: Analysis) -> list[str]:
    return [
        f"# Analysis of run {cell(analysis.run_id)}",
        "",
        "Written by `spanline analyze` from the run's telemetry.jsonl: every figure below can "
        "be checked against the spans whose ids it gives.",
        "",
        f"- status: {cell(analysis.status)}",
        f"- wall time: {_ms(analysis.wall_ms)}",
        f"- spans: {analysis.spans:,}; agents: {analysis.agents:,}",
        f"- tokens: {analysis.tokens:,.0f}; cost: {_usd(analysis.cost_usd)}",
        *([f"- skipped lines: {analysis.skipped_lines}"] if analysis.skipped_lines else []),
        "",
    ]


def _critical_path(path: dict[str, Any]) -> list[str]:
    out = ["## Critical path", ""]
    root = path.get("root")
    if root is None:
        return [*out, "No span in the run.", ""]
    out += [
        f"The chain of spans that decided the wall time of {cell(root['name'])} "
        f"(`{cell(root['span_id'], 40)}`, {_ms(path['ms'])}); shares are of that time. "
        f"Time of the root not covered by the chain: {_ms(path['own_ms'])}.",
        "",
    ]
    largest = path.get("largest")
    if largest:
        line = f"Largest share: **{cell(largest['name'])}** ({cell(largest['kind'])}), " + (
            f"{_pct(largest['share'])} of the wall time, {_ms(largest['ms'])}"
        )
        sequence = largest.get("agents_in_sequence")
        if sequence:
            line += (
                f": {sequence['count']} {cell('/'.join(sequence['kinds']))} agents one after "
                f"another, {_ms(sequence['ms'])} together"
            )
        out += [line + ".", ""]
    rows = []
    for step in path["steps"]:
        indent = "&nbsp;&nbsp;↳ " if step["depth"] > 1 else ""
        if "more" in step:
            rows.append([f"{indent}… {step['more']} more", "", "", "", "", ""])
            continue
        name = f"{indent}{cell(step['name'])}"
        rows.append([name, cell(step["kind"]), _ms(step["ms"]), _pct(step["share"]),
                     cell(step["status"]), _ids([step["span_id"]])])  # fmt: skip
    return out + _table(["step", "kind", "time", "share", "status", "span"], rows)


def _parallelism(phases: list[dict[str, Any]]) -> list[str]:
    out = ["## Parallelism", ""]
    rows = [
        [cell(p["phase"]), _ms(p["ms"]), str(p["agents"]), str(p["at_once"]),
         "-" if p["could_have"] is None else str(p["could_have"]), _ms(p["lost_ms"]),
         _ids([p["span_id"]])]
        for p in phases
    ]  # fmt: skip
    out += _table(
        ["phase", "time", "agents", "at once", "could have (planned ahead)", "lost", "span"], rows
    )
    for phase in phases:
        for run in phase["sequential"]:
            out.append(
                f"- {cell(phase['phase'])}: {run['count']} {cell('/'.join(run['kinds']))} "
                f"agents one after another for {_ms(run['ms'])} (sum {_ms(run['sum_ms'])}, "
                f"longest {_ms(run['longest_ms'])}, lost {_ms(run['lost_ms'])}); spans "
                f"{_ids(run['span_ids'][:5])}{' …' if len(run['span_ids']) > 5 else ''}"
            )
    return [*out, ""] if out[-1] else out


def _waits(waits: dict[str, Any]) -> list[str]:
    out = ["## Waits and stalls", "", f"Stalls: {waits['stall_count']}.", ""]
    out += _table(
        ["agent", "silent for", "since", "recovered", "span"],
        [[cell(s.get("name")), _ms(s.get("stalled_ms")), _when(s.get("since_ts")),
          "yes" if s.get("recovered") else "no", _ids([s.get("span_id")])]
         for s in waits["stalls"]],
    )  # fmt: skip
    out += ["Longest gaps between a parent's children (no child running):", ""]
    out += _table(
        ["parent", "gap", "after", "before", "parent span"],
        [[cell(g["parent"]["name"]), _ms(g["ms"]), _ids([g["after_span_id"]]),
          _ids([g["before_span_id"]]), _ids([g["parent"]["span_id"]])] for g in waits["gaps"]],
    )  # fmt: skip
    out += [f"Queued (from plan to start): {_ms(waits['queued_total_ms'])} in all.", ""]
    out += _table(
        ["agent", "queued", "span"],
        [[cell(q["name"]), _ms(q["ms"]), _ids([q["span_id"]])] for q in waits["queued"]],
    )
    if waits["never_started_count"]:
        names = ", ".join(cell(p["name"]) for p in waits["never_started"])
        out += [f"Planned, never started ({waits['never_started_count']}): {names}.", ""]
    return out


def _when(ts: Any) -> str:
    if not isinstance(ts, (int, float)) or not 0 <= ts < 1e11:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


def _tools(tools: dict[str, Any]) -> list[str]:
    out = ["## Tools", "", "Slowest by p95:", ""]
    out += _table(
        ["tool", "calls", "p95", "mean", "failures"],
        [[cell(t["name"]), str(t["calls"]), _ms(t["p95_ms"]), _ms(t["avg_ms"]),
          str(t["failures"])] for t in tools["slowest"]],
    )  # fmt: skip
    out += ["Calls over three times their tool's median:", ""]
    out += _table(
        ["tool", "took", "median", "times", "span"],
        [[cell(o["name"]), _ms(o["value"]), _ms(o["median"]), f"{o['times_median']:g}x",
          _ids([o["span_id"]])] for o in tools["outliers"]],
    )  # fmt: skip
    out += ["Repeated calls with the same arguments:", ""]
    out += _table(
        ["tool", "arguments", "calls", "spans"],
        [[cell(r["name"]), cell(r["arguments"], 60), str(r["calls"]), _ids(r["span_ids"])]
         for r in tools["repeated"]],
    )  # fmt: skip
    out += ["Failures:", ""]
    rows = []
    for tool in tools["failures"]:
        for message in tool["messages"]:
            rows.append([cell(tool["name"]), f"{tool['failures']}/{tool['calls']}",
                         _pct(tool["rate"]), cell(f"{message['type']}: {message['message']}"),
                         str(message["count"]), _ids(message["span_ids"])])  # fmt: skip
    return out + _table(["tool", "failed", "rate", "error", "count", "spans"], rows)


def _llm(llm: dict[str, Any]) -> list[str]:
    cache = llm["cache"]
    first = llm["first_chunk"]
    missing = llm["without_usage"]
    out = [
        "## LLM calls",
        "",
        f"- calls: {llm['calls']:,}",
        f"- cache hit rate: {_pct(cache['hit_rate'])} ({cache['read_tokens']:,} tokens read "
        f"from cache, {cache['input_tokens']:,} input tokens)",
        f"- calls without usage: {missing['count']} {_ids(missing['span_ids'])}",
        f"- time to first chunk: {first['calls']} calls, median {_ms(first['median_ms'])}, "
        f"p95 {_ms(first['p95_ms'])}; slowest {_ids(s['span_id'] for s in first['slowest'])}",
        "",
    ]
    for title, key in (("By agent", "by_agent"), ("By model", "by_model")):
        out += [f"{title}:", ""]
        out += _table(
            ["name", "calls", "tokens", "cost"],
            [[cell(r["name"]), str(r["calls"]), f"{r['tokens']:,}", _usd(r["cost_usd"])]
             for r in llm[key]],
        )  # fmt: skip
    out += ["Output-token outliers (over three times their model's median):", ""]
    return out + _table(
        ["model", "output tokens", "median", "span"],
        [[cell(o["name"]), f"{o['value']:,.0f}", f"{o['median']:,.0f}", _ids([o["span_id"]])]
         for o in llm["output_outliers"]],
    )  # fmt: skip


def _errors(errors: dict[str, Any]) -> list[str]:
    out = ["## Errors", "", f"Error groups: {errors['group_count']}.", ""]
    out += _table(
        ["error", "count", "first", "agents", "spans"],
        [[cell(f"{g['type']}: {g['message']}", 120), str(g["count"]),
          f"{cell(g['first']['name'])} {_ids([g['first']['span_id']])}",
          cell(", ".join(g["agents"]), 120) or "-", _ids(g["span_ids"])]
         for g in errors["groups"]],
    )  # fmt: skip
    out += [f"Abandoned spans: {errors['abandoned_count']}.", ""]
    out += _table(
        ["span", "name", "why"],
        [[_ids([a["span_id"]]), cell(a["name"]), cell(a["why"])] for a in errors["abandoned"]],
    )
    still = errors["open"]
    if still["count"]:
        out += [f"Still open at the end of the log: {still['count']} {_ids(still['span_ids'])}", ""]
    return out


def _waste(waste: dict[str, Any]) -> list[str]:
    calls, retried = waste["failed_calls"], waste["retried"]
    out = [
        "## Waste",
        "",
        f"Spent on work that failed: {waste['tokens']:,} tokens, {_usd(waste['cost_usd'])}.",
        "",
        f"- failed agents ({waste['failed_agent_count']}), their whole subtree:",
    ]
    out += [
        f"  - {cell(a['name'])} {_ids([a['span_id']])}: {a['tokens']:,} tokens, "
        f"{_usd(a['cost_usd'])}"
        for a in waste["failed_agents"]
    ]
    out += [
        f"- failed LLM calls outside them: {calls['count']}, {calls['tokens']:,} tokens, "
        f"{_usd(calls['cost_usd'])} {_ids(calls['span_ids'])}",
        f"- calls retried after a failure: {retried['count']}, {retried['tokens']:,} tokens, "
        f"{_usd(retried['cost_usd'])} {_ids(retried['span_ids'])}",
        "",
    ]
    return out


def _baseline(baseline: dict[str, Any] | None) -> list[str]:
    out = ["## Against a baseline", ""]
    if baseline is None:
        return [*out, "No baseline given (`--baseline RUN` or `--baseline previous`).", ""]
    out += [
        f"Baseline: {cell(baseline['baseline_run'])}. Flagged past {baseline['threshold_pct']:g}% "
        f"(and {baseline['min_ms']:g} ms for time); a part of the run is slower only beyond "
        f"how much its phases slowed together (median ratio {baseline['drift']:g}).",
        "",
    ]
    rows = []
    for title, key in (
        ("slower", "slower"),
        ("costlier", "costlier"),
        ("newly failing", "newly_failing"),
    ):
        for r in baseline[key]:
            pct = "new" if r["pct"] is None else f"{r['pct']:+g}%"
            rows.append([title, cell(r["section"]), cell(r["name"]), cell(r["metric"]),
                         f"{r['a']:,}", f"{r['b']:,}", pct])  # fmt: skip
    return out + _table(["what", "section", "name", "metric", "baseline", "this run", "change"],
                        rows)  # fmt: skip


def _suggestions(found: list[dict[str, Any]]) -> list[str]:
    out = ["## Suggestions", ""]
    if not found:
        return [*out, "None: no rule found anything to suggest.", ""]
    for item in found:
        out.append(f"- {cell(item['text'], 400)} (evidence: {_ids(item['evidence'])})")
    return [*out, ""]


def render_markdown(analysis: Analysis) -> str:
    """The report: a head with the run's figures, then one section per part of the analysis.

    Args:
        analysis: what :func:`~spanline.folds.analysis.analyze` returned.

    Returns:
        The Markdown text, ending with one newline.
    """
    sections = analysis.sections
    lines = [
        *_head(analysis),
        *_critical_path(sections["critical_path"]),
        *_parallelism(sections["parallelism"]),
        *_waits(sections["waits"]),
        *_tools(sections["tools"]),
        *_llm(sections["llm"]),
        *_errors(sections["errors"]),
        *_waste(sections["waste"]),
        *_baseline(sections["baseline"]),
        *_suggestions(sections["suggestions"]),
    ]
    return "\n".join(lines).rstrip("\n") + "\n"
