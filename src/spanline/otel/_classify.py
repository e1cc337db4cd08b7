"""What a bridged OpenTelemetry span is: its spanline kind, the name shown to people,
its agent's identity and its usage, read from the GenAI semantic conventions and
OpenInference's attributes.

Frameworks set these attributes at different times (ADK, LangSmith and Logfire set
``gen_ai.operation.name`` and ``gen_ai.tool.name`` after the start), so the bridge
asks twice: at start for a provisional answer, at end for the final one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from spanline.schema import COUNT_MAX

__all__ = ["USAGE_PREFIXES", "Classified", "classify", "kind_of", "tokens_of", "usage_attributes"]

#: gen_ai.operation.name -> spanline span kind.
_OPERATIONS: Final = {
    "invoke_agent": "agent",
    "create_agent": "agent",
    "execute_tool": "tool",
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "embeddings": "llm",
    "responses": "llm",
}
#: openinference.span.kind -> spanline span kind (others: the kind in lower case).
_OPENINFERENCE: Final = {"AGENT": "agent", "TOOL": "tool", "LLM": "llm", "EMBEDDING": "llm"}
#: OpenInference usage and model keys -> the GenAI attributes spanline's folds read.
_OI_USAGE: Final = (
    ("llm.token_count.prompt", "gen_ai.usage.input_tokens"),
    ("llm.token_count.completion", "gen_ai.usage.output_tokens"),
    ("llm.token_count.prompt_details.cache_read", "gen_ai.usage.cache_read.input_tokens"),
    ("llm.token_count.prompt_details.cache_write", "gen_ai.usage.cache_creation.input_tokens"),
    ("llm.token_count.completion_details.reasoning", "gen_ai.usage.reasoning.output_tokens"),
    ("llm.model_name", "gen_ai.request.model"),
    ("llm.provider", "gen_ai.provider.name"),
)
_IN: Final = "gen_ai.usage.input_tokens"
_OUT: Final = "gen_ai.usage.output_tokens"
#: Older GenAI conventions (and some instrumentations) still use these names.
_OLD_IN: Final = "gen_ai.usage.prompt_tokens"
_OLD_OUT: Final = "gen_ai.usage.completion_tokens"
#: Attribute prefixes that carry a call's usage (nulled on a span that is a duplicate).
USAGE_PREFIXES: Final = ("gen_ai.usage.", "llm.token_count.")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: Any) -> int | float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return None


class Classified:
    """A span's kind, display name and agent or tool identity."""

    __slots__ = ("agent_id", "agent_name", "kind", "name", "tool")

    def __init__(
        self,
        kind: str | None,
        name: str,
        agent_name: str | None,
        agent_id: str | None,
        tool: str | None,
    ) -> None:
        self.kind = kind
        self.name = name
        self.agent_name = agent_name
        self.agent_id = agent_id
        self.tool = tool


def kind_of(attributes: Mapping[str, Any]) -> str | None:
    """The spanline kind the attributes say, or None when they say nothing."""
    kind = _OPERATIONS.get(str(attributes.get("gen_ai.operation.name")))
    if kind is not None:
        return kind
    openinference = _text(attributes.get("openinference.span.kind"))
    if openinference is not None:
        upper = openinference.upper()
        return _OPENINFERENCE.get(upper, upper.lower())
    return None


def classify(attributes: Mapping[str, Any], span_name: str) -> Classified:
    """What the span is, from its attributes (all of them at end, the first at start).

    Agents are named from ``gen_ai.agent.name`` (OpenInference: ``agent.name``), tools
    ``tool.<gen_ai.tool.name or tool.name>`` like native tool spans; other spans keep
    their name, or Logfire's rendered message (``logfire.msg``) over its template.
    """
    kind = kind_of(attributes)
    message = _text(attributes.get("logfire.msg"))
    name = message or span_name
    agent_name = agent_id = tool = None
    if kind == "agent":
        agent_name = _text(attributes.get("gen_ai.agent.name")) or _text(
            attributes.get("agent.name")
        )
        agent_id = _text(attributes.get("gen_ai.agent.id"))
        name = agent_name or name
    elif kind == "tool":
        tool = _text(attributes.get("gen_ai.tool.name")) or _text(attributes.get("tool.name"))
        if tool is not None:
            name = f"tool.{tool}"
    return Classified(kind, name, agent_name, agent_id, tool)


def usage_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """GenAI attributes for OpenInference's usage and model keys the span lacks."""
    found: dict[str, Any] = {}
    for source, target in _OI_USAGE:
        value = attributes.get(source)
        if value is not None and target not in attributes:
            found[target] = value
    return found


def tokens_of(attributes: Mapping[str, Any]) -> int | float | None:
    """Input + output tokens (None when the span carries no usage, or a sum past 64 bits
    or not finite: that would make the span_end line unreadable, so the counts stay in
    the attributes only)."""
    tokens_in = _number(attributes.get(_IN, attributes.get(_OLD_IN)))
    tokens_out = _number(attributes.get(_OUT, attributes.get(_OLD_OUT)))
    if tokens_in is None and tokens_out is None:
        total = _number(attributes.get("llm.token_count.total"))
    else:
        total = (tokens_in or 0) + (tokens_out or 0)
    if total is None or not -COUNT_MAX <= total <= COUNT_MAX:
        return None
    return total
