"""Run profiles and their comparison: the fold behind ``spanline compare``.

A :class:`ProfileFold` folds one run's events into a :class:`RunProfile`: wall
time, tokens, cost and errors per phase, agent kind, tool and model, plus the
run as a whole. :func:`compare_profiles` sets two profiles side by side and
flags regressions. Both are pure: no rendering, no files.

Where each figure comes from:

* ``run``: the summary fold's ``total_wall_ms``, totals and errors.
* ``phase``: wall time and agents from the summary's ``phases``; tokens, cost
  and errors are the own counts of every span whose nearest phase ancestor
  (itself included) is that phase.
* ``agent_kind``: ``count`` agents of the kind, ``wall_ms`` the sum of their
  durations; tokens, cost and errors of every span whose nearest agent
  ancestor (itself included) is of that kind, so nested agents never count twice.
* ``tool``: calls, total time and failures from the summary's ``tools``.
* ``model``: LLM spans by ``gen_ai.response.model`` (else the requested model):
  calls, summed durations, tokens, cost, errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from spanline._capture._prices import PriceTable, compute_cost
from spanline._capture._usage import usage_from_attributes
from spanline.folds._summary_fold import SummaryFold
from spanline.folds._summary_model import RunSummary, round_ms, round_usd
from spanline.schema import AGENT_KINDS

__all__ = [
    "SECTIONS",
    "Comparison",
    "GroupStats",
    "ProfileFold",
    "Regression",
    "RowDiff",
    "RunProfile",
    "compare_profiles",
    "llm_cost",
    "profile",
]

#: The sections of a profile, in the order they are shown.
SECTIONS = ("run", "phase", "agent_kind", "tool", "model")
#: Metrics compared, in the order they are shown.
METRICS = ("wall_ms", "tokens", "cost_usd", "errors")

_COST = "gen_ai.usage.cost_usd"
_MODELS = ("gen_ai.response.model", "gen_ai.request.model")
_PRICED = ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens")
_USAGE_PREFIX = "gen_ai.usage."
_LLM_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "responses"})
_OP = "gen_ai.operation.name"


def _number(value: Any) -> TypeGuard[int | float]:
    return value.__class__ is int or value.__class__ is float


@dataclass
class GroupStats:
    """The figures of one group (a phase, an agent kind, a tool, a model, the run)."""

    count: int = 0
    wall_ms: float = 0.0
    tokens: int | float = 0
    cost_usd: float = 0.0
    errors: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict.

        Returns:
            ``{count, wall_ms, tokens, cost_usd, errors}``, rounded as the summary is.
        """
        return {
            "count": self.count,
            "wall_ms": round_ms(self.wall_ms),
            "tokens": self.tokens,
            "cost_usd": round_usd(self.cost_usd),
            "errors": self.errors,
        }


@dataclass
class RunProfile:
    """One run's figures, by section (:data:`SECTIONS`) and group name."""

    run_id: str | None
    sections: dict[str, dict[str, GroupStats]] = field(default_factory=dict)
    #: How many events were folded (0: nothing to compare).
    events: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; groups sorted by name within each section.

        Returns:
            ``{run_id, events, sections: {section: {name: stats}}}``.
        """
        return {
            "run_id": self.run_id,
            "events": self.events,
            "sections": {
                section: {name: groups[name].to_dict() for name in sorted(groups)}
                for section, groups in self.sections.items()
            },
        }


class ProfileFold:
    """An incremental reducer from telemetry events to a :class:`RunProfile`.

    Feed it with :meth:`add` or :meth:`extend` (any chunking gives the same
    result); :meth:`result` may be called at any time.
    """

    def __init__(
        self,
        *,
        agent_kinds: Iterable[str] | None = None,
        prices: PriceTable | None = None,
        run_id: str | None = None,
    ) -> None:
        """Start an empty fold.

        Args:
            agent_kinds: span kinds that are agents (default: the run_start line's
                ``agent_kinds``, else :data:`~spanline.schema.AGENT_KINDS`).
            prices: prices for LLM spans that recorded usage but no cost.
            run_id: used when the events have no run_start line.
        """
        self._summary = SummaryFold(agent_kinds=agent_kinds, prices=prices, run_id=run_id)
        self._explicit_kinds = agent_kinds is not None
        self._kinds = frozenset(AGENT_KINDS if agent_kinds is None else agent_kinds)
        self._prices = prices
        self._events = 0
        # span_id -> (phase name, agent kind, start attributes worth keeping, llm?, agent?)
        self._open: dict[str, tuple[str | None, str | None, dict[str, Any], bool, bool]] = {}
        # span_id -> (nearest phase name, nearest agent kind), for children to inherit
        self._context: dict[str, tuple[str | None, str | None]] = {}
        self._early: dict[str, list[Mapping[str, Any]]] = {}
        self._phase: dict[str, GroupStats] = {}
        self._kind: dict[str, GroupStats] = {}
        self._model: dict[str, GroupStats] = {}

    def add(self, event: Mapping[str, Any]) -> None:
        """Fold one event (a decoded line of telemetry.jsonl)."""
        self.extend((event,))

    def extend(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Fold events, in file order."""
        batch = list(events)
        self._summary.extend(batch)
        self._events += len(batch)
        for event in batch:
            tag = event.get("event")
            if tag == "span_start":
                self._start(event)
            elif tag == "span_end":
                self._end(event)
            elif tag == "run_start" and not self._explicit_kinds:
                recorded = event.get("agent_kinds")
                if isinstance(recorded, list):
                    self._kinds = frozenset(k for k in recorded if isinstance(k, str))

    def _start(self, event: Mapping[str, Any]) -> None:
        span_id, parent = event.get("span_id"), event.get("parent")
        if not isinstance(span_id, str):
            return
        kind = event.get("kind")
        attrs = event.get("attributes")
        attrs = attrs if isinstance(attrs, dict) else {}
        if parent.__class__ is not str:
            parent = None  # the summary skips (and reports) such a line; it has no parent here
        phase, agent_kind = self._context.get(parent, (None, None)) if parent else (None, None)
        if kind == "phase" and isinstance(event.get("name"), str):
            phase = event["name"]
        op = attrs.get(_OP)
        agent = (isinstance(kind, str) and kind in self._kinds) or op == "invoke_agent"
        if agent:
            agent_kind = kind if isinstance(kind, str) else "agent"
            self._group(self._kind, agent_kind).count += 1
        self._context[span_id] = (phase, agent_kind)
        keep = {k: v for k, v in attrs.items() if k.startswith(_USAGE_PREFIX) or k in _MODELS}
        llm = kind == "llm" or (op.__class__ is str and op in _LLM_OPERATIONS)
        self._open[span_id] = (phase, agent_kind, keep, llm, agent)
        for end in self._early.pop(span_id, ()):
            self._end(end)

    def _end(self, event: Mapping[str, Any]) -> None:
        span_id = event.get("span_id")
        if not isinstance(span_id, str):
            return
        record = self._open.pop(span_id, None)
        if record is None:
            if span_id not in self._context:  # an end read before its start
                self._early.setdefault(span_id, []).append(event)
            return
        phase, agent_kind, keep, llm, agent = record
        final = event.get("kind")
        if final.__class__ is str:  # classified at its end (the bridge's): the end wins
            llm = llm or final == "llm"
            if not agent and final in self._kinds:
                agent, agent_kind = True, final
                self._group(self._kind, agent_kind).count += 1
        attrs = event.get("attributes")
        merged = {**keep, **attrs} if isinstance(attrs, dict) and attrs else keep
        tokens = event.get("tokens")
        tokens = tokens if _number(tokens) else 0
        duration = event.get("duration_ms")
        duration = float(duration) if _number(duration) else 0.0
        failed = event.get("status") == "error"
        cost = llm_cost(merged, self._prices)
        if phase is not None:
            self._count(self._group(self._phase, phase), tokens, cost, failed)
        if agent_kind is not None:
            group = self._count(self._group(self._kind, agent_kind), tokens, cost, failed)
            if agent:
                group.wall_ms += duration
        model = next((merged[k] for k in _MODELS if isinstance(merged.get(k), str)), None)
        if model is not None or llm:
            group = self._group(self._model, model or "(unknown model)")
            group.count += 1
            group.wall_ms += duration
            self._count(group, tokens, cost, failed)

    @staticmethod
    def _group(groups: dict[str, GroupStats], name: str) -> GroupStats:
        found = groups.get(name)
        if found is None:
            found = groups[name] = GroupStats()
        return found

    @staticmethod
    def _count(group: GroupStats, tokens: int | float, cost: float, failed: bool) -> GroupStats:
        group.tokens += tokens
        group.cost_usd += cost
        group.errors += failed
        return group

    @property
    def summary_fold(self) -> SummaryFold:
        """The summary fold inside this one (fed by :meth:`extend`; do not feed it)."""
        return self._summary

    def result(self) -> RunProfile:
        """The profile of everything folded so far (the fold is not changed).

        Returns:
            A new :class:`RunProfile`.
        """
        summary = self._summary.result()
        phases = {name: _copy(stats) for name, stats in self._phase.items()}
        for name, phase in summary.phases.items():
            group = phases.setdefault(name, GroupStats())
            group.count = phase.agents or 0
            group.wall_ms = phase.wall_ms
        return RunProfile(
            run_id=summary.run_id,
            sections={
                "run": {"total": _run_stats(summary)},
                "phase": phases,
                "agent_kind": {name: _copy(stats) for name, stats in self._kind.items()},
                "tool": {
                    name: GroupStats(count=tool.calls, wall_ms=tool.total_ms, errors=tool.failures)
                    for name, tool in summary.tools.items()
                },
                "model": {name: _copy(stats) for name, stats in self._model.items()},
            },
            events=self._events,
        )


def llm_cost(merged: Mapping[str, Any], prices: PriceTable | None = None) -> float:
    """An LLM span's cost in US dollars, from its attributes (start merged with end): its
    recorded ``gen_ai.usage.cost_usd``, else its usage priced with ``prices`` (default: the
    shipped table); 0 when it recorded no usage or its model has no price."""
    recorded = merged.get(_COST)
    if _number(recorded):
        return float(recorded)
    if not any(key in merged for key in _PRICED):
        return 0.0
    model = next((merged[k] for k in _MODELS if isinstance(merged.get(k), str)), None)
    table = prices if prices is not None else PriceTable.default()
    computed = compute_cost(usage_from_attributes(merged), model, table)
    return computed or 0.0


def _copy(stats: GroupStats) -> GroupStats:
    return GroupStats(stats.count, stats.wall_ms, stats.tokens, stats.cost_usd, stats.errors)


def _run_stats(summary: RunSummary) -> GroupStats:
    return GroupStats(
        count=summary.span_count,
        wall_ms=summary.total_wall_ms,
        tokens=summary.totals.total_tokens,
        cost_usd=summary.totals.cost_usd,
        errors=len(summary.errors),
    )


# -- comparing two profiles ------------------------------------------------------------------


@dataclass(frozen=True)
class Regression:
    """One metric of one group that got worse past the thresholds."""

    section: str
    name: str
    metric: str
    a: float
    b: float

    @property
    def delta(self) -> float:
        """``b - a``."""
        return self.b - self.a

    @property
    def ratio(self) -> float | None:
        """``(b - a) / a``, or None when ``a`` is 0."""
        return (self.b - self.a) / self.a if self.a else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict.

        Returns:
            ``{section, name, metric, a, b, delta, pct}`` (``pct`` null when ``a`` is 0).
        """
        ratio = self.ratio
        return {
            "section": self.section,
            "name": self.name,
            "metric": self.metric,
            "a": _rounded(self.metric, self.a),
            "b": _rounded(self.metric, self.b),
            "delta": _rounded(self.metric, self.delta),
            "pct": None if ratio is None else round(ratio * 100.0, 1),
        }


@dataclass(frozen=True)
class RowDiff:
    """One group in both runs (either side None when the group is in one run only)."""

    section: str
    name: str
    a: GroupStats | None
    b: GroupStats | None
    regressions: tuple[Regression, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict.

        Returns:
            ``{section, name, a, b, delta, regressed}``; ``delta`` per metric is
            ``b - a`` with a missing side counted as zeros.
        """
        a, b = self.a or GroupStats(), self.b or GroupStats()
        return {
            "section": self.section,
            "name": self.name,
            "a": None if self.a is None else self.a.to_dict(),
            "b": None if self.b is None else self.b.to_dict(),
            "delta": {
                metric: _rounded(metric, getattr(b, metric) - getattr(a, metric))
                for metric in ("count", *METRICS)
            },
            "regressed": [regression.metric for regression in self.regressions],
        }


@dataclass(frozen=True)
class Comparison:
    """Two runs side by side: every group of either, and the regressions found."""

    run_a: str | None
    run_b: str | None
    threshold: float
    min_ms: float
    rows: tuple[RowDiff, ...]

    @property
    def regressions(self) -> list[Regression]:
        """Every regression, in row order."""
        return [regression for row in self.rows for regression in row.regressions]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict.

        Returns:
            ``{run_a, run_b, threshold_pct, min_ms, regressions, rows}``.
        """
        return {
            "run_a": self.run_a,
            "run_b": self.run_b,
            "threshold_pct": round(self.threshold * 100.0, 6),
            "min_ms": self.min_ms,
            "regressions": [regression.to_dict() for regression in self.regressions],
            "rows": [row.to_dict() for row in self.rows],
        }


def compare_profiles(
    a: RunProfile, b: RunProfile, *, threshold: float = 0.2, min_ms: float = 50.0
) -> Comparison:
    """Set run B against run A (the baseline) and flag what regressed.

    A metric regresses when B is worse than A by more than ``threshold`` (a
    fraction of A's figure; any amount when A's is 0), and for wall time also by
    more than ``min_ms`` milliseconds, the noise floor. Errors regress when there
    are more of them. Improvements are never flagged.

    Args:
        a: the baseline.
        b: the run checked against it.
        threshold: the relative increase tolerated (0.2 is 20%).
        min_ms: the absolute wall-time increase tolerated, in milliseconds.

    Returns:
        The :class:`Comparison`, sections in :data:`SECTIONS` order, groups by name.

    Raises:
        ValueError: a negative threshold or noise floor.
    """
    if not threshold >= 0 or not min_ms >= 0:
        raise ValueError("threshold and min_ms must be non-negative numbers")
    rows = []
    for section in SECTIONS:
        groups_a, groups_b = a.sections.get(section, {}), b.sections.get(section, {})
        for name in sorted(groups_a.keys() | groups_b.keys()):
            old, new = groups_a.get(name), groups_b.get(name)
            found = _regressions(section, name, old, new, threshold, min_ms)
            rows.append(RowDiff(section, name, old, new, found))
    return Comparison(a.run_id, b.run_id, threshold, min_ms, tuple(rows))


def _regressions(
    section: str,
    name: str,
    old: GroupStats | None,
    new: GroupStats | None,
    threshold: float,
    min_ms: float,
) -> tuple[Regression, ...]:
    if new is None:
        return ()
    base = old or GroupStats()
    found = []
    for metric in METRICS:
        before, after = float(getattr(base, metric)), float(getattr(new, metric))
        delta = after - before
        if metric == "errors":
            worse = delta > 0
        else:
            # A hair of tolerance so rounding noise in floats never flags a regression.
            worse = delta > threshold * abs(before) + 1e-9
            if metric == "wall_ms":
                worse = worse and delta > min_ms
        if worse:
            found.append(Regression(section, name, metric, before, after))
    return tuple(found)


def _rounded(metric: str, value: float) -> float:
    if metric == "wall_ms":
        return round_ms(value)
    if metric == "cost_usd":
        return round_usd(value)
    return value


def profile(
    events: Iterable[Mapping[str, Any]],
    *,
    agent_kinds: Iterable[str] | None = None,
    prices: PriceTable | None = None,
    run_id: str | None = None,
) -> RunProfile:
    """Fold events into a :class:`RunProfile` at once (see :class:`ProfileFold`).

    Args:
        events: decoded lines of telemetry.jsonl, in file order.
        agent_kinds: see :class:`ProfileFold`.
        prices: see :class:`ProfileFold`.
        run_id: see :class:`ProfileFold`.

    Returns:
        The profile.
    """
    fold = ProfileFold(agent_kinds=agent_kinds, prices=prices, run_id=run_id)
    fold.extend(events)
    return fold.result()
