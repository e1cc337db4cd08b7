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

from spanline._run import Run
from spanline._runtime import configure_observability, flush, shutdown
from spanline.exporters.memory import InMemoryExporter

if TYPE_CHECKING:
    from spanline.folds.summary import RunSummary

__all__ = ["CapturedSpans", "capture_spans", "deterministic"]


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


@contextmanager
def deterministic() -> Iterator[None]:
    """Span ids 1, 2, 3…, a wall clock and a monotonic clock that advance 1 s per reading.

    Whole span trees then compare equal across runs (snapshot tests). The hot
    path reads these functions as module globals, so swapping them costs
    nothing when not testing. Not thread-safe: use it in single-threaded tests.
    """
    from spanline import _decorators, _tracer, _wrapping

    ids = itertools.count(1)
    wall = itertools.count(1_700_000_000)
    mono = itertools.count(1)
    saved = (_tracer.getrandbits, _tracer._time, _tracer._perf)
    saved_agent, saved_elapsed = _decorators.getrandbits, _wrapping._perf
    _tracer.getrandbits = _decorators.getrandbits = lambda bits: next(ids)
    _tracer._time = lambda: float(next(wall))
    _tracer._perf = _wrapping._perf = lambda: float(next(mono))
    try:
        yield
    finally:
        _tracer.getrandbits, _tracer._time, _tracer._perf = saved
        _decorators.getrandbits, _wrapping._perf = saved_agent, saved_elapsed


@contextmanager
def capture_spans(*, deterministic_ids: bool = False, **options: Any) -> Iterator[CapturedSpans]:
    """Trace into a temporary run directory and keep every event in memory.

    Args:
        deterministic_ids: use :func:`deterministic` ids and clocks.
        **options: more ``configure_observability`` arguments (e.g. ``capture="full"``).

    Yields:
        The capture; after the block its ``summary`` is set.
    """
    if deterministic_ids:
        with deterministic(), capture_spans(**options) as captured:
            yield captured
        return
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
