"""Budgets that stop spending: limits in USD and tokens for the run, the session, a
scope (``with spanline.budget(...)``) or one agent and its sub-agents.

Spending is counted here, in process, as each LLM call's usage arrives (never re-read
from the log). An LLM call asks :func:`check` when it starts, before its request is
sent: a budget that is spent and whose action is ``raise`` stops it there with
:class:`~spanline.exceptions.BudgetExceeded`. The other actions act once, when the
limit is crossed: ``warn`` writes one event and one line on stderr, a callback is
called with the budget.

Calls already in flight when a limit is crossed finish and are counted: the overshoot
is at most those calls. The callback of a crossed budget runs before any other call of
the run is counted, so what it sees is the state at the crossing.

With no budget anywhere, an LLM call pays one flag check (``RUNTIME.budgets``) and this
module is not loaded.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

from spanline._capture._budget_values import action_value, limit_tokens, limit_usd
from spanline._hotpath._runtime import RUNTIME
from spanline.exceptions import BudgetExceeded, ConfigurationError

__all__ = [
    "Budget",
    "budget",
    "charge",
    "check",
    "make_budget",
    "run_budget",
    "scoped",
    "set_run_budgets",
]


#: True once any budget was set in this process (``RUNTIME.budgets`` is the same flag,
#: for callers that do not load this module until a budget exists).
ACTIVE = False


def _activate() -> None:
    global ACTIVE
    ACTIVE = True
    RUNTIME.budgets = True


#: Budgets of the scopes the current code runs in (``spanline.budget``, agents), outermost first.
_SCOPES: ContextVar[tuple[Budget, ...]] = ContextVar("spanline_budgets", default=())
#: Counting and crossing happen under this lock; a re-entrant one, so that a callback
#: may read budgets (even open another LLM call) from its own thread.
_lock = threading.RLock()
#: The run's budget and the session's (its ledger shares spending across processes).
_run: Budget | None = None
_session: Any = None
#: Takes a crossed budget's action (see set_actor).
_actor: Callable[[Budget, str], None] | None = None


class Budget:
    """Limits on spending, and what happens when they are crossed.

    A budget counts every LLM call made in its scope: the run's and the session's count
    every call of the process; ``with spanline.budget(...)`` the calls made inside the
    block (nested blocks count toward every enclosing budget); an agent's budget the
    calls of that agent and its sub-agents. Entering the same object again keeps
    counting from where it was.
    """

    __slots__ = (
        "_crossed",
        "_token",
        "action",
        "max_tokens",
        "max_usd",
        "name",
        "spent_tokens",
        "spent_usd",
    )

    def __init__(
        self,
        max_usd: float | None,
        max_tokens: int | None,
        action: str | Callable[[Budget], Any],
        name: str,
    ) -> None:
        self.max_usd = max_usd
        self.max_tokens = max_tokens
        self.action = action
        self.name = name
        self.spent_usd = 0.0
        self.spent_tokens = 0
        self._crossed: str | None = None
        self._token: list[Any] = []

    @property
    def exceeded(self) -> bool:
        """True once spending reached a limit."""
        return self._crossed is not None

    @property
    def remaining_usd(self) -> float | None:
        """USD left before the limit (never below 0), or None without a USD limit."""
        return None if self.max_usd is None else max(self.max_usd - self.spent_usd, 0.0)

    @property
    def remaining_tokens(self) -> int | None:
        """Tokens left before the limit (never below 0), or None without a token limit."""
        return None if self.max_tokens is None else max(self.max_tokens - self.spent_tokens, 0)

    def to_dict(self) -> dict[str, Any]:
        """Limit, spent and remaining, JSON-ready.

        Returns:
            ``{name, action, max_usd, max_tokens, spent_usd, spent_tokens,
            remaining_usd, remaining_tokens, exceeded}``.
        """
        return {
            "name": self.name,
            "action": self.action if isinstance(self.action, str) else "callback",
            "max_usd": self.max_usd,
            "max_tokens": self.max_tokens,
            "spent_usd": round(self.spent_usd, 8),
            "spent_tokens": self.spent_tokens,
            "remaining_usd": _round(self.remaining_usd),
            "remaining_tokens": self.remaining_tokens,
            "exceeded": self.exceeded,
        }

    def copy(self, name: str | None = None) -> Budget:
        """A budget with the same limits and action, counting from zero."""
        return Budget(self.max_usd, self.max_tokens, self.action, name or self.name)

    def __enter__(self) -> Budget:
        if not ACTIVE:
            _activate()
        self._token.append(_SCOPES.set((*_SCOPES.get(), self)))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._token:
            try:
                _SCOPES.reset(self._token.pop())
            except (ValueError, RuntimeError):  # left in another context: nothing to undo
                pass

    def __repr__(self) -> str:
        return (
            f"Budget(name={self.name!r}, max_usd={self.max_usd!r}, max_tokens="
            f"{self.max_tokens!r}, spent_usd={self.spent_usd:.6g},"
            f" spent_tokens={self.spent_tokens})"
        )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 8)


def make_budget(
    max_usd: Any = None, max_tokens: Any = None, action: Any = "raise", name: str = "budget"
) -> Budget:
    """A checked budget.

    Raises:
        ConfigurationError: a negative or non-numeric limit, no limit at all, or an
            unknown action.
    """
    try:
        usd = None if max_usd is None else limit_usd(max_usd)
        tokens = None if max_tokens is None else limit_tokens(max_tokens)
        act = action_value(action)
    except ValueError as exc:
        raise ConfigurationError(f"invalid budget: {exc}") from None
    if usd is None and tokens is None:
        raise ConfigurationError("invalid budget: give max_usd, max_tokens or both")
    return Budget(usd, tokens, act, name)


def budget(
    max_usd: float | None = None,
    max_tokens: int | None = None,
    *,
    action: str | Callable[[Budget], Any] = "raise",
    name: str = "budget",
) -> Budget:
    """A budget, to use as ``with spanline.budget(max_usd=0.50): ...`` or to pass to
    ``@traced_agent(budget=...)``.

    Inside the block every LLM call (``@traced_llm`` functions and the SDK calls
    ``spanline.instrument()`` traces) counts toward it, and toward every enclosing
    budget. When spending reaches a limit the action is taken once: ``raise`` stops
    the next LLM call in the block with :class:`~spanline.exceptions.BudgetExceeded`
    before its request is sent; ``warn`` writes one event and one line on stderr; a
    callable is called with the budget. Calls in flight at that moment finish and count.

    Args:
        max_usd: the limit in USD (priced models only: see the price table).
        max_tokens: the limit in tokens (input plus output).
        action: ``"raise"`` (default), ``"warn"`` or a callable taking the budget.
        name: how events, errors and the summary name it.

    Returns:
        The budget: a context manager, with ``spent_usd``, ``spent_tokens``,
        ``remaining_usd``, ``remaining_tokens`` and ``exceeded``.

    Raises:
        ConfigurationError: a negative or non-numeric limit, neither limit, or an
            unknown action.
    """
    return make_budget(max_usd, max_tokens, action, name)


def agent_budget(value: Any) -> Budget:
    """The template of ``@traced_agent(budget=...)``: a :class:`Budget` or a mapping of
    :func:`make_budget`'s keywords.

    Raises:
        ConfigurationError: anything else, or an invalid budget.
    """
    if isinstance(value, Budget):
        return value
    if isinstance(value, Mapping):
        unknown = set(value) - {"max_usd", "max_tokens", "action"}
        if unknown:
            raise ConfigurationError(f"invalid budget: unknown key {min(unknown)!r}")
        return make_budget(**value)
    raise ConfigurationError(
        f"invalid budget: expected spanline.budget(...) or a mapping, not {type(value).__name__}"
    )


def set_run_budgets(run: Budget | None, session: Any = None) -> None:
    """The run's budget and the session's (set by configuration; None: no limit).

    Nothing is read here: a session's ledger is read on the first LLM call.
    """
    global _run, _session
    with _lock:
        _run = run
        _session = session
        if run is not None or session is not None:
            _activate()


def run_budget() -> Budget | None:
    """The run's budget, or None."""
    return _run


def _chain() -> list[Budget]:
    chain: list[Budget] = []
    if _run is not None:
        chain.append(_run)
    if _session is not None:
        chain.append(_session.budget)
    chain.extend(_SCOPES.get())
    return chain


def check() -> None:
    """An LLM call starts: stop it if a budget of its scope that raises is spent.

    Raises:
        BudgetExceeded: that budget, before the call's request is sent.
    """
    if not ACTIVE:
        return
    session = _session
    if session is not None:
        session.refresh()  # other processes' spending, at most every few hundred ms
    for budget in _chain():
        crossed = budget._crossed
        if crossed is not None and budget.action == "raise":
            raise BudgetExceeded(budget.name, crossed, budget.spent_usd, budget.spent_tokens)


def charge(tokens: int | None, cost_usd: float | None) -> None:
    """An LLM call's usage arrived: count it toward every budget of its scope.

    A budget crossed by it acts here (once): ``warn`` and callbacks now, ``raise`` at
    the next call. Never raises.
    """
    if not ACTIVE:
        return
    usd = cost_usd if cost_usd is not None and math.isfinite(cost_usd) else 0.0
    count = tokens or 0
    if not usd and not count:
        return
    with _lock:
        session = _session
        if session is not None:
            session.spend(usd, count)
        for budget in _chain():
            if budget is not (session.budget if session is not None else None):
                budget.spent_usd += usd
                budget.spent_tokens += count
            if budget._crossed is None:
                _cross(budget)


def cross_if_spent(budget: Budget) -> None:
    """Act on ``budget`` if its spending reached a limit (called under the lock)."""
    if budget._crossed is None:
        _cross(budget)


def _cross(budget: Budget) -> None:
    crossed = None
    if budget.max_usd is not None and budget.spent_usd >= budget.max_usd:
        crossed = f"max_usd={budget.max_usd:g}"
    elif budget.max_tokens is not None and budget.spent_tokens >= budget.max_tokens:
        crossed = f"max_tokens={budget.max_tokens}"
    if crossed is None:
        return
    budget._crossed = crossed
    if _actor is not None:
        _actor(budget, crossed)


def set_actor(actor: Callable[[Budget, str], None]) -> None:
    """Who takes a crossed budget's action (the decorators: they write events)."""
    global _actor
    _actor = actor


def scoped(template: Budget, name: str) -> Budget:
    """A fresh budget for one scope (an agent's call) with ``template``'s limits."""
    return template.copy(name)


def reset() -> None:
    """Forget the run's and the session's budgets (at shutdown)."""
    set_run_budgets(None, None)
