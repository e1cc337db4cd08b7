"""Display bounds: names and strings cut to a display length before anything draws them.

A span name, an error message or an attribute can be any length (one open span
named 50 MB has been seen), and drawing costs time in proportion to the text: a
terminal table or a page spends seconds per megabyte measuring and wrapping it.
Whatever the CLI and the dashboard draw is cut here first; the full value stays in
the log, one command away (``spanline show RUN --span SPAN_ID`` prints a span's
whole record, every command's ``--json`` prints its values whole).
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["DISPLAY_CHARS", "bounded", "cut", "longest_shown", "one_line"]

#: The most characters of one value that are drawn; past it the value is cut.
DISPLAY_CHARS: Final = 500
_MARK = "… [{:,} characters]"
#: Room for the mark: a value at most this much over the limit is shown whole, so a
#: value cut once is never cut again (cutting is idempotent).
_ROOM = 40


def cut(text: str, limit: int = DISPLAY_CHARS) -> str:
    """``text``, or its first ``limit`` characters and a mark saying how long it was.

    Args:
        text: the value.
        limit: the display length.

    Returns:
        ``text`` itself when it is at most ``limit`` characters long (or only a
        mark's length more: what was cut once is not cut again).
    """
    if len(text) <= limit + _ROOM:
        return text
    return text[:limit] + _MARK.format(len(text))


def one_line(text: str) -> str:
    """``text`` with each character that is not printable (a newline, a carriage return, an
    escape, a lone surrogate) written as its Python escape (``\\n``, ``\\x1b``), so it
    prints as one line, moves no cursor and encodes as UTF-8.

    Args:
        text: the value (a message quoting what a user typed, a name from a log).
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def longest_shown(limit: int = DISPLAY_CHARS) -> int:
    """The most characters :func:`cut` returns for any value (the cut and its mark)."""
    return limit + _ROOM


def bounded(value: Any, limit: int = DISPLAY_CHARS) -> Any:
    """A copy of plain data (dicts, lists, strings, numbers) with every string cut.

    Keys are cut too. Values that are not strings, lists, tuples or dicts are
    returned as they are; containers with nothing to cut are returned as they are.

    Args:
        value: the data, as a fold or a JSON reader gives it.
        limit: the display length of each string.
    """
    if isinstance(value, str):
        return cut(value, limit)
    if isinstance(value, dict):
        items = [(bounded(k, limit), bounded(v, limit)) for k, v in value.items()]
        if all(k is a and v is b for (k, v), (a, b) in zip(items, value.items(), strict=True)):
            return value
        return dict(items)
    if isinstance(value, (list, tuple)):
        parts = [bounded(item, limit) for item in value]
        if all(part is item for part, item in zip(parts, value, strict=True)):
            return value
        return parts if isinstance(value, list) else tuple(parts)
    return value
