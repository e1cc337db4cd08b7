"""A run as OTLP JSON: the ``ExportTraceServiceRequest`` JSON that OTLP/HTTP receivers take.

The spans are the ones the OTLP exporter sends (the same mapping), encoded as the
OTLP JSON mapping says: trace and span ids as hex, 64-bit integers (times,
``intValue``) as decimal strings, enums as numbers, attributes as ``{key, value}``
lists. One resource (the run's ``service.name``, ``service.version``,
``deployment.environment.name`` and ``spanline.run_id``) and one scope
(``spanline``) hold every span. Spans that never ended are left out and counted.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from spanline._version import __version__
from spanline.exporters._otel_mapping import (
    INSTRUMENTATION_SCOPE,
    AttributeValue,
    OtelSpan,
    SpanAssembler,
    resource_attributes,
)
from spanline.folds.events import JsonlTail, LineProblem

__all__ = ["OtlpJsonFold", "any_value", "otlp_json_file", "span_json"]

# OTLP enums, as numbers (the JSON mapping accepts either; numbers are what it writes).
_SPAN_KIND_INTERNAL = 1
_STATUS_CODE = {"unset": 0, "ok": 1, "error": 2}


def any_value(value: AttributeValue) -> dict[str, Any]:
    """An attribute value as an OTLP ``AnyValue`` in JSON."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, tuple):
        return {"arrayValue": {"values": [any_value(item) for item in value]}}
    return {"stringValue": value}


def _attributes(attributes: Mapping[str, AttributeValue]) -> list[dict[str, Any]]:
    return [{"key": key, "value": any_value(value)} for key, value in attributes.items()]


def span_json(span: OtelSpan) -> dict[str, Any]:
    """One span in the OTLP JSON mapping."""
    out: dict[str, Any] = {"traceId": span.trace_id, "spanId": span.span_id}
    if span.parent_span_id:
        out["parentSpanId"] = span.parent_span_id
    out |= {
        "name": span.name,
        "kind": _SPAN_KIND_INTERNAL,
        "startTimeUnixNano": str(span.start_ns),
        "endTimeUnixNano": str(span.end_ns),
        "attributes": _attributes(span.attributes),
        "events": [
            {
                "timeUnixNano": str(event.time_ns),
                "name": event.name,
                "attributes": _attributes(event.attributes),
            }
            for event in span.events
        ],
        "status": {"code": _STATUS_CODE[span.status]},
    }
    if span.status_message:
        out["status"]["message"] = span.status_message
    return out


class OtlpJsonFold:
    """Fold events into one ``ExportTraceServiceRequest`` (JSON); any chunking, then
    :meth:`result`."""

    def __init__(self) -> None:
        self._assembler = SpanAssembler(max_open=1 << 62)  # a stored run: keep every span
        self._spans: list[dict[str, Any]] = []

    def add(self, event: Mapping[str, Any]) -> None:
        """Fold one event (unknown event types are ignored)."""
        span = self._assembler.add(event)
        if span is not None:
            self._spans.append(span_json(span))

    def extend(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Fold several events."""
        for event in events:
            self.add(event)

    @property
    def unfinished(self) -> int:
        """Spans started and never ended: not in the result."""
        return self._assembler.open_count

    def result(self) -> dict[str, Any]:
        """The request: ``{"resourceSpans": [...]}``, ready for ``json.dumps``."""
        resource = resource_attributes(self._assembler.header)
        return {
            "resourceSpans": [
                {
                    "resource": {"attributes": _attributes(resource)},
                    "scopeSpans": [
                        {
                            "scope": {"name": INSTRUMENTATION_SCOPE, "version": __version__},
                            "spans": list(self._spans),
                        }
                    ],
                }
            ]
        }


def otlp_json_file(
    path: str | os.PathLike[str],
) -> tuple[dict[str, Any], int, list[LineProblem]]:
    """Read a telemetry.jsonl (bad lines skipped) and fold it into OTLP JSON.

    Args:
        path: the file.

    Returns:
        The request, the number of spans left out because they never ended, and
        the skipped lines.
    """
    fold = OtlpJsonFold()
    tail = JsonlTail(path)
    for batch in tail.batches(final=True):
        fold.extend(batch)
    return fold.result(), fold.unfinished, list(tail.problems)
