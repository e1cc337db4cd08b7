"""The run's and the session's budgets, from the settings: set when a run starts (the
session's ledger is only named then; it is read on the first LLM call), forgotten when
it ends, and recorded in the run header so the summary can show the limit."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from spanline._capture import _budget
from spanline._decorators import _budget_act  # noqa: F401  (crossings act through it)

if TYPE_CHECKING:
    from spanline._session._settings import Settings

__all__ = ["header_field", "install", "uninstall"]


def _limits(settings: Settings) -> dict[str, Any]:
    """The limits and action, from ``budget=`` when given, else from the variables."""
    if settings.budget is not None:
        return dict(settings.budget)
    found = {
        key: value
        for key, value in (
            ("max_usd", settings.max_usd),
            ("max_tokens", settings.max_tokens),
            ("session_max_usd", settings.session_max_usd),
        )
        if value is not None
    }
    if found:
        found["action"] = settings.budget_action
    return found


def install(settings: Settings, base_dir: Path) -> None:
    """Set this process's run and session budgets (none when no limit is set)."""
    limits = _limits(settings)
    action = limits.get("action", "raise")
    run = None
    if limits.get("max_usd") is not None or limits.get("max_tokens") is not None:
        run = _budget.Budget(limits.get("max_usd"), limits.get("max_tokens"), action, "run")
    ledger = None
    session_id = getattr(settings, "session_id", None)
    usd, tokens = limits.get("session_max_usd"), limits.get("session_max_tokens")
    if (usd is not None or tokens is not None) and session_id is None:
        from spanline._capture._report import report

        report("a session budget is set but no session: it is ignored (set session_id)")
    elif usd is not None or tokens is not None:
        from spanline._capture._budget_ledger import SessionLedger

        path = base_dir / "sessions" / str(session_id) / "spend.jsonl"
        ledger = SessionLedger(path, _budget.Budget(usd, tokens, action, "session"))
    _budget.set_run_budgets(run, ledger)


def uninstall() -> None:
    """The run ended: its budgets stop counting."""
    _budget.reset()


def header_field(settings: Settings) -> dict[str, Any]:
    """``{"budget": {limits, action}}`` for the run header, or ``{}`` without limits."""
    limits = _limits(settings)
    if not limits:
        return {}
    action = limits.get("action", "raise")
    limits["action"] = action if isinstance(action, str) else "callback"
    return {"budget": limits}
