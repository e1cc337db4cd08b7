"""The two-way OpenTelemetry bridge.

* **OpenTelemetry into spanline**: :class:`SpanProcessor` records the spans of
  an OpenTelemetry ``TracerProvider`` (auto-instrumented httpx, the GenAI
  instrumentations, the host's own spans) into the run's ``telemetry.jsonl``.
* **spanline into OpenTelemetry**: in bridge mode OpenTelemetry's current
  context points at the open spanline span, so those spans nest under it.

:func:`install` sets both up in one line. Without it, spanline leaves
OpenTelemetry alone: a host with its own OpenTelemetry setup exports exactly
what it exported before.
"""

from __future__ import annotations

import weakref
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from spanline._capture._report import report
from spanline.otel import _context
from spanline.otel._processor import SpanProcessor

__all__ = ["SpanProcessor", "install", "uninstall"]

#: Processors added by install(), per provider: a second install() adds none.
_installed: weakref.WeakKeyDictionary[TracerProvider, SpanProcessor] = weakref.WeakKeyDictionary()


def install(tracer_provider: Any = None, *, set_global_otel: bool = False) -> TracerProvider:
    """Turn the bridge on: record OpenTelemetry spans and nest them under spanline's.

    The processor goes on ``tracer_provider``, else on the global provider when
    the host has set an SDK one (Logfire's, or the application's own: wrappers such
    as Logfire's are looked through to the SDK provider inside), else on a new
    provider. spanline's processor is added beside the others; the host's provider
    is never replaced and its own spans are unchanged. The new provider becomes the
    global one only with ``set_global_otel=True``, and only when no SDK provider is
    global yet; without it, a one-line warning says that only tracers taken from the
    returned provider are recorded. Pass the returned provider to instrumentations
    (``HTTPXClientInstrumentor().instrument(tracer_provider=...)``) when it is not
    the global one. Calling it again is harmless.

    Found global (not named), another tracer's provider is joined as a guest: its
    spans keep their own parents and trace ids, so its backend, which never sees
    spanline's spans, gets the trees it got before; in the run they still nest under
    the open spanline span. A provider named as ``tracer_provider`` is bridged both
    ways: OTel spans opened inside a spanline span are its children there too (one
    trace where spanline's spans reach the same backend, through OTLP export).

    Args:
        tracer_provider: the provider to record from (default: see above); an
            OpenTelemetry SDK provider, or a wrapper around one (Logfire's).
        set_global_otel: make the provider the global one (when none is set yet).

    Returns:
        The SDK provider that carries spanline's processor.

    Raises:
        TypeError: ``tracer_provider`` is neither an OpenTelemetry SDK provider nor a
            wrapper around one.
    """
    if tracer_provider is not None:
        provider = _sdk_provider(tracer_provider)
        if provider is None:
            raise TypeError(
                f"tracer_provider must be an opentelemetry.sdk.trace.TracerProvider"
                f" (or a wrapper around one), not {type(tracer_provider).__name__}"
            )
        if set_global_otel and isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
            trace.set_tracer_provider(tracer_provider)  # only a proxy is there: nothing replaced
        shared = False  # named: OTel spans nest under spanline's in its export too
    else:
        found = _sdk_provider(trace.get_tracer_provider())
        provider = _global_or_new(set_global_otel)
        shared = provider is found and _exports_elsewhere(provider)
    if provider not in _installed:
        processor = SpanProcessor()
        provider.add_span_processor(processor)
        _installed[provider] = processor
    _context.enable()
    if shared:
        _context.share()
    return provider


def _exports_elsewhere(provider: TracerProvider) -> bool:
    """Whether the provider has span processors besides spanline's (another tracer's,
    exporting its spans elsewhere)."""
    active = getattr(provider, "_active_span_processor", None)
    processors = getattr(active, "_span_processors", ())
    return any(not isinstance(each, SpanProcessor) for each in processors)


def _sdk_provider(candidate: Any) -> TracerProvider | None:
    """The SDK provider ``candidate`` is or wraps (Logfire's proxy keeps it in
    ``provider``), or None."""
    for _ in range(8):  # wrappers of wrappers, never a loop
        if isinstance(candidate, TracerProvider):
            return candidate
        candidate = getattr(candidate, "provider", None)
        if candidate is None:
            return None
    return None


def _global_or_new(set_global_otel: bool) -> TracerProvider:
    """The global SDK provider, else a new one (made global when asked and allowed)."""
    current = trace.get_tracer_provider()
    real = _sdk_provider(current)
    if real is not None:
        return real
    provider = TracerProvider()
    if isinstance(current, trace.ProxyTracerProvider):  # nothing is global yet
        if set_global_otel:
            trace.set_tracer_provider(provider)  # nothing is replaced
            return provider
        reason = "no OpenTelemetry SDK provider is global yet"
        advice = "pass set_global_otel=True, or call install() after the application's setup"
    else:
        reason = f"the global OpenTelemetry provider is a {type(current).__name__}, not an SDK one"
        advice = "pass the SDK provider it wraps as tracer_provider"
    report(
        f"spanline.otel.install(): {reason}, so only tracers taken from the returned"
        f" provider are recorded; {advice}."
    )
    return provider


def uninstall() -> None:
    """Turn the bridge off: the processors install() added record nothing more, and
    OpenTelemetry's context is its own again."""
    for processor in list(_installed.values()):
        processor.shutdown()
    _installed.clear()
    _context.disable()
