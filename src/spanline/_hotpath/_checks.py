"""Checks of the tracer's arguments: off the hot path, which takes them only for a name,
kind or component that is not a plain ``str``."""

from __future__ import annotations

import math
from typing import Any

from spanline.schema import COUNT_MAX, RESERVED_END_KEYS

__all__ = ["check_label", "check_name", "counter_total", "parent_span_id"]


def counter_total(key: str, value: Any, before: int | float) -> int | float:
    """A span counter's new total, once the value is known to be one.

    Raises:
        TypeError: the value is not an int or float.
        ValueError: the name is a span field, or the total would not be finite or
            would pass 64 bits (the counter keeps what it had).
    """
    kind = type(value)
    if kind is not int and kind is not float:
        raise TypeError(f"counter {key!r} must be an int or float, not {kind.__name__}")
    if key in RESERVED_END_KEYS:
        raise ValueError(f"{key!r} is a span field and cannot be a counter")
    total: int | float = before + value  # NaN and infinities fail the test too
    if not -COUNT_MAX <= total <= COUNT_MAX:
        why = "past 64 bits" if math.isfinite(value) else "not finite"
        raise ValueError(f"counter {key!r} would be {total!r}, {why}; not added")
    return total


def check_name(name: object) -> str:
    """The name as a plain str (subclasses such as StrEnum members are accepted).

    Raises:
        TypeError: not a str.
    """
    if isinstance(name, str):
        return str.__str__(name)
    raise TypeError(f"span name must be str, not {type(name).__name__}")


def check_label(what: str, value: object) -> None:
    """Accept a str or None as a span's ``what`` (kind, component).

    Raises:
        TypeError: anything else.
    """
    if value is not None and not isinstance(value, str):
        raise TypeError(f"span {what} must be str or None, not {type(value).__name__}")


def parent_span_id(parent: Any) -> int | None:
    """The span id a ``parent=`` argument names: a span, a span id (16 hex), or None.

    Raises:
        TypeError: anything else.
    """
    if parent is None:
        return None
    if isinstance(parent, str):
        try:
            return int(parent, 16) or None
        except ValueError:
            pass
    elif isinstance(parent, _span_types()):
        return getattr(parent, "_id", 0) or None
    raise TypeError(f"parent must be a Span, a 16-hex span id or None, not {parent!r}")


_SPAN_TYPES: tuple[type, ...] = ()


def _span_types() -> tuple[type, ...]:
    """Span and NoOpSpan, imported on first use: their module imports this one."""
    global _SPAN_TYPES
    if not _SPAN_TYPES:
        from spanline._hotpath._noop import NoOpSpan
        from spanline._hotpath._tracer import Span

        _SPAN_TYPES = (Span, NoOpSpan)
    return _SPAN_TYPES
