"""spanline events as OpenTelemetry span data: one pure mapping for every OTel destination.

The OTLP exporter, the ``otlp-json`` export of a stored run and any other exporter
that speaks OpenTelemetry (Logfire's, for one) share this mapping, so a span looks
the same wherever it goes. It imports nothing from OpenTelemetry: it turns event
dicts into plain :class:`OtelSpan` records, and each destination encodes those its
own way.

How to reuse it::

    assembler = SpanAssembler()
    for event in events:                 # a batch, a file, in any chunking
        span = assembler.add(event)      # an OtelSpan once its span_end arrives
        if span is not None:
            send(span, resource_attributes(assembler.header))

``assembler.header`` is the ``run_start`` line once seen (service name, environment,
commit). Add attributes of your own (e.g. ``logfire.*``) to a copy of
``span.attributes``; :func:`attribute_value` makes any value one OTel accepts.

The mapping:

- ids: the log's trace id (32 hex) and span id (16 hex) unchanged; ``parent`` becomes
  the parent span id;
- times: the ``span_start`` and ``span_end`` timestamps as Unix nanoseconds;
- status: ``ok`` -> OK, ``error`` -> ERROR with ``"<type>: <message>"``;
- attributes: start merged with end (end wins), plus ``spanline.kind``,
  ``spanline.component`` and every ``span_end`` counter as ``spanline.<name>``
  (``spanline.tokens``, ``spanline.tool_uses``, ``spanline.duration_ms``...);
  values OTel cannot hold (mappings, mixed lists, None) become JSON text;
- events: an error becomes an ``exception`` event (``exception.type``,
  ``exception.message``, ``exception.stacktrace``); ``event`` lines of the span
  (coordination events, ``spanline.event``) become span events with their
  attributes; an ``assessment`` (``spanline.assess``) becomes the GenAI semantic
  conventions' ``gen_ai.evaluation.result`` event: ``gen_ai.evaluation.name``,
  ``gen_ai.evaluation.score.value`` (a number; a boolean as 1 or 0),
  ``gen_ai.evaluation.score.label`` (a string; a boolean as ``true`` or
  ``false``) and ``gen_ai.evaluation.explanation`` (the rationale), with the
  other ``assessment.*`` attributes kept, so Phoenix and Logfire show the score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from spanline.schema import END_OVERRIDES

__all__ = [
    "EVALUATION_EVENT",
    "INSTRUMENTATION_SCOPE",
    "AttributeValue",
    "OtelEvent",
    "OtelSpan",
    "SpanAssembler",
    "attribute_value",
    "has_valid_ids",
    "resource_attributes",
]

#: The instrumentation scope every spanline span is reported under.
INSTRUMENTATION_SCOPE = "spanline"

#: The OpenTelemetry GenAI event an assessment is sent as.
EVALUATION_EVENT = "gen_ai.evaluation.result"
#: The event line ``spanline.assess`` writes.
_ASSESSMENT = "assessment"

#: What an OTel attribute may hold: a primitive or a homogeneous tuple of them.
AttributeValue = (
    str
    | bool
    | int
    | float
    | tuple[str, ...]
    | tuple[bool, ...]
    | tuple[int, ...]
    | tuple[float, ...]
)

_INT64 = (-(1 << 63), (1 << 63) - 1)
_NOT_COUNTERS = frozenset({"ts", "pid"})
_DEFAULT_MAX_OPEN = 100_000


@dataclass(frozen=True)
class OtelEvent:
    """A span event: its name, Unix time in nanoseconds and attributes."""

    name: str
    time_ns: int
    attributes: dict[str, AttributeValue] = field(default_factory=dict)


@dataclass(frozen=True)
class OtelSpan:
    """One finished spanline span as OpenTelemetry sees it.

    Ids are lower-case hex (trace 32 characters, spans 16); ``status`` is ``ok``,
    ``error`` or ``unset``; ``status_message`` is empty unless ``status`` is ``error``.
    """

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    start_ns: int
    end_ns: int
    status: str
    status_message: str
    attributes: dict[str, AttributeValue]
    events: tuple[OtelEvent, ...]


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=repr).decode()


def _primitive(value: Any) -> str | bool | int | float | None:
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        # OTLP integers are int64; a bigger one keeps its digits as text.
        return value if _INT64[0] <= value <= _INT64[1] else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    return None


def attribute_value(value: Any) -> AttributeValue:
    """``value`` as an OTel attribute: primitives and homogeneous lists stay, the rest
    (mappings, mixed lists, None, objects) becomes JSON text, so nothing is lost."""
    single = _primitive(value)
    if single is not None:
        return single
    if isinstance(value, list | tuple) and value:
        items = [_primitive(item) for item in value]
        kinds = {type(item) for item in items}
        if None not in kinds and len(kinds) == 1:
            return tuple(items)  # type: ignore[return-value]
    return _json_text(value)


def has_valid_ids(start: Mapping[str, Any]) -> bool:
    """Whether a ``span_start`` line has a span id and a trace id an OpenTelemetry
    receiver takes (not all zeros, hex): the exporters drop a span without them."""
    return _hex(start.get("span_id"), 8) is not None and _hex(start.get("trace_id"), 16) is not None


def _hex(value: Any, size: int) -> str | None:
    """An id as ``size`` bytes of lower-case hex, or None when it is not a valid one."""
    if not isinstance(value, str) or len(value) > 2 * size:
        return None
    try:
        number = int(value, 16)
    except ValueError:
        return None
    return f"{number:0{2 * size}x}" if number else None


def _ns(ts: Any) -> int | None:
    if isinstance(ts, int | float) and not isinstance(ts, bool) and math.isfinite(ts):
        # A float of epoch seconds holds microseconds, not nanoseconds: keep only those.
        return round(ts * 1_000_000) * 1000
    return None


def resource_attributes(
    header: Mapping[str, Any] | None, extra: Mapping[str, str] | None = None
) -> dict[str, AttributeValue]:
    """The resource of a run: ``service.name``, ``service.version``,
    ``deployment.environment.name`` and ``spanline.run_id`` from its ``run_start`` line.

    Args:
        header: the ``run_start`` event (or None when this process has not seen it).
        extra: resource attributes the user set (``OTEL_RESOURCE_ATTRIBUTES``); they win
            over what the log says, except ``service.name``, which spanline resolves
            already (argument, ``SPANLINE_SERVICE_NAME``, ``OTEL_SERVICE_NAME``, script).

    Returns:
        The attributes, in a fixed key order.
    """
    header = header or {}
    out: dict[str, AttributeValue] = {}
    name = header.get("service_name")
    out["service.name"] = str(name) if name else "spanline"
    # The commit is what identifies the deployed code when the log has no version.
    for key, source in (
        ("service.version", "source_commit"),
        ("deployment.environment.name", "environment"),
        ("spanline.run_id", "run_id"),
    ):
        if header.get(source):
            out[key] = str(header[source])
    for key, value in (extra or {}).items():
        if key != "service.name" or "service_name" not in header:
            out[key] = value
    return out


class SpanAssembler:
    """Pairs ``span_start`` and ``span_end`` lines (and the span's ``event`` lines) into
    :class:`OtelSpan` records. Feed it events in order, in any chunking.

    Args:
        max_open: spans waiting for their end that are kept; past it the oldest is
            forgotten (counted in ``forgotten``), so a lost end never grows memory.
    """

    def __init__(self, max_open: int = _DEFAULT_MAX_OPEN) -> None:
        self.max_open = max_open
        self.header: dict[str, Any] | None = None
        self.forgotten = 0
        self._open: dict[str, tuple[Mapping[str, Any], list[OtelEvent]]] = {}

    def add(self, event: Mapping[str, Any]) -> OtelSpan | None:
        """Fold one event; returns the finished span when ``event`` ends one."""
        tag = event.get("event")
        if tag == "span_start":
            span_id = _hex(event.get("span_id"), 8)
            if span_id is not None and has_valid_ids(event):
                if len(self._open) >= self.max_open:
                    self._open.pop(next(iter(self._open)))  # the oldest
                    self.forgotten += 1
                self._open[span_id] = (event, [])
        elif tag == "span_end":
            span_id = _hex(event.get("span_id"), 8)
            opened = self._open.pop(span_id, None) if span_id is not None else None
            if opened is not None:
                return _span(opened[0], event, opened[1])
        elif tag == "event":
            span_id = _hex(event.get("span_id"), 8)
            opened = self._open.get(span_id) if span_id is not None else None
            if opened is not None:
                opened[1].append(_event(event))
        elif tag == "run_start" and self.header is None:
            self.header = dict(event)
        return None

    @property
    def open_count(self) -> int:
        """Spans started and not yet ended."""
        return len(self._open)


def _event(event: Mapping[str, Any]) -> OtelEvent:
    attributes = event.get("attributes")
    items = dict(attributes) if isinstance(attributes, Mapping) else {}
    name = str(event.get("name"))
    if name == _ASSESSMENT:
        name, items = EVALUATION_EVENT, _evaluation(items)
    return OtelEvent(
        name=name,
        time_ns=_ns(event.get("ts")) or 0,
        attributes={str(key): attribute_value(value) for key, value in items.items()},
    )


def _evaluation(attributes: dict[Any, Any]) -> dict[Any, Any]:
    """An assessment's attributes in the GenAI semantic conventions' names."""
    out = dict(attributes)
    if "assessment.name" in out:
        out["gen_ai.evaluation.name"] = out.pop("assessment.name")
    if "assessment.rationale" in out:
        out["gen_ai.evaluation.explanation"] = out.pop("assessment.rationale")
    value = out.get("assessment.value")
    if isinstance(value, bool):
        out["gen_ai.evaluation.score.value"] = 1.0 if value else 0.0
        out["gen_ai.evaluation.score.label"] = "true" if value else "false"
    elif isinstance(value, int | float):
        out["gen_ai.evaluation.score.value"] = value
    elif isinstance(value, str):
        out["gen_ai.evaluation.score.label"] = value
    else:
        return out  # a list or a mapping: kept as JSON text under its own name
    del out["assessment.value"]
    return out


def _span(start: Mapping[str, Any], end: Mapping[str, Any], events: list[OtelEvent]) -> OtelSpan:
    attributes: dict[str, AttributeValue] = {}
    for part in (start.get("attributes"), end.get("attributes")):
        if isinstance(part, Mapping):
            for key, value in part.items():
                attributes[str(key)] = attribute_value(value)
    final = {key: end[key] for key in END_OVERRIDES if isinstance(end.get(key), str)}
    start = {**start, **final}  # a span classified at its end: the end wins
    for key in ("kind", "component"):
        if start.get(key) is not None:
            attributes[f"spanline.{key}"] = attribute_value(start[key])
    for key, value in end.items():
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and key not in _NOT_COUNTERS
        ):
            attributes[f"spanline.{key}"] = attribute_value(value)
    start_ns = _ns(start.get("ts")) or 0
    end_ns = max(_ns(end.get("ts")) or start_ns, start_ns)
    status = end.get("status")
    message = ""
    all_events = list(events)
    if status == "error":
        error = end.get("error")
        error = error if isinstance(error, Mapping) else {}
        kind, text = error.get("type") or "error", error.get("message") or ""
        message = f"{kind}: {text}" if text else str(kind)
        exception = {
            "exception.type": str(error.get("type") or "error"),
            "exception.message": str(error.get("message") or ""),
        }
        if error.get("stacktrace"):
            exception["exception.stacktrace"] = str(error["stacktrace"])
        all_events.append(OtelEvent("exception", end_ns, dict(exception)))
    return OtelSpan(
        trace_id=_hex(start.get("trace_id"), 16) or "",
        span_id=_hex(start.get("span_id"), 8) or "",
        parent_span_id=_hex(start.get("parent"), 8),
        name=str(start.get("name") or ""),
        start_ns=start_ns,
        end_ns=end_ns,
        status=status if status in ("ok", "error") else "unset",
        status_message=message,
        attributes=attributes,
        events=tuple(all_events),
    )
