"""What a budget does, once, when its limit is crossed: one ``budget.exceeded`` event in
the log whatever the action; ``warn`` adds one line on stderr, a callback is called.
``raise`` acts later, at the start of the next LLM call in the budget's scope.

Budgets are counted below the tracer; they act through it, from here."""

from __future__ import annotations

from spanline._capture import _budget
from spanline._capture._budget import Budget, budget
from spanline._capture._report import report
from spanline._hotpath._tracer import Tracer

__all__ = ["Budget", "act", "budget", "check_budgets"]

_TRACER = Tracer()


def act(budget: Budget, crossed: str) -> None:
    """Record the crossing and take the budget's action; never raises."""
    action = budget.action
    try:
        _TRACER.event(
            "budget.exceeded",
            **{
                "budget.name": budget.name,
                "budget.limit": crossed,
                "budget.action": action if isinstance(action, str) else "callback",
                "budget.spent_usd": round(budget.spent_usd, 8),
                "budget.spent_tokens": budget.spent_tokens,
            },
        )
    except Exception as exc:  # the log is best effort; the budget still acts
        report("could not record a budget's crossing", exc=exc)
    if action == "warn":
        report(
            f"budget {budget.name!r} exceeded ({crossed}): spent {budget.spent_usd:.6g} USD,"
            f" {budget.spent_tokens} tokens"
        )
    elif callable(action):
        try:
            action(budget)
        except Exception as exc:  # the call that crossed it already returned its answer
            report(f"the callback of budget {budget.name!r} raised", exc=exc)


def check_budgets() -> None:
    """An LLM call starts: let crossed budgets act through here, then check them.

    Raises:
        BudgetExceeded: a spent budget of the call's scope whose action is ``raise``.
    """
    _budget.check()


# Whoever loads budgets through here (spanline.budget, the agents' budgets, the
# configured ones) gets crossings acted on.
_budget.set_actor(act)
