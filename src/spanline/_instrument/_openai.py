"""The OpenAI SDK methods traced by ``spanline.instrument("openai")``."""

from __future__ import annotations

from spanline._instrument._recipe import Target

__all__ = ["targets"]


def targets() -> list[Target]:
    """Chat Completions (``create``, ``parse``) and Responses (``create``), sync and async.

    ``chat.completions.stream(...)`` sends its request through ``create``, so it
    is traced by that wrapper; ``with_raw_response`` wraps the same methods.
    """
    from openai.resources.chat.completions import completions as chat
    from openai.resources.responses import responses

    found: list[Target] = []
    owners: tuple[type, ...] = (chat.Completions, chat.AsyncCompletions)
    for owner in owners:
        for method in ("create", "parse"):
            found.append(Target(owner, method, f"openai.chat.completions.{method}", "openai"))
    for owner in (responses.Responses, responses.AsyncResponses):
        found.append(Target(owner, "create", "openai.responses.create", "openai"))
    return found
