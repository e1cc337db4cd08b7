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

from spanline.otel import _context
from spanline.otel._processor import SpanProcessor

__all__ = ["SpanProcessor", "install", "uninstall"]

#: Processors added by install(), per provider: a second install() adds none.
_installed: weakref.WeakKeyDictionary[TracerProvider, SpanProcessor] = weakref.WeakKeyDictionary()


def install(
    tracer_provider: TracerProvider | None = None, *, set_global_otel: bool = False
) -> TracerProvider:
    """Turn the bridge on: record OpenTelemetry spans and nest them under spanline's.

    The processor goes on ``tracer_provider``, else on the global provider when
    the host has set an SDK one, else on a new provider. That provider becomes
    the global one only with ``set_global_otel=True``, and only when no SDK
    provider is global yet: spanline never replaces the host's global provider.
    Pass the returned provider to instrumentations
    (``HTTPXClientInstrumentor().instrument(tracer_provider=...)``) when it is
    not the global one. Calling it again is harmless.

    Args:
        tracer_provider: the provider to record from (default: see above).
        set_global_otel: make the provider the global one (when none is set yet).

    Returns:
        The provider that carries spanline's processor.

    Raises:
        TypeError: ``tracer_provider`` is not an OpenTelemetry SDK provider.
    """
    provider: Any = tracer_provider
    if provider is not None and not isinstance(provider, TracerProvider):
        raise TypeError(
            f"tracer_provider must be an opentelemetry.sdk.trace.TracerProvider, "
            f"not {type(provider).__name__}"
        )
    current = trace.get_tracer_provider()
    if provider is None:
        provider = current if isinstance(current, TracerProvider) else TracerProvider()
    if set_global_otel and not isinstance(current, TracerProvider):
        trace.set_tracer_provider(provider)  # only a proxy is there: nothing is replaced
    if provider not in _installed:
        processor = SpanProcessor()
        provider.add_span_processor(processor)
        _installed[provider] = processor
    _context.enable()
    return provider  # type: ignore[no-any-return]


def uninstall() -> None:
    """Turn the bridge off: the processors install() added record nothing more, and
    OpenTelemetry's context is its own again."""
    for processor in list(_installed.values()):
        processor.shutdown()
    _installed.clear()
    _context.disable()
