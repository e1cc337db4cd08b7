"""Rules a run must hold, and their evaluation: the fold behind ``spanline check``.

A :class:`RulesSpec` is the validated rules file (any unknown key is refused).
:func:`evaluate` sets it against a run's :class:`~spanline.folds._facts.RunFacts`
(and, for the regression rule, a baseline's profile compared by the compare
fold) and returns one :class:`RuleResult` per rule, each with the spans that
broke it. The helpers of ``spanline.testing`` ask the same facts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from spanline.folds._facts import RunFacts, SpanFact
from spanline.folds.compare import RunProfile, compare_profiles

__all__ = [
    "AgentLimits",
    "BaselineRule",
    "ErrorsRule",
    "Limits",
    "PhaseLimits",
    "RuleResult",
    "RulesSpec",
    "ToolRule",
    "evaluate",
]

#: How many offending spans a result keeps as evidence (the count is always given).
EVIDENCE_MAX = 20

_NonNegative = Field(default=None, ge=0, allow_inf_nan=False)


class _Strict(BaseModel):
    # Strict: `max_calls: true` or `no_stalls: 1` is an error, not 1 or True.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Limits(_Strict):
    """Upper bounds on wall time, cost and tokens."""

    max_duration_ms: float | None = _NonNegative
    max_cost_usd: float | None = _NonNegative
    max_tokens: float | None = _NonNegative

    def bounds(self) -> list[tuple[str, float]]:
        """The limits that are set, as ``(metric, bound)``."""
        named = (
            ("duration_ms", self.max_duration_ms),
            ("cost_usd", self.max_cost_usd),
            ("tokens", self.max_tokens),
        )
        return [(metric, bound) for metric, bound in named if bound is not None]


class AgentLimits(Limits):
    """Limits on each agent of a name or of a kind."""

    name: str | None = None
    kind: str | None = None

    @model_validator(mode="after")
    def _one_selector(self) -> AgentLimits:
        if (self.name is None) == (self.kind is None):
            raise ValueError("an agent rule names exactly one of `name` or `kind`")
        return self

    @property
    def label(self) -> str:
        """``agent lib-core`` or ``agents of kind library-analysis``."""
        return f"agent {self.name}" if self.name is not None else f"agents of kind {self.kind}"


class PhaseLimits(Limits):
    """Limits on one phase (a span of kind ``phase``)."""

    name: str


class ToolRule(_Strict):
    """A tool called at most ``max_calls`` times."""

    name: str
    max_calls: int = Field(ge=0)


class ErrorsRule(_Strict):
    """No span ends in error, except failures of the named tools (and their travel up)."""

    except_tools: list[str] = Field(default_factory=list)


class BaselineRule(_Strict):
    """No regression beyond ``max_regression_pct`` against the run given as baseline."""

    max_regression_pct: float = Field(default=20.0, ge=0, allow_inf_nan=False)
    min_ms: float = Field(default=50.0, ge=0, allow_inf_nan=False)


class RulesSpec(_Strict):
    """A rules file, validated."""

    run: Limits | None = None
    agents: list[AgentLimits] = Field(default_factory=list)
    phases: list[PhaseLimits] = Field(default_factory=list)
    tools: list[ToolRule] = Field(default_factory=list)
    no_errors: bool | ErrorsRule = False
    planned_agents_finished: bool = False
    no_stalls: bool = False
    baseline: BaselineRule | None = None


@dataclass(frozen=True)
class RuleResult:
    """One rule's verdict, with what was measured and the spans that broke it."""

    rule: str
    passed: bool
    detail: str
    evidence: tuple[str, ...] = ()
    #: How many offending items there were (``evidence`` keeps the first ones).
    offending: int = 0
    spans: tuple[SpanFact, ...] = field(default=(), compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict.

        Returns:
            ``{rule, passed, detail, offending, evidence}``.
        """
        return {
            "rule": self.rule,
            "passed": self.passed,
            "detail": self.detail,
            "offending": self.offending,
            "evidence": list(self.evidence),
        }


def _fmt(metric: str, value: float) -> str:
    if metric == "duration_ms":
        return f"{value:,.1f} ms"
    if metric == "cost_usd":
        return f"${value:,.6f}".rstrip("0").rstrip(".")
    return f"{value:,.0f}"


def _bound(value: float) -> str:
    """A limit as the rules file has it: ``5000000``, ``0.5``."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _result(rule: str, offending: list[Any], detail: str) -> RuleResult:
    spans = tuple(item for item in offending if isinstance(item, SpanFact))
    return RuleResult(
        rule=rule,
        passed=not offending,
        detail=detail,
        evidence=tuple(str(item) for item in offending[:EVIDENCE_MAX]),
        offending=len(offending),
        spans=spans[:EVIDENCE_MAX],
    )


def _run_rules(limits: Limits, facts: RunFacts) -> list[RuleResult]:
    summary = facts.summary
    measured = {
        "duration_ms": summary.total_wall_ms,
        "cost_usd": summary.totals.cost_usd,
        "tokens": float(summary.totals.total_tokens),
    }
    results = []
    for metric, bound in limits.bounds():
        value = measured[metric]
        offending = [] if value <= bound else [f"run {summary.run_id}: {_fmt(metric, value)}"]
        detail = f"{_fmt(metric, value)} (limit {_fmt(metric, bound)})"
        results.append(_result(f"run: max_{metric} {_bound(bound)}", offending, detail))
    return results


def _agent_rules(limits: AgentLimits, facts: RunFacts) -> list[RuleResult]:
    agents = facts.agents(kind=limits.kind, name=limits.name)
    results = []
    for metric, bound in limits.bounds():
        rule = f"{limits.label}: max_{metric} {_bound(bound)}"
        if not agents:
            results.append(_result(rule, ["no such agent in the run"], "no agent matched"))
            continue
        values = [(float(getattr(agent, metric) or 0), agent) for agent in agents]
        over = [(value, agent) for value, agent in values if value > bound]
        over.sort(key=lambda pair: -pair[0])
        evidence = [f"{facts.span(agent.span_id)} {_fmt(metric, value)}" for value, agent in over]
        top = max(value for value, _ in values)
        detail = f"largest {_fmt(metric, top)} of {len(agents)} agent(s)"
        results.append(_result(rule, evidence, detail))
    return results


def _phase_rules(limits: PhaseLimits, facts: RunFacts) -> list[RuleResult]:
    if facts.profile is None:
        raise ValueError("phase rules need the run's profile: fold the facts with profile=True")
    stats = facts.profile.sections.get("phase", {}).get(limits.name)
    results = []
    for metric, bound in limits.bounds():
        rule = f"phase {limits.name}: max_{metric} {_bound(bound)}"
        if stats is None:
            results.append(_result(rule, ["no such phase in the run"], "no phase matched"))
            continue
        value = float(getattr(stats, "wall_ms" if metric == "duration_ms" else metric))
        offending = [] if value <= bound else [f"phase {limits.name}: {_fmt(metric, value)}"]
        detail = f"{_fmt(metric, value)} (limit {_fmt(metric, bound)})"
        results.append(_result(rule, offending, detail))
    return results


def _tool_rule(rule: ToolRule, facts: RunFacts) -> RuleResult:
    calls = facts.tool_calls(rule.name)
    offending: list[Any] = facts.tool_spans(rule.name) if calls > rule.max_calls else []
    if calls > rule.max_calls and not offending:
        offending = [f"{calls} calls"]
    detail = f"{calls} call(s) (limit {rule.max_calls})"
    return _result(f"tool {rule.name}: max_calls {rule.max_calls}", offending, detail)


def _errors_rule(rule: bool | ErrorsRule, facts: RunFacts) -> RuleResult:
    tools = rule.except_tools if isinstance(rule, ErrorsRule) else []
    offending = facts.errors_outside(tools)
    name = "no errors" + (f" except from tools {', '.join(tools)}" if tools else "")
    return _result(name, list(offending), f"{len(offending)} failed span(s)")


def _plans_rule(facts: RunFacts) -> RuleResult:
    unfinished = facts.unfinished_plans()
    detail = f"{len(facts.plans) - len(unfinished)} of {len(facts.plans)} planned agent(s) ended ok"
    return _result("every planned agent finished", list(unfinished), detail)


def _stalls_rule(facts: RunFacts) -> RuleResult:
    stalled = facts.stalled_spans()
    return _result("no stalls", list(stalled), f"{len(facts.summary.stalls)} stall(s)")


def _baseline_rule(rule: BaselineRule, facts: RunFacts, baseline: RunProfile) -> RuleResult:
    if facts.profile is None:
        raise ValueError("a baseline rule needs the run's profile: fold with profile=True")
    comparison = compare_profiles(
        baseline, facts.profile, threshold=rule.max_regression_pct / 100.0, min_ms=rule.min_ms
    )
    offending = []
    for found in comparison.regressions:
        ratio = found.ratio
        pct = "new" if ratio is None else f"{ratio * 100:+.0f}%"
        metric = "duration_ms" if found.metric == "wall_ms" else found.metric
        offending.append(
            f"{found.section} {found.name}: {found.metric} "
            f"{_fmt(metric, found.a)} -> {_fmt(metric, found.b)} ({pct})"
        )
    detail = f"{len(offending)} regression(s) against {baseline.run_id}"
    rule_name = f"no regression beyond {_bound(rule.max_regression_pct)}% against the baseline"
    return _result(rule_name, offending, detail)


def evaluate(
    spec: RulesSpec, facts: RunFacts, *, baseline: RunProfile | None = None
) -> list[RuleResult]:
    """Every rule of ``spec`` against the run, section by section in a fixed order (run,
    agents, phases, tools, errors, plans, stalls, baseline).

    Args:
        spec: the rules.
        facts: the run (see :func:`~spanline.folds._facts.run_facts`).
        baseline: the baseline run's profile, for the regression rule.

    Returns:
        One result per rule (a limits entry gives one per limit it sets).

    Raises:
        ValueError: the rules ask for a baseline comparison and no baseline is given.
    """
    results: list[RuleResult] = []
    if spec.run is not None:
        results += _run_rules(spec.run, facts)
    for agent in spec.agents:
        results += _agent_rules(agent, facts)
    for phase in spec.phases:
        results += _phase_rules(phase, facts)
    results += [_tool_rule(tool, facts) for tool in spec.tools]
    flags: list[tuple[Any, Callable[[], RuleResult]]] = [
        (spec.no_errors, lambda: _errors_rule(spec.no_errors, facts)),
        (spec.planned_agents_finished, lambda: _plans_rule(facts)),
        (spec.no_stalls, lambda: _stalls_rule(facts)),
    ]
    results += [make() for wanted, make in flags if wanted is not False]
    if spec.baseline is not None:
        if baseline is None:
            raise ValueError("the rules compare against a baseline: pass --baseline RUN")
        results.append(_baseline_rule(spec.baseline, facts, baseline))
    return results
