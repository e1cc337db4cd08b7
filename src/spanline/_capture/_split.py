"""A secret split across adjacent arguments of one call (``f("sk-ant-api03-AbC", "dEf…")``).

Each half alone matches no rule; joined, they do. The arguments are taken in order
(positional ones, then keyword ones in the order of the call), and each adjacent pair of
strings is joined without a separator and with a space: when a rule matches across the
join, both halves are captured as ``[REDACTED]``. Only the edges that meet are joined (the
last and first ``EDGE`` characters), so a long argument costs no more than a short one.
"""

from __future__ import annotations

from typing import Any

from spanline._capture._redact import REDACTED, redact_text

__all__ = ["EDGE", "hide_split_secrets"]

#: Characters of each half read at the join; longer than any known kind of secret.
EDGE = 256
_SEPARATORS = ("", " ")


def hide_split_secrets(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The call's arguments with every half of a split secret replaced.

    Args:
        args: the positional arguments.
        kwargs: the keyword arguments, in the order of the call.

    Returns:
        ``(args, kwargs)`` themselves when no secret straddles two of them, else copies.
    """
    values = [*args, *kwargs.values()]
    hidden: set[int] = set()
    edges: dict[tuple[int, bool], tuple[str, str]] = {}
    for index in range(len(values) - 1):
        first, second = values[index], values[index + 1]
        if first.__class__ is not str or second.__class__ is not str or not first or not second:
            continue
        tail = _edge(edges, (index, True), first[-EDGE:])
        if _straddles(tail, _edge(edges, (index + 1, False), second[:EDGE])):
            hidden.update((index, index + 1))
    if not hidden:
        return args, kwargs
    shown = [REDACTED if index in hidden else value for index, value in enumerate(values)]
    return tuple(shown[: len(args)]), dict(zip(kwargs, shown[len(args) :], strict=True))


def _edge(
    cache: dict[tuple[int, bool], tuple[str, str]], key: tuple[int, bool], text: str
) -> tuple[str, str]:
    """``(text, redact_text(text))``, computed once a call for each argument's tail and head."""
    if key not in cache:
        cache[key] = (text, redact_text(text))
    return cache[key]


def _straddles(tail: tuple[str, str], head: tuple[str, str]) -> bool:
    for separator in _SEPARATORS:
        joined = tail[0] + separator + head[0]
        if redact_text(joined) != tail[1] + separator + head[1]:
            return True
    return False
