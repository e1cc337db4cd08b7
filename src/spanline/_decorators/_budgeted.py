"""``@traced_agent(budget=...)``: each call of the agent runs inside a budget of its own,
with the given limits, which counts the LLM calls of the agent and its sub-agents."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from spanline._capture._budget import Budget, agent_budget
from spanline._decorators import _budget_act  # noqa: F401  (crossings act through it)
from spanline.exceptions import ConfigurationError

__all__ = ["budgeted"]


def budgeted(func: Callable[..., Any], budget: Any, name: str) -> Callable[..., Any]:
    """``func`` with every call run inside a fresh budget named ``name``.

    Raises:
        ConfigurationError: an invalid budget, or a generator function (its body runs
            a piece at a time, outside any one scope).
    """
    template: Budget = agent_budget(budget)
    if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
        raise ConfigurationError(
            "traced_agent(budget=...) applies to functions and coroutines, not generators:"
            " wrap the loop that consumes it in `with spanline.budget(...)` instead"
        )
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            with template.copy(name):
                return await func(*args, **kwargs)

        return run_async

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        with template.copy(name):
            return func(*args, **kwargs)

    return run
