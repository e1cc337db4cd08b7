"""Where the time went: the critical path, parallelism per phase, waits and stalls."""

from __future__ import annotations

from typing import Any

from spanline.folds._summary_model import round_ms
from spanline.folds.analysis._index import Indexed, SpanRecord

__all__ = ["critical_path", "parallelism", "waits"]

#: Levels of the critical path kept below the root, and steps kept per chain.
PATH_DEPTH = 2
CHAIN_MAX = 40
#: Entries kept in each list of the waits section.
TOP = 10
#: Shorter gaps between a parent's children are not listed (scheduling, not waiting).
GAP_MIN_MS = 1.0


def share(part: float, whole: float) -> float:
    """``part / whole`` rounded to 4 decimals (0 when ``whole`` is 0)."""
    return round(part / whole, 4) if whole > 0 else 0.0


def chain(span: SpanRecord) -> list[SpanRecord]:
    """The children of ``span`` that decided its end, in time order: the child that ended
    last, then the one that ended last before that one started, and so on."""
    found: list[SpanRecord] = []
    cursor = span.end if span.end is not None else float("inf")
    ordered = sorted(span.children, key=lambda c: (-(c.end or 0.0), c.start, c.order))
    for child in ordered:
        if child.end is not None and child.end <= cursor and child.start >= span.start - 1e-9:
            found.append(child)
            cursor = child.start
    found.reverse()
    return found


def main_root(index: Indexed) -> SpanRecord | None:
    """The root span that lasted longest (earliest on a tie)."""
    if not index.roots:
        return None
    return min(index.roots, key=lambda span: (-span.ms, span.start, span.order))


def _step(span: SpanRecord, whole: float, depth: int, index: Indexed) -> dict[str, Any]:
    agent = index.agent_of.get(span.parent) if span.parent else None
    return {
        "depth": depth,
        "span_id": span.sid,
        "name": span.name,
        "kind": span.kind,
        "agent": index.spans[agent].name if agent else None,
        "ms": round_ms(span.ms),
        "share": share(span.ms, whole),
        "status": span.status or "open",
    }


def critical_path(index: Indexed) -> dict[str, Any]:
    """The chain of spans that decided the run's wall time, two levels deep.

    Returns:
        ``{root, ms, steps, own_ms, largest, sequential}``: each step's share is of the
        root's wall time; ``own_ms`` is the root's time not covered by its chain;
        ``largest`` the top-level step with the largest share; ``sequential`` the runs
        of agents inside a top-level step that followed one another.
    """
    root = main_root(index)
    if root is None:
        return {"root": None, "ms": 0.0, "steps": [], "own_ms": 0.0, "largest": None}
    whole = root.ms
    steps: list[dict[str, Any]] = []
    top = chain(root)
    for span in top[:CHAIN_MAX]:
        steps.append(_step(span, whole, 1, index))
        below = chain(span) if PATH_DEPTH > 1 else []
        for child in below[:CHAIN_MAX]:
            steps.append(_step(child, whole, 2, index))
        if len(below) > CHAIN_MAX:
            steps.append({"depth": 2, "more": len(below) - CHAIN_MAX})
    if len(top) > CHAIN_MAX:
        steps.append({"depth": 1, "more": len(top) - CHAIN_MAX})
    covered = sum(span.ms for span in top)
    largest = max(top, key=lambda span: (span.ms, -span.order), default=None)
    found = None
    if largest is not None:
        found = _step(largest, whole, 1, index)
        found["agents_in_sequence"] = _sequence(chain(largest))
    return {
        "root": {"span_id": root.sid, "name": root.name, "kind": root.kind},
        "ms": round_ms(whole),
        "steps": steps,
        "own_ms": round_ms(max(whole - covered, 0.0)),
        "largest": found,
    }


def _sequence(steps: list[SpanRecord]) -> dict[str, Any] | None:
    """The agents of a chain, when at least two of them followed one another."""
    agents = [span for span in steps if span.agent]
    if len(agents) < 2:
        return None
    return {
        "count": len(agents),
        "kinds": sorted({span.kind for span in agents}),
        "ms": round_ms(sum(span.ms for span in agents)),
        "span_ids": [span.sid for span in agents],
    }


def _phase_agents(index: Indexed) -> dict[str, list[SpanRecord]]:
    """Phase span id -> its top-level agents (no agent between them and the phase)."""
    found: dict[str, list[SpanRecord]] = {}
    for span in index.spans.values():
        if not span.agent:
            continue
        phase = index.phase_of.get(span.sid)
        if phase is None or phase == span.sid:
            continue
        above = index.agent_of.get(span.parent) if span.parent else None
        if above is not None and index.phase_of.get(above) == phase:
            continue
        found.setdefault(phase, []).append(span)
    return found


def _at_once(spans: list[SpanRecord]) -> int:
    """The most of ``spans`` running at the same moment (an end before a start at a tie)."""
    edges = sorted([(s.start, 1) for s in spans] + [(s.end or s.start, -1) for s in spans])
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


def stretches(agents: list[SpanRecord]) -> list[list[SpanRecord]]:
    """Runs of two or more agents, in start order, each starting after all before it ended."""
    found: list[list[SpanRecord]] = []
    current: list[SpanRecord] = []
    latest = float("-inf")
    for span in sorted(agents, key=lambda s: (s.start, s.order)):
        if current and span.start < latest:
            if len(current) >= 2:
                found.append(current)
            current = []
        current.append(span)
        latest = max(latest, span.end or span.start)
    if len(current) >= 2:
        found.append(current)
    return found


def _planned_by(planned: float | None, moment: float) -> bool:
    return planned is not None and planned <= moment


def parallelism(index: Indexed) -> list[dict[str, Any]]:
    """For each phase: agents at once, agents that could have run at once (planned before
    the phase began), and its sequential stretches with the time running them at once
    would have saved (their sum minus their longest)."""
    rows = []
    planned_at = {sid: index.plans[plan]["ts"] for sid, plan in index.plan_of.items()}
    by_phase = _phase_agents(index)
    phases = sorted(
        (s for s in index.spans.values() if s.kind == "phase"), key=lambda s: (s.start, s.order)
    )
    for phase in phases:
        agents = by_phase.get(phase.sid, [])
        ahead = {a.sid for a in agents if _planned_by(planned_at.get(a.sid), phase.start)}
        runs: list[dict[str, Any]] = []
        for run in stretches(agents):
            total = sum(span.ms for span in run)
            longest = max(run, key=lambda span: (span.ms, -span.order))
            runs.append(
                {
                    "count": len(run),
                    "kinds": sorted({span.kind for span in run}),
                    "ms": round_ms((max(s.end or s.start for s in run) - run[0].start) * 1e3),
                    "sum_ms": round_ms(total),
                    "longest_ms": round_ms(longest.ms),
                    "longest_span_id": longest.sid,
                    "lost_ms": round_ms(total - longest.ms),
                    "span_ids": [span.sid for span in run],
                    "planned_ahead": sum(1 for span in run if span.sid in ahead),
                }
            )
        rows.append(
            {
                "phase": phase.name,
                "span_id": phase.sid,
                "ms": round_ms(phase.ms),
                "agents": len(agents),
                "at_once": _at_once(agents),
                "could_have": len(ahead) if index.plans else None,
                "lost_ms": round_ms(sum(run["lost_ms"] for run in runs)),
                "sequential": runs,
            }
        )
    return rows


def waits(index: Indexed) -> dict[str, Any]:
    """Stalls (from the run summary), the longest gaps between a parent's children, and
    the time planned agents waited between their plan and their start."""
    gaps = []
    for parent in index.spans.values():
        if len(parent.children) < 2:
            continue
        kids = sorted(parent.children, key=lambda s: (s.start, s.order))
        latest, before = kids[0].end or kids[0].start, kids[0]
        for kid in kids[1:]:
            if (kid.start - latest) * 1e3 >= GAP_MIN_MS:
                gaps.append((kid.start - latest, parent, before, kid))
            if (kid.end or kid.start) >= latest:
                latest, before = kid.end or kid.start, kid
    gaps.sort(key=lambda g: (-g[0], g[1].order, g[3].order))
    queued = []
    for sid, plan_id in index.plan_of.items():
        planned = index.plans[plan_id]["ts"]
        span = index.spans[sid]
        if planned is not None and span.start > planned:
            queued.append((span.start - planned, span))
    queued.sort(key=lambda q: (-q[0], q[1].order))
    fulfilled = set(index.plan_of.values())
    never = [plan for plan_id, plan in index.plans.items() if plan_id not in fulfilled]
    return {
        "stalls": [dict(stall) for stall in index.summary.stalls[:TOP]],
        "stall_count": len(index.summary.stalls),
        "gaps": [
            {
                "ms": round_ms(gap * 1e3),
                "parent": {"span_id": parent.sid, "name": parent.name, "kind": parent.kind},
                "after_span_id": before.sid,
                "before_span_id": kid.sid,
            }
            for gap, parent, before, kid in gaps[:TOP]
        ],
        "queued": [
            {"ms": round_ms(wait * 1e3), "span_id": span.sid, "name": span.name}
            for wait, span in queued[:TOP]
        ],
        "queued_total_ms": round_ms(sum(wait for wait, _ in queued) * 1e3),
        "never_started": [
            {"plan_id": plan["plan_id"], "name": plan["name"]}
            for plan in sorted(never, key=lambda p: (p["ts"] or 0.0, p["plan_id"]))[:TOP]
        ],
        "never_started_count": len(never),
    }
