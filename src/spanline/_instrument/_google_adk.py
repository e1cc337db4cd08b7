"""``spanline.instrument("google-adk")``: Google ADK's own OpenTelemetry spans, recorded
through the bridge.

ADK traces through OpenTelemetry's global provider. The bridge goes on it when it is
an SDK provider (Logfire's, the application's), as a guest that leaves that tracer's
spans as they were, else on spanline's own, made global, so ADK's spans are recorded
without ``set_global_otel``. (``spanline.otel.install()`` alone, before any provider is
global, records none of them and says so in one line: ADK's tracers are the global's.)
"""

from __future__ import annotations

import google.adk  # noqa: F401  (the integration needs the package)

from spanline import otel

__all__ = ["install", "uninstall"]


def install() -> None:
    """Turn the bridge on, on the global provider (spanline's own when there is none)."""
    otel.install(set_global_otel=True)


def uninstall() -> None:
    """Nothing of ADK's was changed. The bridge stays (other integrations and the host
    may use it: ``spanline.otel.uninstall()`` ends it)."""
