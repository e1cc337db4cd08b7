"""Test your own instrumentation: capture spans in memory.

Use the context manager anywhere::

    from spanline.testing import capture_spans

    with capture_spans() as captured:
        run_my_agent()
    assert captured.span("my-agent")["status"] == "ok"

or the ``spanline_capture`` pytest fixture, which comes with spanline's pytest
plugin automatically (no ``conftest.py`` line needed; ``pytest -p no:spanline``
turns it off)::

    def test_agent(spanline_capture):
        run_my_agent()
        assert spanline_capture.span("my-agent")["status"] == "ok"
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spanline._hotpath._tracer import set_sources
from spanline._runs._store import Run
from spanline._session._configure import configure_observability, flush, shutdown
from spanline.exporters.memory import InMemoryExporter

if TYPE_CHECKING:
    from spanline.folds._facts import RunFacts, SpanFact
    from spanline.folds.summary import RunSummary

__all__ = [
    "Agents",
    "Amount",
    "CapturedSpans",
    "Count",
    "Tool",
    "TracedRun",
    "capture_spans",
    "deterministic",
    "deterministic_sources",
    "load_run",
    "traced_run",
]


class CapturedSpans:
    """What a capture recorded. Reading it first flushes the pipeline."""

    def __init__(self, memory: InMemoryExporter, run: Run) -> None:
        self.memory = memory
        self.run = run
        #: The run summary, set when the capture ends.
        self.summary: RunSummary | None = None

    def _sync(self) -> None:
        if self.summary is None:
            flush()

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event so far (span_start, span_end, event, phase...)."""
        self._sync()
        return self.memory.events

    def spans(self) -> list[dict[str, Any]]:
        """One merged dict per span (see :meth:`InMemoryExporter.spans`)."""
        self._sync()
        return self.memory.spans()

    def span(self, name: str) -> dict[str, Any]:
        """The only span called ``name``.

        Raises:
            LookupError: there is none, or more than one.
        """
        found = [span for span in self.spans() if span.get("name") == name]
        if len(found) != 1:
            raise LookupError(f"expected one span named {name!r}, found {len(found)}")
        return found[0]

    def names(self) -> list[str]:
        """Span names in the order they started."""
        return [span["name"] for span in self.spans()]

    def traced(self) -> TracedRun:
        """The run so far as a :class:`TracedRun`, to assert on like a rules file."""
        return traced_run(self.events)


def deterministic_sources(start: float = 1_700_000_000.0) -> dict[str, Any]:
    """Arguments for ``configure_observability`` that make a run reproducible.

    Span ids are 1, 2, 3…; the clock starts at ``start`` (epoch seconds) and
    advances 1 s per reading, for timestamps and durations alike. With a fixed
    ``run_id`` too, two runs of the same code write byte-identical
    ``telemetry.jsonl`` and ``run_summary.json``.

    Returns:
        ``{"id_generator": ..., "clock": ...}``; pass them with ``**``.
    """
    ids = itertools.count(1)
    ticks = itertools.count(0)
    return {
        "id_generator": ids.__next__,
        "clock": lambda: start + next(ticks),
    }


@contextmanager
def deterministic(start: float = 1_700_000_000.0) -> Iterator[None]:
    """Deterministic ids and clock for spans of the *current* run, inside the block.

    Prefer passing :func:`deterministic_sources` to ``configure_observability``
    (or ``capture_spans(deterministic_ids=True)``), which also covers the run's
    header and trailer lines. Not thread-safe: use it in single-threaded tests.
    """
    sources = deterministic_sources(start)
    clock = sources["clock"]
    set_sources(sources["id_generator"], clock, clock)
    try:
        yield
    finally:
        set_sources()


@contextmanager
def capture_spans(*, deterministic_ids: bool = False, **options: Any) -> Iterator[CapturedSpans]:
    """Trace into a temporary run directory and keep every event in memory.

    Args:
        deterministic_ids: span ids 1, 2, 3… and a clock advancing 1 s per reading
            (see :func:`deterministic_sources`).
        **options: more ``configure_observability`` arguments (e.g. ``capture="full"``).

    Yields:
        The capture; after the block its ``summary`` is set.
    """
    if deterministic_ids:
        options = {**deterministic_sources(), **options}
    memory = InMemoryExporter()
    with tempfile.TemporaryDirectory(prefix="spanline-") as directory:
        extra = list(options.pop("exporters", None) or [])
        run = configure_observability(
            enabled=True, run_dir=Path(directory), exporters=[memory, *extra], **options
        )
        assert run is not None
        captured = CapturedSpans(memory, run)
        try:
            yield captured
        finally:
            captured.summary = shutdown()


# -- assertions on a whole run, read like the rules of ``spanline check`` -------------------


def _listing(spans: Iterable[Any], limit: int = 10) -> str:
    shown = [str(span) for span in itertools.islice(spans, limit + 1)]
    more = "; ..." if len(shown) > limit else ""
    return "; ".join(shown[:limit]) + more


class Count(int):
    """A count that remembers the spans behind it: its ``repr`` lists them, so a failed
    ``assert run.tool("search").calls <= 3`` shows which calls were made."""

    spans: tuple[Any, ...]

    def __new__(cls, value: int, spans: Iterable[Any] = ()) -> Count:
        made = super().__new__(cls, value)
        made.spans = tuple(spans)
        return made

    def __repr__(self) -> str:
        return f"{int(self)} [{_listing(self.spans)}]" if self.spans else str(int(self))


class Amount(float):
    """A figure (cost, tokens, milliseconds) that remembers what makes it up: its ``repr``
    lists the largest parts, so a failed ``assert run.cost_usd < 0.10`` shows them."""

    parts: tuple[str, ...]

    def __new__(cls, value: float, parts: Iterable[str] = ()) -> Amount:
        made = super().__new__(cls, value)
        made.parts = tuple(parts)
        return made

    def __repr__(self) -> str:
        return f"{float(self)!r} [{_listing(self.parts)}]" if self.parts else repr(float(self))


class Agents:
    """The agents of a run that match a name or a kind (see :meth:`TracedRun.agents`)."""

    def __init__(self, facts: RunFacts, cards: list[Any], label: str) -> None:
        self._facts = facts
        self._cards = cards
        self.label = label

    def __len__(self) -> int:
        return len(self._cards)

    def __repr__(self) -> str:
        return f"<{len(self)} {self.label}: {_listing(self.spans)}>"

    @property
    def spans(self) -> list[SpanFact]:
        """Each agent's span record (name, kind, status, error), in start order."""
        return [self._facts.span(card.span_id) for card in self._cards]

    @property
    def names(self) -> list[str | None]:
        """The agents' names, in start order."""
        return [card.name for card in self._cards]

    def all_ok(self) -> bool:
        """Assert that there is at least one such agent and each ended ``ok``.

        Returns:
            True.

        Raises:
            AssertionError: listing each agent that failed or did not end (span id,
                name, error), or saying that none matched.
        """
        if not self._cards:
            raise AssertionError(f"no {self.label} in the run")
        bad = [span for span in self.spans if span.status != "ok"]
        if bad:
            lines = "\n".join(f"  {span}" for span in bad)
            raise AssertionError(f"{len(bad)} of {len(self)} {self.label} not ok:\n{lines}")
        return True

    def _amount(self, metric: str) -> Amount:
        pairs = [(float(getattr(card, metric) or 0), card) for card in self._cards]
        pairs.sort(key=lambda pair: -pair[0])
        parts = [f"{self._facts.span(card.span_id)} {value:g}" for value, card in pairs]
        return Amount(max((value for value, _ in pairs), default=0.0), parts)

    @property
    def max_duration_ms(self) -> Amount:
        """The longest agent's duration (ms); its ``repr`` lists the agents, longest first."""
        return self._amount("duration_ms")

    @property
    def max_tokens(self) -> Amount:
        """The most tokens one agent's subtree used; ``repr`` lists them, most first."""
        return self._amount("tokens")

    @property
    def max_cost_usd(self) -> Amount:
        """The highest cost of one agent's subtree; ``repr`` lists them, costliest first."""
        return self._amount("cost_usd")


class Tool:
    """One tool's calls in a run (see :meth:`TracedRun.tool`)."""

    def __init__(self, facts: RunFacts, name: str) -> None:
        self._facts = facts
        self.name = name

    def __repr__(self) -> str:
        return f"<tool {self.name}: {self.calls!r}>"

    @property
    def spans(self) -> list[SpanFact]:
        """Every call's span, in start order."""
        return self._facts.tool_spans(self.name)

    @property
    def calls(self) -> Count:
        """How many times it was called (the count ``spanline check`` limits)."""
        return Count(self._facts.tool_calls(self.name), self.spans)

    @property
    def failures(self) -> Count:
        """How many of its calls failed; ``repr`` lists them with their errors."""
        stats = self._facts.summary.tools.get(self.name)
        failed = [span for span in self.spans if span.status == "error"]
        return Count(stats.failures if stats is not None else 0, failed)


class TracedRun:
    """A finished run, to assert on in tests; it reads like a rules file.

    Example::

        run = load_run(run_dir)          # or captured.traced()
        run.agents(kind="library-analysis").all_ok()
        assert run.tool("search").calls <= 3
        assert run.cost_usd < 0.10
        run.no_errors()

    Every figure comes from the same facts ``spanline check`` evaluates its rules on.
    """

    def __init__(self, facts: RunFacts) -> None:
        self.facts = facts

    def agents(self, *, kind: str | None = None, name: str | None = None) -> Agents:
        """The agents of a kind and/or a name (both None: every agent)."""
        label = "agents" + (f" of kind {kind}" if kind else "") + (f" named {name}" if name else "")
        return Agents(self.facts, self.facts.agents(kind=kind, name=name), label)

    def tool(self, name: str) -> Tool:
        """One tool, by the name the summary's ``tools`` uses (``tool.search`` -> ``search``)."""
        return Tool(self.facts, name)

    def _top_agents(self, metric: str) -> list[str]:
        cards = sorted(self.facts.summary.agents, key=lambda card: -float(getattr(card, metric)))
        return [f"{self.facts.span(card.span_id)} {getattr(card, metric):g}" for card in cards]

    @property
    def cost_usd(self) -> Amount:
        """The run's cost in USD; ``repr`` lists the agents, costliest first."""
        return Amount(self.facts.summary.totals.cost_usd, self._top_agents("cost_usd"))

    @property
    def tokens(self) -> Amount:
        """The run's tokens; ``repr`` lists the agents, most tokens first."""
        return Amount(float(self.facts.summary.totals.total_tokens), self._top_agents("tokens"))

    @property
    def duration_ms(self) -> Amount:
        """The run's wall time in ms."""
        return Amount(self.facts.summary.total_wall_ms)

    @property
    def errors(self) -> list[SpanFact]:
        """Every span that ended in error."""
        return self.facts.failed()

    def check(self, rules: Mapping[str, Any]) -> bool:
        """Assert rules written as in a rules file (``{"no_stalls": True, ...}``).

        Returns:
            True.

        Raises:
            AssertionError: naming each failed rule with its offending spans.
            ValueError: the rules break the rules file's schema.
        """
        from spanline.folds.rules import RulesSpec, evaluate

        failed = [r for r in evaluate(RulesSpec.model_validate(rules), self.facts) if not r.passed]
        if failed:
            text = "\n".join(
                f"rule failed: {r.rule}: {r.detail}" + "".join(f"\n  {e}" for e in r.evidence)
                for r in failed
            )
            raise AssertionError(text)
        return True

    def no_errors(self, *, except_tools: Iterable[str] = ()) -> bool:
        """Assert that no span failed, except calls of ``except_tools`` (see :meth:`check`)."""
        return self.check({"no_errors": {"except_tools": list(except_tools)}})

    def no_stalls(self) -> bool:
        """Assert that no agent stalled (see :meth:`check`)."""
        return self.check({"no_stalls": True})

    def planned_agents_finished(self) -> bool:
        """Assert that every planned agent started and ended ``ok`` (see :meth:`check`)."""
        return self.check({"planned_agents_finished": True})


def traced_run(events: Iterable[Mapping[str, Any]]) -> TracedRun:
    """A :class:`TracedRun` from events (decoded lines of telemetry.jsonl, in order)."""
    from spanline.folds._facts import run_facts

    return TracedRun(run_facts(events))


def load_run(
    target: str | os.PathLike[str] | None = None, base: str | os.PathLike[str] | None = None
) -> TracedRun:
    """A finished run from disk, to assert on.

    Args:
        target: a run directory, its ``telemetry.jsonl``, a run id or ``latest`` (None).
        base: the base directory run ids are looked up in (default: ``SPANLINE_DIR``,
            else ``.spanline``, as the ``spanline`` command reads it).

    Returns:
        The run.
    """
    from spanline._runs._store import resolve_run
    from spanline._session._settings import variable_setting
    from spanline.folds._facts import FactsFold
    from spanline.folds.events import JsonlTail

    if base is None:
        base = variable_setting("base_dir")
    run = resolve_run(target, base)
    fold = FactsFold(run_id=run.run_id)
    for batch in JsonlTail(run.telemetry_path).batches(final=True):
        fold.extend(batch)
    return TracedRun(fold.result())
