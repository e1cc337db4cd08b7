"""Tracer and spans: the hot path.

Opening or closing a span builds one tuple and appends it to the pipeline's
deque. No lock, no I/O, no serialization: the writer thread
(``spanline._writer._pipeline``) turns tuples into JSON lines later. Span ids are
integers here and become hex strings in the writer.
"""

from __future__ import annotations

import time
from _thread import get_ident
from collections.abc import Callable
from contextvars import Token
from functools import partial
from random import getrandbits
from types import TracebackType
from typing import Any, Final

from spanline._hotpath._checks import check_label, check_name, parent_span_id
from spanline._hotpath._errors import error_info, is_clean_exit
from spanline._hotpath._noop import NOOP_SPAN, NoOpSpan
from spanline._hotpath._runtime import (
    CURRENT_SPAN,
    RUNTIME,
    SUPPRESSED,
    Pipeline,
    call_pipeline,
    context_attributes,
    count_while_closing,
    current_span,
    live_pipeline,
)
from spanline._hotpath._span_data import _ENDED, _NEW, _STARTED, ABANDONED, SpanData
from spanline.schema import (
    AGENT_KINDS,
    END,
    EVENT,
    PHASE,
    PLAN,
    START,
)

__all__ = ["AGENT_KINDS", "NOOP_SPAN", "NoOpSpan", "Span", "Tracer", "current_span"]

_CURRENT: Final[Any] = object()  # sentinel: "parent is whatever span is current"

_new_object: Final = object.__new__
_time = time.time
_perf = time.perf_counter


def _items(mapping: dict[str, Any] | None) -> tuple[tuple[str, Any], ...] | None:
    """A queued snapshot of a dict: a tuple of pairs, or None when empty. (A tuple
    holding a dict stays tracked by the cyclic garbage collector, so a queue of
    millions of them makes every full collection walk the whole queue.)"""
    return tuple(mapping.items()) if mapping else None


#: A C-level callable: a Python wrapper here would cost the hot path ~50 ns.
_random_id: Callable[[], int] = partial(getrandbits, 64)
_new_span_id = _random_id


def set_sources(
    new_id: Callable[[], int] | None = None,
    wall: Callable[[], float] | None = None,
    monotonic: Callable[[], float] | None = None,
) -> None:
    """Where span ids and times come from (None: the defaults).

    Deterministic runs inject generators here; the hot path reads these as
    module globals, so the defaults cost nothing extra.
    """
    global _new_span_id, _time, _perf
    _new_span_id = new_id or _random_id
    _time = wall or time.time
    _perf = monotonic or time.perf_counter


def new_span_id() -> int:
    """A fresh span id from the current source (never 0)."""
    return _new_span_id() or 1


def monotonic() -> float:
    """The current monotonic clock, in seconds."""
    return _perf()


def wall_time() -> float:
    """The current wall clock, in epoch seconds."""
    return _time()


class Span(SpanData):
    """One timed operation. Use it as a (async) context manager, or start and end it.

    A span is owned by the code that opened it: its methods are not meant to be
    called from several threads at once.
    """

    __slots__ = (
        "_id",
        "_parent",
        "_pipeline",
        "_state",
        "_t0",
        "_token",
        "_ts",
        "attributes",
        "component",
        "kind",
        "name",
    )

    _token: Token[Span | NoOpSpan | None] | None

    def __init__(
        self,
        pipeline: Pipeline,
        name: str,
        kind: str | None,
        component: str | None,
        parent: Any,
        attributes: dict[str, Any],
    ) -> None:
        self._pipeline = pipeline
        self.name = name
        self.kind = kind
        self.component = component
        self._parent = parent
        self.attributes = attributes
        # _token, _ts and _t0 are set when the span starts: fewer stores per span.
        # Tracer.span() makes these same stores without calling __init__: keep them in step.
        self._id = 0
        self._state = _NEW
        self._counters: dict[str, int | float] | None = None
        self._end_attributes: dict[str, Any] | None = None
        self._status: str | None = None
        self._error: dict[str, str] | None = None

    # -- lifecycle ---------------------------------------------------------
    # ``with`` calls __enter__ and __exit__ from C, which costs more than a call between
    # two Python functions: so they hold the work themselves, and _start() and end() call
    # them with the arguments a ``with`` never passes.
    def __enter__(self, start_ts: float | None = None, current: bool = True) -> Span:
        """Start the span and make it current (``current=False``: start it only)."""
        if self._state:
            raise ValueError(f"span {self.name!r} was already started")
        self._state = _STARTED
        parent = self._parent
        if parent is _CURRENT:
            now = CURRENT_SPAN.get()
            parent_id = now._id if now is not None else RUNTIME.remote_parent
        else:
            parent_id = parent_span_id(parent)
        span_id = self._id or _new_span_id() or 1  # a decorator may have chosen it
        self._id = span_id
        extra = context_attributes.get() if RUNTIME.context_used else None
        attributes = {**extra, **self.attributes} if extra else self.attributes
        self.attributes = attributes
        if start_ts is None:
            ts = self._ts = _time()
            self._t0 = _perf()
        else:  # started earlier: the monotonic origin moves back to match
            ts = self._ts = start_ts
            self._t0 = _perf() - max(0.0, _time() - start_ts)
        pipeline = self._pipeline
        # Registered so that shutdown can end it if its owner never does. A process
        # forked meanwhile starts with an empty registry: see __exit__.
        pipeline.open_spans[self] = get_ident()
        queue = pipeline.queue
        if len(queue) < pipeline.max_queue:
            queue.append(
                (
                    START,
                    span_id,
                    parent_id,
                    self.name,
                    self.component,
                    self.kind,
                    ts,
                    tuple(attributes.items()) if attributes else None,  # _items(), inlined
                )
            )
        else:
            pipeline.count_drop()
        if current:
            self._token = CURRENT_SPAN.set(self)
        return self

    def _start(self, start_ts: float | None = None) -> None:
        """Start the span without making it current."""
        self.__enter__(start_ts, False)

    def end(self, ts: float | None = None, error: BaseException | None = None) -> None:
        """End the span (one :meth:`Tracer.start_span` started), from any thread.

        Args:
            ts: when it ended, in epoch seconds (default: now; never before the start).
            error: the exception it failed with, recorded as ``with`` records one.

        Raises:
            ValueError: the span was not started or was already ended.
        """
        self.__exit__(None, error, None, ts, False)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        ts: float | None = None,
        current: bool = True,
    ) -> None:
        """End the span, failed by ``exc`` if given, and stop it being current
        (``current=False``: end it only)."""
        if current:
            token = self._token
            self._token = None
            try:
                # Set by __enter__, which comes first; no cast(): it would cost a call per span.
                CURRENT_SPAN.reset(token)  # type: ignore[arg-type]
            except (ValueError, RuntimeError):
                # Exited in another context (e.g. an async generator finalized
                # elsewhere): that context's own value is already right.
                pass
        # After the reset: a misuse error here must not leave us current.
        state = self._state
        if state != _STARTED:
            if state == ABANDONED:
                return  # shutdown already ended it for its owner, who comes too late
            raise ValueError(
                f"span {self.name!r} was {'never started' if state == _NEW else 'already ended'}"
            )
        if exc is not None:
            self._fail(exc)
        self._state = _ENDED
        duration = _perf() - self._t0 if ts is None else max(0.0, ts - self._ts)
        pipeline = self._pipeline
        # The removal decides who writes the end when shutdown abandons spans meanwhile:
        # a dict operation is atomic, so exactly one of the two gets the entry. A span
        # opened before a fork is not in the child's (new) registry: the parent process
        # ends it, not this child. (``del`` rather than ``pop()``: no method call.)
        try:
            del pipeline.open_spans[self]
        except KeyError:
            return
        queue = pipeline.queue
        if len(queue) < pipeline.max_queue:
            # _items() inlined: three calls were a tenth of the hot path.
            failure, attributes, counters = self._error, self._end_attributes, self._counters
            queue.append(
                (
                    END,
                    self._id,
                    self._status or "ok",
                    duration,
                    self._ts + duration,
                    tuple(failure.items()) if failure else None,
                    tuple(attributes.items()) if attributes else None,
                    tuple(counters.items()) if counters else None,
                )
            )
        else:
            pipeline.count_drop()

    def _fail(self, exc: BaseException) -> None:
        """Mark the span failed by ``exc`` unless a status was set explicitly."""
        if self._status is None and not is_clean_exit(exc):
            self._status = "error"
            self._error = error_info(exc)

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


class Tracer:
    """Opens spans and records events into the process-wide pipeline.

    Tracers hold no state of their own: they resolve the pipeline at call time,
    so a tracer taken at import is live once tracing is configured.
    """

    __slots__ = ("_runtime",)

    def __init__(self) -> None:
        self._runtime = RUNTIME

    def span(
        self,
        name: str,
        /,
        *,
        kind: str | None = None,
        component: str | None = None,
        parent: Any = _CURRENT,
        **attributes: Any,
    ) -> Span | NoOpSpan:
        """Create a span; enter it with ``with`` or ``async with``.

        Args:
            name: what the span measures, e.g. ``"lib-encoding"``.
            kind: its category (``"phase"``, ``"library-analysis"``, ``"tool"``...).
            component: the part of the system it belongs to.
            parent: a Span, a span id, or None for a root span; default: the
                current span of this thread or task.
            **attributes: attributes known at open, written with span_start.

        Returns:
            A span, or the shared no-op span while tracing is off.
        """
        if name.__class__ is not str:
            name = check_name(name)
        if kind is not None and kind.__class__ is not str:
            check_label("kind", kind)
        if component is not None and component.__class__ is not str:
            check_label("component", component)
        runtime = self._runtime
        pipeline = runtime.pipeline
        if pipeline is None:
            if runtime.off:  # tracing is off for good: the one check a disabled span pays
                return NOOP_SPAN
            pipeline = live_pipeline()
            if pipeline is None:
                count_while_closing()
                return NOOP_SPAN
        if CURRENT_SPAN.get() is SUPPRESSED:  # one of our own threads: never trace ourselves
            pipeline.count_suppressed()
            return NOOP_SPAN
        # Span(...) inlined: a class call runs __init__ from C, which cost a tenth of
        # the hot path. These stores are __init__'s, in its order.
        span = _new_object(Span)
        span._pipeline = pipeline
        span.name = name
        span.kind = kind
        span.component = component
        span._parent = parent
        span.attributes = attributes
        span._id = 0
        span._state = _NEW
        span._counters = None
        span._end_attributes = None
        span._status = None
        span._error = None
        return span

    def start_span(
        self,
        name: str,
        /,
        *,
        kind: str | None = None,
        component: str | None = None,
        parent: Any = _CURRENT,
        start_ts: float | None = None,
        **attributes: Any,
    ) -> Span | NoOpSpan:
        """Start a span without making it current; ``span.end()`` ends it, on any thread.

        For work seen as callbacks: pass ``parent`` (a Span or span id) and the
        framework's times, ``start_ts=`` (epoch seconds) here and ``span.end(ts=...)``.
        The other arguments are :meth:`span`'s. Shutdown ends spans left open.
        """
        span = self.span(name, kind=kind, component=component, parent=parent, **attributes)
        if isinstance(span, Span):
            span._start(start_ts)
        return span

    def event(self, name: str, /, **attributes: Any) -> None:
        """Record a point-in-time event (vote, answer, restart...) in the current span."""
        name = check_name(name)
        pipeline = call_pipeline()
        if pipeline is None:
            return
        current = CURRENT_SPAN.get()
        extra = context_attributes.get()
        if extra:
            attributes = {**extra, **attributes}
        pipeline.emit((EVENT, name, current._id if current else None, _time(), _items(attributes)))

    def phase(self, name: str, /, **counts: Any) -> None:
        """Record a phase milestone; ``wall_ms`` is the time since the previous one.

        Raises:
            ValueError: a count uses a reserved field name.
        """
        name = check_name(name)
        pipeline = call_pipeline()
        if pipeline is None:
            return
        clash = {"event", "name", "wall_ms", "ts"} & counts.keys()
        if clash:
            raise ValueError(f"phase counts may not be named {sorted(clash)}")
        pipeline.emit((PHASE, name, pipeline.phase_wall_ms(), _time(), _items(counts)))

    def plan(
        self,
        name: str,
        /,
        *,
        kind: str | None = None,
        parent: Any = None,
        **attributes: Any,
    ) -> str:
        """Declare a span that will start later, so a viewer can show it as queued.

        Writes a ``span_planned`` line. The plan is fulfilled by the first later span
        with the same name whose ancestors include ``parent`` (any span of that name
        when ``parent`` is None), or by a span opened with the attribute
        ``plan_id=<the returned id>``.

        Args:
            name: the name the span will have, e.g. ``"lib-encoding"``.
            kind: the kind it will have (``"library-analysis"``...).
            parent: the span it will start under (a Span or a span id), or None.
            **attributes: anything a viewer may show about the queued work.

        Returns:
            The plan id (16 hex characters), or ``""`` while tracing is off.
        """
        name = check_name(name)
        check_label("kind", kind)
        parent_id = parent_span_id(parent)
        pipeline = call_pipeline()
        if pipeline is None:
            return ""
        plan_id = _new_span_id() or 1  # the span id source: deterministic runs stay so
        pipeline.emit((PLAN, plan_id, name, kind, parent_id, _time(), _items(attributes)))
        return f"{plan_id:016x}"
