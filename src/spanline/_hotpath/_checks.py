"""Checks of the tracer's arguments: off the hot path, which takes them only for a name,
kind or component that is not a plain ``str``."""

from __future__ import annotations

__all__ = ["check_label", "check_name"]


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
