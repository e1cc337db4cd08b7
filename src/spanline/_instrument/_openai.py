"""The OpenAI SDK methods traced by ``spanline.instrument("openai")``."""

from __future__ import annotations

from spanline._instrument._recipe import Target

__all__ = ["targets"]


def targets() -> list[Target]:
    """Chat Completions and Responses (``create``, ``parse``), sync and async.

    The ``chat.completions.stream(...)`` and ``responses.stream(...)`` helpers send
    their request through ``create``, so that wrapper traces them;
    ``with_raw_response`` wraps the same methods.
    """
    from openai.resources.chat.completions import completions as chat
    from openai.resources.responses import responses

    found: list[Target] = []
    owners: tuple[type, ...] = (chat.Completions, chat.AsyncCompletions)
    for owner in owners:
        for method in ("create", "parse"):
            found.append(Target(owner, method, f"openai.chat.completions.{method}", "openai"))
    for owner in (responses.Responses, responses.AsyncResponses):
        for method in ("create", "parse"):
            found.append(Target(owner, method, f"openai.responses.{method}", "openai"))
    return found
