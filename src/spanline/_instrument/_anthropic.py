"""The Anthropic SDK methods traced by ``spanline.instrument("anthropic")``."""

from __future__ import annotations

from spanline._instrument._recipe import Target

__all__ = ["targets"]


def targets() -> list[Target]:
    """Messages ``create`` and the ``stream(...)`` helper, sync and async.

    The helper sends its request itself (not through ``create``), so both are wrapped.
    """
    from anthropic.resources.messages import messages

    return [
        Target(owner, method, f"anthropic.messages.{method}", "anthropic")
        for owner in (messages.Messages, messages.AsyncMessages)
        for method in ("create", "stream")
    ]
