"""``spanline.instrument("pydantic-ai")``: pydantic-ai's own OpenTelemetry spans, recorded
through the bridge.

The bridge goes on the global OpenTelemetry SDK provider when there is one (Logfire's,
the application's), as a guest that leaves that tracer's spans as they were, else on
spanline's own, made global: the user needs no ``set_global_otel``. pydantic-ai's class-wide
switch (``Agent.instrument_all``) is turned on only when nobody set it already: a
setting of Logfire's or the application's is never overridden.
"""

from __future__ import annotations

from typing import Any

from pydantic_ai import Agent

from spanline import otel

__all__ = ["install", "uninstall"]

#: What ``Agent._instrument_default`` was when install() turned it on (None: not ours).
_BEFORE: list[Any] = []


def install() -> None:
    """Turn the bridge on and pydantic-ai's instrumentation on (unless already set)."""
    otel.install(set_global_otel=True)
    if Agent._instrument_default is False and not _BEFORE:
        _BEFORE.append(Agent._instrument_default)
        Agent.instrument_all(True)


def uninstall() -> None:
    """Put back pydantic-ai's class-wide default when install() set it; the bridge stays
    (other integrations and the host may use it: ``spanline.otel.uninstall()`` ends it)."""
    if _BEFORE:
        Agent.instrument_all(_BEFORE.pop())
