"""The event schema: record tags, field names and reserved keys of telemetry.jsonl.

The bottom layer of the package: it imports nothing from spanline, so every
other part (the hot path, the writer, folds, the CLI) can share these names.
"""

from __future__ import annotations

import re
from typing import Any, Final

__all__ = [
    "AGENT_KINDS",
    "BLOB_MEDIA_JSON",
    "BLOB_MEDIA_TEXT",
    "BLOB_REF",
    "COUNT_MAX",
    "DUPLICATE_OF",
    "END",
    "END_OVERRIDES",
    "EVENT",
    "EVENT_TYPES",
    "FALSE_WORDS",
    "FULL_CAPTURE_KEYS",
    "INTEGRATION",
    "INTEGRATIONS",
    "INTEGRATION_NAMES",
    "PHASE",
    "PLAN",
    "RAW",
    "RESERVED_END_KEYS",
    "SCHEMA_VERSION",
    "SPAN_END_FIELDS",
    "SPAN_START_FIELDS",
    "START",
    "TRACEPARENT_PATTERN",
    "TRUE_WORDS",
    "schema",
    "schema_text",
    "traceparent_ids",
]

#: Bumped when a field of telemetry.jsonl changes meaning.
SCHEMA_VERSION: Final = 1

# Record tags: the first item of every tuple the hot path queues.
START: Final = 0
END: Final = 1
EVENT: Final = 2
PHASE: Final = 3
#: Records that already are event dicts (process headers and trailers).
RAW: Final = 4
#: A ``span_planned`` line: work declared before it starts (``Tracer.plan``).
PLAN: Final = 5

#: The ``event`` field of every line type spanline writes. Readers ignore others.
EVENT_TYPES: Final = (
    "run_start",
    "process_start",
    "span_start",
    "span_end",
    "event",
    "phase",
    "span_planned",
    "integration",
    "process_end",
)

#: What ``spanline.instrument()`` and ``SPANLINE_INSTRUMENT`` take (besides ``"all"``):
#: the distribution names of the provider SDKs and agent frameworks spanline integrates.
INTEGRATION_NAMES: Final = (
    "openai",
    "anthropic",
    "google-genai",
    "openai-agents",
    "langchain",
    "crewai",
    "pydantic-ai",
    "google-adk",
)
#: Field of ``run_start`` and ``process_start``: the integrations (``spanline.instrument``)
#: loaded when tracing was configured, as ``{name: version of its package}``.
INTEGRATIONS: Final = "integrations"
#: The ``event`` of the line an ``instrument()`` or ``uninstrument()`` call writes while
#: tracing is on: ``{event, ts, name, version, loaded}``.
INTEGRATION: Final = "integration"

SPAN_START_FIELDS: Final = (
    "event",
    "span_id",
    "parent",
    "trace_id",
    "name",
    "component",
    "kind",
    "ts",
    "attributes",
)
SPAN_END_FIELDS: Final = (
    "event",
    "span_id",
    "status",
    "duration_ms",
    "tokens",
    "tool_uses",
    "ts",
    "error",
    "attributes",
)

#: Keys a counter may not use: fields of span_end, and of span_start (readers
#: merge the two lines, so a counter named ``parent`` would overwrite it).
RESERVED_END_KEYS: Final = frozenset(
    {"event", "span_id", "status", "duration_ms", "ts", "error", "attributes"}
    | {"parent", "trace_id", "name", "component", "kind"}
)

#: The largest magnitude a line's counter or count may carry (int64): ``span.add()``
#: refuses a counter past it, and readers skip a line whose float counter passes it.
COUNT_MAX: Final = 2**63 - 1

#: Span kinds that count as agents in summaries. Spans opened by
#: ``@traced_agent`` count whatever their kind: they carry
#: ``gen_ai.operation.name = "invoke_agent"``.
AGENT_KINDS: Final = frozenset(
    {
        "agent",
        "library-analysis",
        "application-analysis",
        "external-service",
        "architecture-documenter",
        "synthesis",
    }
)

#: Set on an LLM span whose usage an instrumented SDK call inside it records on its
#: own span: the outer span then records none and is not a call without usage.
USAGE_ON_CHILD: Final = "spanline.usage_on_child"

#: Set on an LLM span that saw a call another span already recorded (the two are not
#: nested and share ``gen_ai.response.id``): the kept span's id. The duplicate's
#: counters are 0 and its usage attributes null, so every sum counts the call once.
DUPLICATE_OF: Final = "spanline.duplicate_of"

#: Fields a ``span_end`` line may carry to override its ``span_start``: a span
#: classified when it ends (OpenTelemetry spans read through the bridge, whose
#: attributes arrive after their start) gets its final ``kind`` and ``name`` there.
#: Readers merge start then end; the end wins.
END_OVERRIDES: Final = ("kind", "name")

#: The attributes where full capture (``capture="full"``) records a whole argument set,
#: result or message; a value over ``blob_threshold`` moves out of line (see BLOB_REF).
FULL_CAPTURE_KEYS: Final = ("input.value", "output.value", "content.value")
#: A value stored out of line is replaced, in its attribute, by ``{BLOB_REF: {"sha256":
#: <64 hex of the stored bytes>, "size": <bytes>, "media_type": BLOB_MEDIA_TEXT or
#: BLOB_MEDIA_JSON}}``; the bytes are in the run's ``blobs/<sha256>.zst`` (zstd) or
#: ``blobs/<sha256>``. Text is stored as UTF-8, any other value as JSON.
BLOB_REF: Final = "spanline.blob"
BLOB_MEDIA_TEXT: Final = "text/plain; charset=utf-8"
BLOB_MEDIA_JSON: Final = "application/json"

#: Spellings of "on" and "off" for boolean settings.
TRUE_WORDS: Final = ("1", "true", "yes", "on")
FALSE_WORDS: Final = ("", "0", "false", "no", "off")

#: A W3C ``traceparent``: ``00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>``
#: (lower case; :func:`traceparent_ids` folds the case).
TRACEPARENT_PATTERN: Final = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def traceparent_ids(raw: object) -> tuple[str, str] | None:
    """The trace id and parent span id a W3C ``traceparent`` names.

    Spaces around it and upper-case hex are tolerated. All-zero ids are returned
    as they are: what to do with them is the caller's choice.

    Args:
        raw: the header's or the variable's text (anything else gives None).

    Returns:
        ``(trace id, parent span id)`` as 32 and 16 lower-case hex characters, or
        None when ``raw`` is not a version 00 traceparent.
    """
    if not isinstance(raw, str):
        return None
    match = TRACEPARENT_PATTERN.fullmatch(raw.strip().lower())
    return (match[1], match[2]) if match is not None else None


def schema_text() -> str:
    """The published JSON Schema of telemetry.jsonl lines, as text."""
    from importlib import resources

    return resources.files("spanline").joinpath("telemetry.schema.json").read_text("utf-8")


_SCHEMA: dict[str, Any] | None = None


def schema() -> dict[str, Any]:
    """The published JSON Schema as a dict (JSON Schema draft 2020-12)."""
    global _SCHEMA
    if _SCHEMA is None:
        import json

        _SCHEMA = json.loads(schema_text())
    return _SCHEMA
