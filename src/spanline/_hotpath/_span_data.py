"""What the owner of an open span sets on it: counters, attributes, status.

A mixin of :class:`~spanline._hotpath._tracer.Span` (off the hot path), with the
span's lifecycle states, which the tracer shares.
"""

from __future__ import annotations

from typing import Any, Final

from spanline._hotpath._checks import counter_total
from spanline._hotpath._errors import error_info

__all__ = ["ABANDONED", "SpanData"]

_STATUSES: Final = ("ok", "error")
_NEW, _STARTED, _ENDED = 0, 1, 2
ABANDONED: Final = 3  # ended at shutdown for its owner (see _hotpath._abandon)


class SpanData:
    """A span's data methods and the fields they set; the others are :class:`Span`'s."""

    __slots__ = ("_counters", "_end_attributes", "_error", "_status")

    _counters: dict[str, int | float] | None
    _end_attributes: dict[str, Any] | None
    _error: dict[str, str] | None
    _status: str | None
    # Span's own slots, read here.
    _id: int
    _state: int
    name: str
    kind: str | None

    @property
    def span_id(self) -> str:
        """The span id as 16 hex characters (empty before the span starts)."""
        return f"{self._id:016x}" if self._id else ""

    @property
    def is_recording(self) -> bool:
        """True: this span is written to the event log (a property, not a method)."""
        return True

    def add(self, **counters: int | float) -> None:
        """Add to the span's own numeric counters (``tokens=``, ``tool_uses=``, ...).

        Counters are summed and written as top-level numbers of the span_end line;
        one holds 64 bits (up to 2**63 - 1 either way), so every line stays readable.

        Raises:
            TypeError: a value is not an int or float.
            ValueError: a name is a span field, the counter would not be finite or
                would pass 64 bits, or the span has ended."""
        if self._state == _ENDED:
            raise ValueError(f"span {self.name!r} has ended; counters not added")
        current = self._counters = self._counters or {}
        for key, value in counters.items():
            current[key] = counter_total(key, value, current.get(key, 0))

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute, written with the span_end line.

        Raises:
            TypeError: the key is not a string.
            ValueError: the span has already ended.
        """
        if type(key) is not str:
            raise TypeError(f"attribute keys must be str, not {type(key).__name__}")
        if self._state == _ENDED:
            raise ValueError(f"span {self.name!r} has ended; attribute {key!r} not set")
        attributes = self._end_attributes
        if attributes is None:
            self._end_attributes = {key: value}
        else:
            attributes[key] = value

    def set_attributes(self, attributes: dict[str, Any]) -> None:
        """Set several attributes at once (see :meth:`set_attribute`)."""
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def record_exception(self, exc: BaseException) -> None:
        """Record an exception (type, message, stack) without changing the status."""
        info = error_info(exc)
        self.set_attributes({f"exception.{key}": value for key, value in info.items()})

    def set_status(self, status: str, description: str | None = None) -> None:
        """Set ``"ok"`` or ``"error"``; an error description becomes ``error.message``.

        Raises:
            ValueError: the status is neither ``"ok"`` nor ``"error"``.
        """
        if status not in _STATUSES:
            raise ValueError(f"status must be 'ok' or 'error', not {status!r}")
        self._status = status
        if status == "error":
            self._error = {"type": "status", "message": description or ""}
        else:
            self._error = None

    def __repr__(self) -> str:
        return f"<Span {self.name!r} id={self.span_id or '-'} kind={self.kind!r}>"
