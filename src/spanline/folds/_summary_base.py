"""What the summary fold's modules share: record slots, limits and the checks of a line's
values (a line that breaks a rule is skipped and reported)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

from spanline.folds._limits import COUNT_MAX
from spanline.folds._summary_model import (
    PhaseSummary,
    round_ms,
)
from spanline.schema import RESERVED_END_KEYS

NEVER = math.inf
#: Seconds without activity in a running agent's subtree before it is stalled.
DEFAULT_STALL_S = 60.0


OP = "gen_ai.operation.name"
COST = "gen_ai.usage.cost_usd"
#: gen_ai.operation.name values of LLM calls (``@traced_llm`` also sets kind "llm").
LLM_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "responses"})
#: Token attributes, in the order of :class:`TokensByType`'s fields.
IN = "gen_ai.usage.input_tokens"
OUT = "gen_ai.usage.output_tokens"
REASONING = "gen_ai.usage.reasoning.output_tokens"
CACHE_READ = "gen_ai.usage.cache_read.input_tokens"
CACHE_NEW = "gen_ai.usage.cache_creation.input_tokens"
TOKEN_KEYS = (IN, OUT, REASONING, CACHE_READ, CACHE_NEW)
PRICED_KEYS = ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens")
MODEL_KEYS = ("gen_ai.request.model", "gen_ai.response.model")
#: Start attributes kept while a span is open, for pricing and usage at its end.
START_KEEP = (*TOKEN_KEYS, COST, *MODEL_KEYS, OP)
#: Start attributes that make a span worth keeping them for (besides being an LLM call).
START_WATCH = frozenset((*TOKEN_KEYS, COST))
#: End attributes that send a span through the usage and cost path.
END_WATCH = frozenset((*TOKEN_KEYS, COST, OP))
#: span_end keys whose presence means "no counter besides tokens and tool_uses".
PLAIN_END_KEYS = frozenset(RESERVED_END_KEYS | {"tokens", "tool_uses"})
PHASE_KIND = frozenset({"phase"})
#: A start attribute of every span read through the OpenTelemetry bridge: such a span
#: may be classified at its end (its span_end then carries ``kind`` and ``name``).
BRIDGED_KEY = "otel.span_kind"
MAX_OPEN_LISTED = 1_000
MAX_LISTED_PROBLEMS = 1_000
PHASE_EVENT_FIELDS = frozenset({"event", "name", "wall_ms", "ts", "agents", "incomplete"})
FLOAT_MAX = 1.7976931348623157e308

# Slots of the tuple kept per open span.
NAME, KIND, TS, TOOL, LLM, KEEP, CTX, ROOT, SPECIAL = range(9)
#: A span's parent id and context index.
Node = tuple[str | None, int]
#: The pair of every span without a parent.
ROOT_NODE: Node = (None, -1)
# Slots of a context record: a subtree-sum accumulator (an agent's, or a stand-in for a
# span referred to before its start line was read), the index of the next one up, and
# the last time its subtree showed a line (an open agent's; +inf: not watched).
TOKENS, TOOL_USES, COST_SUM, UP, SEEN = range(5)
# Slots of a tool record.
CALLS, TOTAL, FAILURES, DURATIONS, P95 = range(5)


class SkipLine(ValueError):
    """A line that breaks a rule of the schema: it is skipped and reported."""


def type_name(value: Any) -> str:
    """How a wrong value is named in a skipped line's reason."""
    return "null" if value is None else type(value).__name__


def real_counter(value: Any, field: str) -> float:
    """A counter that is not an int: a finite float within 64 bits, or the line is skipped."""
    if value.__class__ is not float:
        raise SkipLine(f"{field} is {type_name(value)}, not a number")
    if not -COUNT_MAX <= value <= COUNT_MAX:
        raise SkipLine(f"implausible {field} {value!r}")
    return float(value)


def is_number(value: Any) -> TypeGuard[int | float]:
    return value.__class__ is int or value.__class__ is float


def fit_json(value: int | float) -> int | float:
    """A sum as JSON can hold it: past 64 bits an int is carried as a float, and a float
    past the largest double (finite addends can get there) is clamped to it."""
    if value.__class__ is int:
        if -COUNT_MAX - 1 <= value <= COUNT_MAX:
            return value
        return math.copysign(FLOAT_MAX, value) if abs(value) >= FLOAT_MAX else float(value)
    if math.isfinite(value):
        return value
    return 0.0 if math.isnan(value) else math.copysign(FLOAT_MAX, value)


def json_safe(value: Any, depth: int = 0) -> Any:
    """A copy of a value a caller passed along that JSON can hold (events handed to
    :meth:`SummaryFold.add` directly may hold any Python value; a file's cannot)."""
    if value is None or value.__class__ in (str, bool):
        return value
    if value.__class__ is int or value.__class__ is float:
        return fit_json(value) if value == value else None
    if depth > 32:
        return None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v, depth + 1) for v in value]
    return repr(value)


def text_or_none(value: Any) -> str | None:
    return value if value.__class__ is str else None


def sort_ts(value: Any) -> float:
    return float(value) if is_number(value) else 0.0


def count_of(value: Any, field: str) -> int:
    """A count a line carries (0 when absent); a wrong one skips the line."""
    if value is None:
        return 0
    if not is_number(value) or not 0 <= value <= COUNT_MAX:
        raise SkipLine(f"{field} is {value!r}, not a plausible count")
    return int(value)


def pid_of(event: Mapping[str, Any]) -> int | None:
    """The process id of a header or trailer line; a wrong one skips the line."""
    pid = event.get("pid")
    if pid is not None and pid.__class__ is not int:
        raise SkipLine(f"pid is {type_name(pid)}, not an integer")
    return pid


def exporter_fields(stats: Mapping[str, Any]) -> Sequence[Any]:
    """Received (filled in later), exported, dropped, failed."""
    return (None, stats.get("exported"), stats.get("dropped"), stats.get("failed"))


def add_phase(phases: dict[str, PhaseSummary], name: str, phase: PhaseSummary) -> None:
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


def phase_from_event(event: Mapping[str, Any]) -> PhaseSummary:
    wall, agents = event.get("wall_ms"), event.get("agents")
    # Caller counts ride along, but never as our own fields (agents="many" would break).
    extra = {k: v for k, v in event.items() if k not in PHASE_EVENT_FIELDS}
    return PhaseSummary(
        wall_ms=float(wall) if is_number(wall) else 0.0,
        agents=agents if agents.__class__ is int else None,
        extra=extra,
    )
