"""``spanline.session(id)``: the spans of a block belong to one conversation.

For programs that serve several conversations in one process. The session is an
attribute of the current context, like ``spanline.context()``: it follows the
work into threads and executors as the current span does, and blocks nest.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from spanline._hotpath._runtime import context_attributes, set_context_attributes
from spanline.exceptions import ConfigurationError

__all__ = ["session"]


@contextmanager
def session(session_id: str, /) -> Iterator[None]:
    """Every span opened inside the block carries ``session.id`` = ``session_id``.

    It also carries ``gen_ai.conversation.id`` = ``session_id`` unless the span sets
    its own (a framework's conversation id). ``spanline sessions`` groups by
    ``session.id``, so one run can serve several sessions.

    Example: ``with spanline.session(request.conversation_id): handle(request)``

    Args:
        session_id: the conversation: letters, digits, ``.``, ``_`` and ``-`` (at most
            128, starting with a letter or digit, no ``..``).

    Raises:
        ConfigurationError: ``session_id`` is not such a name.
    """
    # Loaded here, not at ``import spanline``: the counter module brings file locking.
    from spanline._runs._sessions import validate_session_id

    try:
        validate_session_id(session_id)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    outer = context_attributes.get()
    token = set_context_attributes(
        {**(outer or {}), "session.id": session_id, "gen_ai.conversation.id": session_id}
    )
    try:
        yield
    finally:
        try:
            context_attributes.reset(token)
        except (ValueError, RuntimeError):  # reset from another context: leave it
            pass
