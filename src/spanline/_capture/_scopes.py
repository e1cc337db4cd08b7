"""Instrumentation scopes the OpenTelemetry bridge leaves out.

When a native integration covers a framework (a trace processor, callbacks, an
event-bus listener), the same agents and tools may also arrive as OpenTelemetry
spans through the bridge. The integrations name that framework's instrumentation
scopes here, and the bridge records none of their spans, so nothing appears twice.
It lives below both the integrations and the bridge, which never import each other.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["SKIPPED_SCOPES", "skip_scopes", "unskip_scopes"]

#: Scope names (``InstrumentationScope.name``) whose spans the bridge does not record.
SKIPPED_SCOPES: set[str] = set()


def skip_scopes(names: Iterable[str]) -> None:
    """The bridge records no span of these instrumentation scopes from now on.

    Args:
        names: scope names, e.g. ``"openai.agents"`` or
            ``"openinference.instrumentation.langchain"``.
    """
    SKIPPED_SCOPES.update(name for name in names if isinstance(name, str))


def unskip_scopes(names: Iterable[str]) -> None:
    """Record these scopes' spans again (their native integration was removed)."""
    SKIPPED_SCOPES.difference_update(names)
