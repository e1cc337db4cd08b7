"""Errors and warnings raised by spanline.

Each error subclasses the built-in exception it refines, so callers can catch
either the spanline type or the familiar built-in one.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "InvalidRunIdError",
    "RunNotFoundError",
    "SpanlineError",
    "SpanlineWarning",
]


class SpanlineError(Exception):
    """Base class of every error spanline raises."""


class ConfigurationError(SpanlineError, ValueError):
    """An explicit configuration argument is invalid.

    Invalid *environment* values never raise: they produce a
    :class:`SpanlineWarning` and the default is used instead.
    """


class SpanlineWarning(UserWarning):
    """A problem spanline worked around (bad environment value, lost events)."""


class InvalidRunIdError(SpanlineError, ValueError):
    """A run id is malformed (a path, ``..``, characters a run id never has)."""


class RunNotFoundError(SpanlineError, FileNotFoundError):
    """No run matches the given id, directory or ``latest``."""
