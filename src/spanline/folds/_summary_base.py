"""What the summary fold's modules share: record slots, limits and the checks of a line's
values (a line that breaks a rule is skipped and reported)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

from spanline.folds._limits import COUNT_MAX, MS_MAX, TS_MAX, TS_MIN
from spanline.folds._summary_model import (
    PhaseSummary,
    round_ms,
)
from spanline.schema import RESERVED_END_KEYS

_NEVER = math.inf
#: Seconds without activity in a running agent's subtree before it is stalled.
DEFAULT_STALL_S = 60.0


_OP = "gen_ai.operation.name"
_COST = "gen_ai.usage.cost_usd"
#: gen_ai.operation.name values of LLM calls (``@traced_llm`` also sets kind "llm").
_LLM_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "responses"})
#: Token attributes, in the order of :class:`TokensByType`'s fields.
_IN = "gen_ai.usage.input_tokens"
_OUT = "gen_ai.usage.output_tokens"
_REASONING = "gen_ai.usage.reasoning.output_tokens"
_CACHE_READ = "gen_ai.usage.cache_read.input_tokens"
_CACHE_NEW = "gen_ai.usage.cache_creation.input_tokens"
_TOKEN_KEYS = (_IN, _OUT, _REASONING, _CACHE_READ, _CACHE_NEW)
_PRICED_KEYS = ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens")
_MODEL_KEYS = ("gen_ai.request.model", "gen_ai.response.model")
#: Start attributes kept while a span is open, for pricing and usage at its end.
_START_KEEP = (*_TOKEN_KEYS, _COST, *_MODEL_KEYS, _OP)
#: Start attributes that make a span worth keeping them for (besides being an LLM call).
_START_WATCH = frozenset((*_TOKEN_KEYS, _COST))
#: End attributes that send a span through the usage and cost path.
_END_WATCH = frozenset((*_TOKEN_KEYS, _COST, _OP))
#: span_end keys whose presence means "no counter besides tokens and tool_uses".
_PLAIN_END_KEYS = frozenset(RESERVED_END_KEYS | {"tokens", "tool_uses"})
_PHASE_KIND = frozenset({"phase"})
_MAX_OPEN_LISTED = 1_000
_MAX_LISTED_PROBLEMS = 1_000
_PHASE_EVENT_FIELDS = frozenset({"event", "name", "wall_ms", "ts", "agents", "incomplete"})
_TS_MIN, _TS_MAX, _MS_MAX, _COUNT_MAX = TS_MIN, TS_MAX, MS_MAX, COUNT_MAX
_FLOAT_MAX = 1.7976931348623157e308

# Slots of the tuple kept per open span.
_NAME, _KIND, _TS, _TOOL, _LLM, _KEEP, _CTX, _ROOT, _SPECIAL = range(9)
#: A span's parent id and context index.
_Node = tuple[str | None, int]
#: The pair of every span without a parent.
_ROOT_NODE: _Node = (None, -1)
# Slots of a context record: a subtree-sum accumulator (an agent's, or a stand-in for a
# span referred to before its start line was read), the index of the next one up, and
# the last time its subtree showed a line (an open agent's; +inf: not watched).
_TOKENS, _TOOL_USES, _COST_SUM, _UP, _SEEN = range(5)
# Slots of a tool record.
_CALLS, _TOTAL, _FAILURES, _DURATIONS, _P95 = range(5)


class _Skip(ValueError):
    """A line that breaks a rule of the schema: it is skipped and reported."""


def _type(value: Any) -> str:
    """How a wrong value is named in a skipped line's reason."""
    return "null" if value is None else type(value).__name__


def _real(value: Any, field: str) -> float:
    """A counter that is not an int: a finite float within 64 bits, or the line is skipped."""
    if value.__class__ is not float:
        raise _Skip(f"{field} is {_type(value)}, not a number")
    if not -_COUNT_MAX <= value <= _COUNT_MAX:
        raise _Skip(f"implausible {field} {value!r}")
    return float(value)


def _number(value: Any) -> TypeGuard[int | float]:
    return value.__class__ is int or value.__class__ is float


def _fit(value: int | float) -> int | float:
    """A sum as JSON can hold it: past 64 bits an int is carried as a float, and a float
    past the largest double (finite addends can get there) is clamped to it."""
    if value.__class__ is int:
        if -_COUNT_MAX - 1 <= value <= _COUNT_MAX:
            return value
        return math.copysign(_FLOAT_MAX, value) if abs(value) >= _FLOAT_MAX else float(value)
    if math.isfinite(value):
        return value
    return 0.0 if math.isnan(value) else math.copysign(_FLOAT_MAX, value)


def _json_safe(value: Any, depth: int = 0) -> Any:
    """A copy of a value a caller passed along that JSON can hold (events handed to
    :meth:`SummaryFold.add` directly may hold any Python value; a file's cannot)."""
    if value is None or value.__class__ in (str, bool):
        return value
    if value.__class__ is int or value.__class__ is float:
        return _fit(value) if value == value else None
    if depth > 32:
        return None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v, depth + 1) for v in value]
    return repr(value)


def _text(value: Any) -> str | None:
    return value if value.__class__ is str else None


def _sort_ts(value: Any) -> float:
    return float(value) if _number(value) else 0.0


def _count(value: Any, field: str) -> int:
    """A count a line carries (0 when absent); a wrong one skips the line."""
    if value is None:
        return 0
    if not _number(value) or not 0 <= value <= _COUNT_MAX:
        raise _Skip(f"{field} is {value!r}, not a plausible count")
    return int(value)


def _pid(event: Mapping[str, Any]) -> int | None:
    """The process id of a header or trailer line; a wrong one skips the line."""
    pid = event.get("pid")
    if pid is not None and pid.__class__ is not int:
        raise _Skip(f"pid is {_type(pid)}, not an integer")
    return pid


def _exporter_fields(stats: Mapping[str, Any]) -> Sequence[Any]:
    """Received (filled in later), exported, dropped, failed."""
    return (None, stats.get("exported"), stats.get("dropped"), stats.get("failed"))


def _add_phase(phases: dict[str, PhaseSummary], name: str, phase: PhaseSummary) -> None:
    """Repeated phase names (one per round, say) add up instead of overwriting."""
    known = phases.get(name)
    if known is None:
        phases[name] = phase
        return
    known.wall_ms = round_ms(known.wall_ms + phase.wall_ms)
    if phase.agents:
        known.agents = (known.agents or 0) + phase.agents
    if phase.incomplete:
        known.incomplete = True


def _phase_from_event(event: Mapping[str, Any]) -> PhaseSummary:
    wall, agents = event.get("wall_ms"), event.get("agents")
    # Caller counts ride along, but never as our own fields (agents="many" would break).
    extra = {k: v for k, v in event.items() if k not in _PHASE_EVENT_FIELDS}
    return PhaseSummary(
        wall_ms=float(wall) if _number(wall) else 0.0,
        agents=agents if agents.__class__ is int else None,
        extra=extra,
    )
