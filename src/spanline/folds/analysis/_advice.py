"""Against a baseline, and suggestions: what got worse, and plain rules with evidence."""

from __future__ import annotations

from typing import Any

from spanline.folds._summary_model import round_ms
from spanline.folds.compare import RunProfile, compare_profiles

__all__ = ["against_baseline", "suggestions"]

#: A figure regresses past this fraction of the baseline's, and wall time also past
#: MIN_MS milliseconds: the defaults of ``spanline compare``.
THRESHOLD = 0.2
MIN_MS = 50.0
#: A sequential stretch this long (in agents) gets a suggestion.
STRETCH_MIN = 3
#: Span ids given as evidence per suggestion.
EVIDENCE = 5


def _drift(base: RunProfile, run: RunProfile) -> float:
    """How much the run's phases slowed or sped up together: the median of their wall-time
    ratios (1 with fewer than three phases in both). Load on the machine stretches every
    phase alike; a group is slower only beyond that."""
    a, b = base.sections.get("phase", {}), run.sections.get("phase", {})
    ratios = sorted(
        b[name].wall_ms / a[name].wall_ms for name in a.keys() & b.keys() if a[name].wall_ms > 0
    )
    if len(ratios) < 3:
        return 1.0
    n = len(ratios)
    return ratios[n // 2] if n % 2 else (ratios[n // 2 - 1] + ratios[n // 2]) / 2.0


def against_baseline(base: RunProfile, run: RunProfile) -> dict[str, Any]:
    """What got slower, costlier or newly failing against ``base``, beyond the noise.

    Tokens, cost and errors regress as ``spanline compare`` decides (20%; any new error).
    Wall time: the run as a whole as ``compare`` decides (20% and 50 ms); a phase, agent
    kind, tool or model only when it slowed 20% and 50 ms more than the run's phases
    slowed together (their median ratio, see :func:`_drift`).

    Args:
        base: the baseline run's profile.
        run: the profile of the run checked against it.

    Returns:
        ``{baseline_run, threshold_pct, min_ms, drift, slower, costlier,
        newly_failing}``; each list holds ``compare``'s regressions as dicts
        (``section, name, metric, a, b, delta, pct``).
    """
    comparison = compare_profiles(base, run, threshold=THRESHOLD, min_ms=MIN_MS)
    drift = _drift(base, run)
    found: dict[str, list[dict[str, Any]]] = {"slower": [], "costlier": [], "newly_failing": []}
    for regression in comparison.regressions:
        a, b = regression.a, regression.b
        if regression.metric == "wall_ms" and regression.section != "run":
            expected = a * drift
            if not (b > expected * (1 + THRESHOLD) and b - expected > MIN_MS):
                continue
        where = {"wall_ms": "slower", "errors": "newly_failing"}.get(regression.metric, "costlier")
        found[where].append(regression.to_dict())
    return {
        "baseline_run": base.run_id,
        "threshold_pct": THRESHOLD * 100,
        "min_ms": MIN_MS,
        "drift": round(drift, 4),
        **found,
    }


def _ms(value: Any) -> str:
    """Milliseconds as a reader wants them: whole from 10 ms up, else one decimal."""
    number = float(value) if isinstance(value, (int, float)) else 0.0
    return f"{number:,.0f} ms" if abs(number) >= 10 else f"{number:.1f} ms"


def _ids(ids: list[str]) -> list[str]:
    return ids[:EVIDENCE]


def _phase_rules(parallelism: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for phase in parallelism:
        runs = [run for run in phase["sequential"] if run["count"] >= STRETCH_MIN]
        for run in runs:
            kinds = "/".join(run["kinds"])
            planned = (
                f" All {run['count']} were planned before the phase began."
                if run["planned_ahead"] == run["count"]
                else ""
            )
            text = (
                f"{run['count']} {kinds} agents ran one after another in {phase['phase']}, "
                f"for {_ms(run['ms'])}; if they are independent, running them at once would "
                f"take about as long as the longest, {_ms(run['longest_ms'])}.{planned}"
            )
            found.append({"rule": "sequential-agents", "text": text,
                          "evidence": [phase["span_id"], *_ids(run["span_ids"])]})  # fmt: skip
        could = phase["could_have"]
        if not runs and could is not None and phase["at_once"] < could:
            text = (
                f"In {phase['phase']}, at most {phase['at_once']} agents ran at once, while "
                f"{could} were planned before it began."
            )
            found.append({"rule": "fewer-at-once-than-planned", "text": text,
                          "evidence": [phase["span_id"]]})  # fmt: skip
    return found


def _wait_rules(waits: dict[str, Any], wall_ms: float) -> list[dict[str, Any]]:
    found = []
    for stall in waits["stalls"]:
        state = "then went on" if stall.get("recovered") else "and had not recovered"
        found.append({
            "rule": "stall",
            "text": f"{stall.get('name')} showed no activity for {_ms(stall.get('stalled_ms'))} "
                    f"({state}): look at what it was waiting for.",
            "evidence": [str(stall.get("span_id"))],
        })  # fmt: skip
    for gap in waits["gaps"][:3]:
        if wall_ms > 0 and gap["ms"] >= 0.1 * wall_ms:
            found.append({
                "rule": "idle-gap",
                "text": f"{gap['parent']['name']} had no child running for {_ms(gap['ms'])} "
                        f"({gap['ms'] / wall_ms:.0%} of the run).",
                "evidence": [gap["parent"]["span_id"], gap["after_span_id"],
                             gap["before_span_id"]],
            })  # fmt: skip
    if waits["never_started_count"]:
        found.append({
            "rule": "planned-not-started",
            "text": f"{waits['never_started_count']} planned agents never started.",
            "evidence": _ids([plan["plan_id"] for plan in waits["never_started"]]),
        })  # fmt: skip
    return found


def _call_rules(sections: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for repeat in sections["tools"]["repeated"]:
        if repeat["ok"] < 2:  # a failed call tried again: the retry rule's case
            continue
        found.append({
            "rule": "repeated-tool-call",
            "text": f"{repeat['name']} answered {repeat['ok']} calls with the same arguments; "
                    "if its result does not change between calls, reusing the first would "
                    f"save {repeat['ok'] - 1} of them.",
            "evidence": repeat["span_ids"],
        })  # fmt: skip
    for tool in sections["tools"]["failures"]:
        if tool["failures"] >= 2 and tool["rate"] >= 0.2:
            found.append({
                "rule": "failing-tool",
                "text": f"{tool['name']} failed {tool['failures']} of {tool['calls']} calls "
                        f"({tool['rate']:.0%}).",
                "evidence": tool["messages"][0]["span_ids"],
            })  # fmt: skip
    missing = sections["llm"]["without_usage"]
    if missing["count"]:
        found.append({
            "rule": "llm-without-usage",
            "text": f"{missing['count']} LLM calls recorded no token usage: their tokens and "
                    "cost are missing from every total.",
            "evidence": missing["span_ids"],
        })  # fmt: skip
    retried = sections["waste"]["retried"]
    if retried["count"]:
        found.append({
            "rule": "retried-calls",
            "text": f"{retried['count']} calls failed and were called again under the same "
                    f"parent ({retried['tokens']} tokens spent in the failed attempts).",
            "evidence": retried["span_ids"],
        })  # fmt: skip
    return found


def suggestions(sections: dict[str, Any], wall_ms: float) -> list[dict[str, Any]]:
    """Plain rules over the other sections, each with its evidence (span or plan ids).

    They rest on what the log records (plans, phases, measured gaps and calls), never on
    guesses about data dependencies: "if they are independent" is left to the reader.
    """
    return [
        *_phase_rules(sections["parallelism"]),
        *_wait_rules(sections["waits"], round_ms(wall_ms)),
        *_call_rules(sections),
    ]
