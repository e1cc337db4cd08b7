"""What the hot path shares with the layers around it: the current span, the process-wide
runtime the session sets (the pipeline, capture settings), and the marker of
spanline's own threads."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any, Final, Protocol

from spanline._hotpath._noop import NOOP_SPAN, NoOpSpan

if TYPE_CHECKING:
    from spanline._hotpath._tracer import Span

__all__ = [
    "CURRENT_SPAN",
    "RUNTIME",
    "SUPPRESSED",
    "Pipeline",
    "Runtime",
    "call_pipeline",
    "context_attributes",
    "count_while_closing",
    "current_span",
    "is_internal_thread",
    "live_pipeline",
    "mark_internal_thread",
    "set_context_attributes",
]

#: The innermost open span of the current context (thread or asyncio task);
#: ``SUPPRESSED`` (a NoOpSpan) on spanline's own threads.
CURRENT_SPAN: ContextVar[Span | NoOpSpan | None] = ContextVar("spanline_current_span", default=None)
#: Attributes attached to every span opened in this context (agent id, round...).
context_attributes: ContextVar[dict[str, Any] | None] = ContextVar(
    "spanline_context_attributes", default=None
)


def set_context_attributes(attributes: dict[str, Any] | None) -> Token[dict[str, Any] | None]:
    """Make ``attributes`` this context's context attributes; reset with the token.

    The one way to set them: it also tells the hot path that they are in use, so
    a process that never sets any reads no context variable for them per span.
    """
    if not RUNTIME.context_used:
        RUNTIME.context_used = True
    return context_attributes.set(attributes)


def current_span() -> Span | NoOpSpan:
    """The innermost open span of this thread or task, or the no-op span."""
    span = CURRENT_SPAN.get()
    return NOOP_SPAN if span is None else span


class Pipeline(Protocol):
    """What the hot path needs of the writer below the session (``spanline._writer._pipeline``)."""

    queue: Any  # a deque: append() is the whole hot path
    max_queue: int
    pid: int
    #: Spans started and not yet ended in this process: span -> the ident of the
    #: thread that started it, or a reason (a generator's span).
    open_spans: dict[Any, Any]

    def emit(self, record: tuple[Any, ...]) -> None:
        """Queue one record, or count it as dropped."""

    def count_drop(self) -> None:
        """Count one event lost to the queue bound."""

    def count_suppressed(self) -> None:
        """Count one span opened on spanline's own threads."""

    def phase_wall_ms(self) -> float:
        """Milliseconds since the previous phase event of this process."""

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until every queued event is written and exported (``spanline.flush``)."""


#: What the ``off`` flag of the runtime sums up.
_STATES: Final = frozenset({"pipeline", "resolved", "closing"})


class Runtime:
    """Process-wide state the hot path reads, set by the session layer above it.

    The session hands down what the lower layers need (the pipeline, capture
    settings, prices, a hook to configure from the environment) instead of
    being imported by them.
    """

    __slots__ = (
        "budgets",
        "capture",
        "closing",
        "configure_hook",
        "context_used",
        "off",
        "pipeline",
        "preview_chars",
        "prices",
        "remote_parent",
        "resolved",
    )

    #: True while tracing is off for good: no pipeline, the environment already read,
    #: nothing shutting down. The one flag a disabled decorator or span checks, kept up
    #: to date by :meth:`__setattr__` whenever one of the three states it sums up changes.
    off: bool

    def __init__(self) -> None:
        object.__setattr__(self, "off", False)
        self.pipeline: Pipeline | None = None
        #: True once a budget was set in this process: LLM calls then ask the budgets.
        self.budgets = False
        #: True once context attributes were set in this process (never reset): until
        #: then a span's start skips reading them.
        self.context_used = False
        #: Parent span id (int) handed over by a parent process via TRACEPARENT.
        self.remote_parent: int | None = None
        #: True once configure/shutdown ran or the environment was read.
        self.resolved = False
        #: Called on first use: configures tracing if ``SPANLINE_ENABLED`` asks for it.
        self.configure_hook: Callable[[], None] | None = None
        #: Capture mode of the decorators: "off", "preview" or "full".
        self.capture = "preview"
        #: Characters kept in previews.
        self.preview_chars = 200
        #: The session's price table (None: the shipped one).
        self.prices: Any = None
        #: The pipeline being shut down: spans its exporters open meanwhile are
        #: counted there as suppressed.
        self.closing: Pipeline | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name in _STATES:
            # getattr(): __init__ sets the three one after the other.
            off = (
                getattr(self, "pipeline", None) is None
                and getattr(self, "resolved", False)
                and getattr(self, "closing", None) is None
            )
            object.__setattr__(self, "off", off)

    def resolve(self) -> Pipeline | None:
        """First use without configuration: let the session read the environment."""
        hook = self.configure_hook
        if hook is None:
            self.resolved = True
            return None
        hook()  # sets ``resolved``, under the session's lock
        return self.pipeline


RUNTIME: Final = Runtime()

#: The current-span value of spanline's own threads (writer, exporter workers,
#: summary, servers): spans opened there are no-ops, counted as suppressed, so
#: spanline never traces itself.
SUPPRESSED: Final = NoOpSpan()


def mark_internal_thread() -> None:
    """Declare the calling thread one of spanline's own: its spans become no-ops.

    Where OpenTelemetry is loaded, the thread also sets its "suppress
    instrumentation" flag: the host's instrumentations (httpx, requests...) then
    leave spanline's own clients untraced too.

    It also stops taking SIGTERM and SIGINT: the kernel may hand a process's
    signal to any thread that does not block it, and one caught by ours would
    wait for the main thread, which may sit in a blocking call (a
    multiprocessing lock) that only the signal itself would have interrupted.
    """
    CURRENT_SPAN.set(SUPPRESSED)
    import signal

    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    otel = sys.modules.get("opentelemetry.context")
    if otel is not None:
        try:
            otel.attach(otel.set_value(otel._SUPPRESS_INSTRUMENTATION_KEY, True))
        except Exception:  # an OTel without that key: nothing to suppress with
            pass


def is_internal_thread() -> bool:
    """True on spanline's own threads (see :func:`mark_internal_thread`)."""
    return CURRENT_SPAN.get() is SUPPRESSED


def live_pipeline() -> Pipeline | None:
    """The pipeline to trace into, or None while tracing is off (one check when off).

    Callers read it once per operation: another thread may shut tracing down.
    """
    runtime = RUNTIME
    pipeline = runtime.pipeline
    if pipeline is None and not runtime.resolved:
        pipeline = runtime.resolve()
    return pipeline


def call_pipeline() -> Pipeline | None:
    """Like :func:`live_pipeline`, but None on spanline's own threads (counted)."""
    pipeline = live_pipeline()
    if pipeline is None:
        count_while_closing()
    elif CURRENT_SPAN.get() is SUPPRESSED:
        pipeline.count_suppressed()
        return None
    return pipeline


def count_while_closing() -> None:
    """Tracing is off: if only because it is shutting down, count our own threads' spans."""
    closing = RUNTIME.closing
    if closing is not None and CURRENT_SPAN.get() is SUPPRESSED:
        closing.count_suppressed()
