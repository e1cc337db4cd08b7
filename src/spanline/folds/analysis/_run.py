"""Analysing a run: one pass over its events, then each section (see the package)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

from spanline.folds._summary_model import round_ms
from spanline.folds.analysis._advice import against_baseline, suggestions
from spanline.folds.analysis._calls import errors, llm_calls, tools, waste
from spanline.folds.analysis._index import AnalysisFold, Indexed
from spanline.folds.analysis._time import critical_path, parallelism, waits
from spanline.folds.compare import RunProfile
from spanline.folds.events import JsonlTail, LineProblem

__all__ = ["SECTIONS", "Analysis", "analyze", "analyze_fold"]

#: The sections, in the order a report shows them.
SECTIONS = (
    "critical_path",
    "parallelism",
    "waits",
    "tools",
    "llm",
    "errors",
    "waste",
    "baseline",
    "suggestions",
)

Source = Union[str, "os.PathLike[str]", Iterable[Mapping[str, Any]]]


@dataclass
class Analysis:
    """A run's analysis: a few headline figures and the sections (plain, JSON-ready data)."""

    run_id: str | None
    status: str
    wall_ms: float
    spans: int
    agents: int
    tokens: int | float
    cost_usd: float
    sections: dict[str, Any] = field(default_factory=dict)
    #: Lines of the log that could not be read.
    skipped_lines: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, keys in a fixed order.

        Returns:
            ``{run_id, status, wall_ms, spans, agents, tokens, cost_usd, skipped_lines,
            sections}``; ``sections`` in :data:`SECTIONS` order (``baseline`` is None
            without a baseline).
        """
        return {
            "run_id": self.run_id,
            "status": self.status,
            "wall_ms": self.wall_ms,
            "spans": self.spans,
            "agents": self.agents,
            "tokens": self.tokens,
            "cost_usd": self.cost_usd,
            "skipped_lines": self.skipped_lines,
            "sections": {name: self.sections.get(name) for name in SECTIONS},
        }


def _fold(source: Source, *, profile: bool) -> tuple[Indexed, int]:
    fold = AnalysisFold(profile=profile)
    problems: list[LineProblem] = []
    if isinstance(source, (str, os.PathLike)):
        tail = JsonlTail(source)
        for batch in tail.batches(final=True):
            fold.extend(batch)
        problems = list(tail.problems)
    else:
        fold.extend(source)
    return fold.result(), len(problems)


def _profile(baseline: Source | RunProfile | None) -> RunProfile | None:
    """The baseline's profile (None without a baseline)."""
    if baseline is None:
        return None
    if isinstance(baseline, RunProfile):
        return baseline
    return _fold(baseline, profile=True)[0].profile


def analyze(lines_or_path: Source, baseline: Source | RunProfile | None = None) -> Analysis:
    """Analyse a run.

    Args:
        lines_or_path: the run's ``telemetry.jsonl`` (a path), or its decoded events
            in file order.
        baseline: another run to compare against (a path, events, or the
            :class:`~spanline.folds.compare.RunProfile` of one); None for no comparison.

    Returns:
        The :class:`Analysis`. The same events always give the same analysis.
    """
    index, skipped = _fold(lines_or_path, profile=baseline is not None)
    return analyze_fold(index, _profile(baseline), skipped_lines=skipped)


def _against(baseline: RunProfile | None, index: Indexed) -> dict[str, Any] | None:
    if baseline is None:
        return None
    if index.profile is None:
        raise ValueError("a baseline needs the run folded with profile=True")
    return against_baseline(baseline, index.profile)


def analyze_fold(
    index: Indexed, baseline: RunProfile | None = None, *, skipped_lines: int = 0
) -> Analysis:
    """The analysis of an :class:`AnalysisFold`'s result (see :func:`analyze`).

    Args:
        index: ``AnalysisFold.result()``; folded with ``profile=True`` for a baseline.
        baseline: the baseline run's profile, or None.
        skipped_lines: lines of the log that could not be read, for the report.

    Returns:
        The :class:`Analysis`.

    Raises:
        ValueError: a baseline with a run folded without its profile.
    """
    summary = index.summary
    path = critical_path(index)
    wall = float(path["ms"]) or summary.total_wall_ms
    sections: dict[str, Any] = {
        "critical_path": path,
        "parallelism": parallelism(index),
        "waits": waits(index),
        "tools": tools(index),
        "llm": llm_calls(index),
        "errors": errors(index),
        "waste": waste(index),
        "baseline": _against(baseline, index),
    }
    sections["suggestions"] = suggestions(sections, wall)
    return Analysis(
        run_id=summary.run_id,
        status=summary.status,
        wall_ms=round_ms(wall),
        spans=len(index.spans),
        agents=summary.totals.agents_spawned,
        tokens=summary.totals.total_tokens,
        cost_usd=summary.totals.cost_usd,
        sections=sections,
        skipped_lines=skipped_lines,
    )
