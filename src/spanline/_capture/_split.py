"""A secret split across adjacent arguments of one call (``f("sk-ant-api03-AbC", "dEf…")``).

Each half alone matches no rule; joined, they do. The arguments are taken in order
(positional ones, then keyword ones in the order of the call), and each adjacent pair of
strings is joined without a separator and with a space: when a rule matches across the
join, both halves are captured as ``[REDACTED]``. Only the edges that meet are joined (the
last and first ``EDGE`` characters), so a long argument costs no more than a short one.
"""

from __future__ import annotations

import itertools
from typing import Any

from spanline._capture._redact import REDACTED, redact_text

__all__ = ["EDGE", "hide_split_secrets"]

#: Characters of each half read at the join; longer than any known kind of secret.
EDGE = 256
_SEPARATORS = ("", " ")
_APART = '\n"\n'


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
    pairs = [
        (index, first[-EDGE:], second[:EDGE])
        for index, (first, second) in enumerate(itertools.pairwise(values))
        if first.__class__ is str and second.__class__ is str and first and second
    ]
    if not pairs:
        return args, kwargs
    # Every join in one text first: when nothing in it matches (the common case), no half
    # of a secret is there. No rule reads across a line holding a lone quote.
    joins = [tail + separator + head for _, tail, head in pairs for separator in _SEPARATORS]
    combined = _APART.join(joins)
    if redact_text(combined) is combined:
        return args, kwargs
    hidden: set[int] = set()
    edges: dict[tuple[int, bool], tuple[str, str]] = {}
    for index, tail, head in pairs:
        if _straddles(edges, index, tail, head):
            hidden.update((index, index + 1))
    if not hidden:
        return args, kwargs
    shown = [REDACTED if index in hidden else value for index, value in enumerate(values)]
    return tuple(shown[: len(args)]), dict(zip(kwargs, shown[len(args) :], strict=True))


def _edge(
    cache: dict[tuple[int, bool], tuple[str, str]], key: tuple[int, bool], text: str
) -> tuple[str, str]:
    """``(text, redact_text(text))``, computed once a call for each argument's tail and head
    (only when a join changed: most joins match nothing, and then need no edge)."""
    if key not in cache:
        cache[key] = (text, redact_text(text))
    return cache[key]


def _straddles(
    edges: dict[tuple[int, bool], tuple[str, str]], index: int, tail: str, head: str
) -> bool:
    for separator in _SEPARATORS:
        joined = tail + separator + head
        redacted = redact_text(joined)
        if redacted is joined:
            continue  # nothing matched at all: the common case, one call
        left = _edge(edges, (index, True), tail)[1]
        if redacted != left + separator + _edge(edges, (index + 1, False), head)[1]:
            return True
    return False
