"""The values a budget is made of, checked: limits in USD and tokens, the action, and
what ``configure_observability(budget=...)`` takes. The settings table reads them
through here, without loading the budgets themselves."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Final

__all__ = ["ACTIONS", "RUN_KEYS", "action_value", "limit_tokens", "limit_usd", "run_budget_value"]

#: The actions a budget takes when its limit is crossed (besides a callable).
ACTIONS: Final = ("warn", "raise")


def limit_usd(value: Any) -> float:
    """A USD limit: a finite number, 0 or more (text accepted, for variables).

    Raises:
        ValueError: anything else.
    """
    if isinstance(value, bool):
        raise ValueError("expected a number of USD")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError("expected a number of USD") from None
    if not math.isfinite(number) or number < 0:
        raise ValueError("a USD limit must be a finite number, 0 or more")
    return number


def limit_tokens(value: Any) -> int:
    """A token limit: a whole number, 0 or more (text accepted, for variables).

    Raises:
        ValueError: anything else.
    """
    if isinstance(value, bool):
        raise ValueError("expected a whole number of tokens")
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise ValueError("expected a whole number of tokens") from None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise ValueError("expected a whole number of tokens")
    if value < 0:
        raise ValueError("a token limit must be 0 or more")
    return value


def action_value(value: Any) -> str | Callable[[Any], Any]:
    """``warn``, ``raise`` or a callable taking the budget.

    Raises:
        ValueError: anything else.
    """
    if callable(value):
        return value  # type: ignore[no-any-return]
    text = value.strip().lower() if isinstance(value, str) else value
    if text not in ACTIONS:
        raise ValueError(f"unknown budget action {value!r}: expected 'warn', 'raise' or a callable")
    return str(text)


#: The keys ``configure_observability(budget=...)`` takes, as a mapping.
RUN_KEYS: Final = ("max_usd", "max_tokens", "session_max_usd", "session_max_tokens", "action")


def run_budget_value(raw: Any) -> dict[str, Any]:
    """``configure_observability(budget=...)``: ``spanline.budget(...)`` (the run's
    limits) or a mapping of :data:`RUN_KEYS` (the run's and the session's limits).

    Returns:
        The checked limits by key (absent: no limit), ``action`` included.

    Raises:
        ValueError: an unknown key, a negative or non-numeric limit, no limit, or an
            unknown action.
    """
    if all(hasattr(raw, name) for name in ("max_usd", "max_tokens", "action", "spent_usd")):
        return {"max_usd": raw.max_usd, "max_tokens": raw.max_tokens, "action": raw.action}
    if not isinstance(raw, Mapping):
        raise ValueError("expected spanline.budget(...) or a mapping of limits")
    unknown = set(raw) - set(RUN_KEYS)
    if unknown:
        raise ValueError(f"unknown budget key {min(unknown)!r}")
    checked: dict[str, Any] = {"action": action_value(raw.get("action", "raise"))}
    for key in RUN_KEYS[:-1]:
        if raw.get(key) is not None:
            parse = limit_tokens if key.endswith("tokens") else limit_usd
            checked[key] = parse(raw[key])
    if len(checked) == 1:
        raise ValueError("give at least one limit")
    return checked
