"""Logfire's span shape over the OTLP sender: the logfire.* attributes, pending spans
and logs, built from spanline's events. :class:`LogfireSender` runs where the OTLP
sender runs (the exporter's helper process, by default); the exporter that configures
it is :class:`spanline.exporters.logfire.LogfireExporter`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import orjson
from opentelemetry.sdk.trace import ReadableSpan

from spanline.exporters._otel_mapping import AttributeValue, OtelSpan, attribute_value
from spanline.exporters.otlp import OtlpSender

__all__ = ["LEVEL_ERROR", "LEVEL_INFO", "LogfireSender"]

#: Logfire's level numbers (OpenTelemetry severity numbers) for info and error.
LEVEL_INFO = 9
LEVEL_ERROR = 17
_NO_PARENT = "0" * 16


def _structured(value: Any) -> bool:
    """Logfire sends str, bool, int and float as they are, anything else as JSON text."""
    return not isinstance(value, str | bool | int | float)


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=repr).decode()


def _schema(value: Any) -> dict[str, str]:
    """The JSON schema Logfire's SDK gives a plain JSON value (what its UI renders by)."""
    if value is None:
        return {"type": "null"}
    if isinstance(value, Mapping):
        return {"type": "object"}
    if isinstance(value, list | tuple):
        return {"type": "array"}
    return {"type": "string"}


def _template(name: str) -> str:
    # Logfire reads the template as a format string: braces in a name are literal.
    return name.replace("{", "{{").replace("}", "}}")


def _tags(kind: Any, component: Any, attributes: Mapping[str, Any]) -> tuple[str, ...]:
    """The span's kind and component, then the strings of a ``tags`` attribute."""
    tags = [str(part) for part in (kind, component) if isinstance(part, str) and part]
    given = attributes.get("tags")
    if isinstance(given, list | tuple):
        tags += [tag for tag in given if isinstance(tag, str)]
    return tuple(dict.fromkeys(tags))


def _valid_id(value: Any, size: int) -> bool:
    if not isinstance(value, str) or len(value) != size:
        return False
    try:
        return int(value, 16) != 0
    except ValueError:
        return False


def _new_id() -> str:
    # random's module instance is reseeded in a forked child, so ids never repeat there.
    return f"{random.getrandbits(64) or 1:016x}"


class LogfireSender(OtlpSender):
    """The OTLP sender, sending spans as Logfire's SDK builds them.

    On top of the OTLP mapping (ids, parents, times, status, merged attributes, events),
    each span gets ``logfire.span_type`` (``span``), ``logfire.msg_template`` and
    ``logfire.msg`` (the span name), ``logfire.level_num`` (9 info, 17 error),
    ``logfire.tags`` (kind, component, a ``tags`` attribute) and, for attributes that are
    not str/bool/int/float, JSON text with ``logfire.json_schema`` describing them. A span
    still open when its start is exported is announced by a pending span (a child with
    ``logfire.span_type = pending_span`` and ``logfire.pending_parent_id``, the real span's
    parent); a span that starts and ends in one batch needs none, as Logfire's SDK drops
    those too. Each ``event`` line becomes a Logfire log under its span.

    Args:
        service_name: overrides ``service.name`` of the resource.
        environment: overrides ``deployment.environment.name``.
        pending_spans: send pending spans.
        **otlp: the OTLP sender's arguments.
    """

    def __init__(
        self,
        *,
        service_name: str | None = None,
        environment: str | None = None,
        pending_spans: bool = True,
        **otlp: Any,
    ) -> None:
        self.service_name = service_name
        self.environment = environment
        self.pending_spans = pending_spans
        super().__init__(**otlp)

    def _open(self) -> None:
        super()._open()
        # span id -> (trace id, its structured start attributes): what the end and the
        # span's logs need that the OTLP mapping does not keep. Bounded like the mapping.
        self._starts: dict[str, tuple[str, dict[str, Any]]] = {}

    def _resource_attributes(self, header: Mapping[str, Any] | None) -> dict[str, Any]:
        attributes = super()._resource_attributes(header)
        if self.service_name:
            attributes["service.name"] = self.service_name
        if self.environment:
            attributes["deployment.environment.name"] = self.environment
        return attributes

    def _spans(self, batch: Sequence[Mapping[str, Any]]) -> list[ReadableSpan]:
        ended = (
            {event.get("span_id") for event in batch if event.get("event") == "span_end"}
            if self.pending_spans
            else set()
        )
        out: list[ReadableSpan] = []
        for event in batch:
            tag = event.get("event")
            if tag == "span_start":
                started = self._remember(event)
                if started and self.pending_spans and event["span_id"] not in ended:
                    out.append(self._readable(self._pending(event)))
            elif tag == "event":
                log = self._log(event)
                if log is not None:
                    out.append(self._readable(log))
            span = self._assembler.add(event)
            if span is not None and tag == "span_end":
                out.append(self._readable(self._finished(span, event)))
        return out

    def _remember(self, start: Mapping[str, Any]) -> bool:
        span_id, trace_id = start.get("span_id"), start.get("trace_id")
        if not (_valid_id(span_id, 16) and _valid_id(trace_id, 32)):
            return False
        if len(self._starts) >= self._max_open:
            self._starts.pop(next(iter(self._starts)))  # the oldest, as the mapping does
        attributes = start.get("attributes")
        structured = (
            {key: value for key, value in attributes.items() if _structured(value)}
            if isinstance(attributes, Mapping)
            else {}
        )
        self._starts[str(span_id).lower()] = (str(trace_id).lower(), structured)
        return True

    def _pending(self, start: Mapping[str, Any]) -> OtelSpan:
        """The pending span Logfire's SDK sends at span start: a child of the real span,
        starting and ending when it starts, whose ``pending_parent_id`` is the real parent."""
        attributes = start.get("attributes")
        raw = dict(attributes) if isinstance(attributes, Mapping) else {}
        for key in ("kind", "component"):
            if start.get(key) is not None:
                raw[f"spanline.{key}"] = start[key]
        name = str(start.get("name") or "")
        parent = start.get("parent")
        converted = {str(key): attribute_value(value) for key, value in raw.items()}
        logfire = _logfire_attributes(name, "pending_span", LEVEL_INFO, raw, converted)
        logfire["logfire.pending_parent_id"] = (
            str(parent).lower() if _valid_id(parent, 16) else _NO_PARENT
        )
        tags = _tags(start.get("kind"), start.get("component"), raw)
        if tags:
            logfire["logfire.tags"] = tags
        start_ns = round(float(start["ts"]) * 1_000_000) * 1000 if _number(start.get("ts")) else 0
        return OtelSpan(
            trace_id=str(start["trace_id"]).lower(),
            span_id=_new_id(),
            parent_span_id=str(start["span_id"]).lower(),
            name=name,
            start_ns=start_ns,
            end_ns=start_ns,
            status="unset",
            status_message="",
            attributes=logfire,
            events=(),
        )

    def _finished(self, span: OtelSpan, end: Mapping[str, Any]) -> OtelSpan:
        _, structured = self._starts.pop(span.span_id, ("", {}))
        attributes = end.get("attributes")
        if isinstance(attributes, Mapping):
            for key, value in attributes.items():
                if _structured(value):
                    structured[key] = value
                else:
                    structured.pop(key, None)  # the end's scalar wins
        level = LEVEL_ERROR if span.status == "error" else LEVEL_INFO
        logfire = _logfire_attributes(span.name, "span", level, structured, span.attributes)
        tags = _tags(
            span.attributes.get("spanline.kind"),
            span.attributes.get("spanline.component"),
            structured,
        )
        if tags:
            logfire["logfire.tags"] = tags
        return replace(span, attributes=logfire)

    def _log(self, event: Mapping[str, Any]) -> OtelSpan | None:
        """A coordination event as a Logfire log: an info record under its span."""
        raw_id = event.get("span_id")
        span_id = raw_id.lower() if isinstance(raw_id, str) else ""
        opened = self._starts.get(span_id)
        if opened is None or not _number(event.get("ts")):
            return None
        attributes = event.get("attributes")
        raw = dict(attributes) if isinstance(attributes, Mapping) else {}
        name = str(event.get("name") or "event")
        converted = {str(key): attribute_value(value) for key, value in raw.items()}
        time_ns = round(float(event["ts"]) * 1_000_000) * 1000
        return OtelSpan(
            trace_id=opened[0],
            span_id=_new_id(),
            parent_span_id=span_id,
            name=name,
            start_ns=time_ns,
            end_ns=time_ns,
            status="unset",
            status_message="",
            attributes=_logfire_attributes(name, "log", LEVEL_INFO, raw, converted),
            events=(),
        )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _logfire_attributes(
    name: str,
    span_type: str,
    level: int,
    raw: Mapping[str, Any],
    converted: Mapping[str, AttributeValue],
) -> dict[str, AttributeValue]:
    """``converted`` with structured values (``raw``) as JSON text, plus logfire.* keys."""
    out = dict(converted)
    schema: dict[str, Any] = {}
    for key, value in raw.items():
        if _structured(value):
            out[str(key)] = _json_text(value)
            schema[str(key)] = _schema(value)
    out["logfire.span_type"] = span_type
    out["logfire.msg_template"] = _template(name)
    out["logfire.msg"] = name
    out["logfire.level_num"] = level
    if schema:
        out["logfire.json_schema"] = _json_text({"type": "object", "properties": schema})
    return out
