"""Errors and warnings raised by spanline.

Each error subclasses the built-in exception it refines, so callers can catch
either the spanline type or the familiar built-in one.
"""

from __future__ import annotations

__all__ = [
    "BudgetExceeded",
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


class BudgetExceeded(SpanlineError, RuntimeError):
    """A budget whose action is ``raise`` was spent: the next LLM call in its scope
    is stopped before its request is sent.

    Attributes:
        budget: the budget's name (``run``, ``session``, an agent's name, or the
            name given to :func:`spanline.budget`).
        limit: what was crossed, e.g. ``"max_usd=0.5"``.
        spent_usd: the spending counted in that scope, in USD.
        spent_tokens: the tokens counted in that scope.
    """

    def __init__(self, budget: str, limit: str, spent_usd: float, spent_tokens: int) -> None:
        super().__init__(
            f"budget {budget!r} exceeded ({limit}; spent {spent_usd:.6g} USD,"
            f" {spent_tokens} tokens): LLM call stopped before its request"
        )
        self.budget = budget
        self.limit = limit
        self.spent_usd = spent_usd
        self.spent_tokens = spent_tokens

    def __reduce__(self) -> tuple[type, tuple[str, str, float, int]]:
        # Whole across processes (a pool worker's error is pickled back to its parent).
        return (type(self), (self.budget, self.limit, self.spent_usd, self.spent_tokens))
