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
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spanline._hotpath._tracer import set_sources
from spanline._runs._store import Run
from spanline._session._configure import configure_observability, flush, shutdown
from spanline.exporters.memory import InMemoryExporter

if TYPE_CHECKING:
    from spanline.folds.summary import RunSummary

__all__ = ["CapturedSpans", "capture_spans", "deterministic", "deterministic_sources"]


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
