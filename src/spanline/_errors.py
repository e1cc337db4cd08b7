"""Describing exceptions for span_end lines (never raising while doing so)."""

from __future__ import annotations

import traceback

__all__ = ["error_info"]


def _qualified_type(exc: BaseException) -> str:
    cls = type(exc)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # a broken __str__ must not mask the real exception
        return f"<unprintable {type(exc).__name__}>"


def error_info(exc: BaseException, with_traceback: bool = True) -> dict[str, str]:
    """Describe an exception as the ``error`` object of a span_end line."""
    info = {"type": _qualified_type(exc), "message": _safe_str(exc)}
    if with_traceback and exc.__traceback__ is not None:
        info["stacktrace"] = "".join(traceback.format_exception(exc))[-8000:]
    return info
