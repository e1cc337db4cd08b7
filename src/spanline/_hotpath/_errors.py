"""Describing exceptions for span_end lines (never raising while doing so)."""

from __future__ import annotations

__all__ = ["error_info", "is_clean_exit", "safe_str"]


def _qualified_type(exc: BaseException) -> str:
    cls = type(exc)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def safe_str(value: object) -> str:
    """``str(value)``, or a placeholder when its ``__str__`` raises."""
    try:
        return str(value)
    except Exception:  # a broken __str__ must not mask the real exception
        return f"<unprintable {type(value).__name__}>"


_CACHE_ATTRIBUTE = "__spanline_error__"


def error_info(exc: BaseException) -> dict[str, str]:
    """Describe an exception as the ``error`` object of a span_end line.

    Formatting a traceback costs far more than a span, and an exception leaving
    nested spans is described once per span: the first (innermost, where it was
    raised) description is kept on the exception and reused.
    """
    cached = getattr(exc, _CACHE_ATTRIBUTE, None)
    # Described before it was raised (record_exception)? Describe it again, with its stack.
    if isinstance(cached, dict) and ("stacktrace" in cached or exc.__traceback__ is None):
        return cached
    info = {"type": _qualified_type(exc), "message": safe_str(exc)}
    if exc.__traceback__ is not None:
        import traceback  # loaded by the first error only (with linecache and textwrap)

        info["stacktrace"] = "".join(traceback.format_exception(exc))[-8000:]
    try:
        setattr(exc, _CACHE_ATTRIBUTE, info)
    except (AttributeError, TypeError):  # an exception type without a __dict__
        pass
    return info


def is_clean_exit(exc: BaseException) -> bool:
    """True for exceptions that end a span ``ok``: ``GeneratorExit`` (a generator
    closed early) and ``SystemExit`` with code 0 or None (a successful exit)."""
    if isinstance(exc, GeneratorExit):
        return True
    return isinstance(exc, SystemExit) and exc.code in (0, None)
