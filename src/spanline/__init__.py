"""spanline: always-on tracing for multi-agent LLM systems.

Spans and events go into a lock-free queue; a background writer appends them
to ``telemetry.jsonl``, the run's source of truth, and fans them out to
exporters. Summaries, CLIs and dashboards are folds of that log.
"""

from __future__ import annotations

from typing import Any

from spanline._capture._redact import add_redaction_pattern, add_secret_key
from spanline._decorators._assess import assess
from spanline._decorators._traced import context, traced_agent, traced_llm, traced_tool
from spanline._hotpath._tracer import NoOpSpan, Span, Tracer, current_span
from spanline._runs._store import Run
from spanline._session._configure import (
    child_env,
    configure_observability,
    current_run,
    flush,
    shutdown,
)
from spanline._version import __version__
from spanline.exceptions import (
    BudgetExceeded,
    ConfigurationError,
    SpanlineError,
    SpanlineWarning,
)
from spanline.schema import AGENT_KINDS

__all__ = [
    "AGENT_KINDS",
    "Budget",
    "BudgetExceeded",
    "ConfigurationError",
    "NoOpSpan",
    "Run",
    "RunSummary",
    "Span",
    "SpanlineError",
    "SpanlineWarning",
    "ThreadPoolExecutor",
    "Tracer",
    "__version__",
    "add_redaction_pattern",
    "add_secret_key",
    "assess",
    "bind_context",
    "budget",
    "child_env",
    "configure_observability",
    "context",
    "current_run",
    "current_span",
    "event",
    "extract",
    "flush",
    "get_tracer",
    "inject",
    "instrument",
    "phase",
    "plan",
    "read_events",
    "session",
    "shutdown",
    "span",
    "summarize",
    "summarize_file",
    "traced_agent",
    "traced_llm",
    "traced_tool",
    "uninstrument",
]

_TRACER = Tracer()


def get_tracer() -> Tracer:
    """The process-wide tracer (safe to take at import: it resolves state per call)."""
    return _TRACER


#: Module-level shortcuts bound to the default tracer.
span = _TRACER.span
event = _TRACER.event
phase = _TRACER.phase
plan = _TRACER.plan

# Folds import pydantic: load them only when asked for.
_LAZY = {
    "RunSummary": "spanline.folds.summary",
    "summarize": "spanline.folds.summary",
    "summarize_file": "spanline.folds.summary",
    "read_events": "spanline.folds.events",
    # The pool (with concurrent.futures, logging and queue) loads when first used.
    "ThreadPoolExecutor": "spanline._decorators._threads",
    "bind_context": "spanline._decorators._threads",
    # Budgets load when the first one is made.
    "Budget": "spanline._decorators._budget_act",
    "budget": "spanline._decorators._budget_act",
    # Provider SDKs are imported only when instrument() is called.
    "instrument": "spanline._instrument",
    "uninstrument": "spanline._instrument",
    # Carriers for queues, HTTP and subprocesses: loaded on first use.
    "extract": "spanline._decorators._propagate",
    "inject": "spanline._decorators._propagate",
    # A conversation's block: loaded when a program serves several.
    "session": "spanline._session._conversation",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'spanline' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
