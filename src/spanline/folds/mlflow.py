"""A run as one MLflow 3 trace: the JSON that ``mlflow.entities.Trace.from_dict`` loads.

The shape is what ``mlflow-tracing`` writes with ``Trace.to_dict()`` and what
``mlflow traces get`` prints, so MLflow's tools and the ``jq`` recipes written for
them work on an export:

- ``info``: ``trace_id`` (``tr-`` + the run's 32-hex trace id), ``state``
  (``OK`` | ``ERROR`` | ``IN_PROGRESS``), ``request_time`` (RFC 3339),
  ``execution_duration_ms`` (and ``execution_duration``, the same milliseconds),
  ``trace_location``, ``trace_metadata``, ``tags`` and ``assessments`` (always a list);
- ``data.spans``: OTLP-shaped spans whose ids are base64 of their bytes (MLflow's id
  encoding), ``parent_span_id`` null at the root, ``status.code`` in
  ``STATUS_CODE_OK|ERROR|UNSET``, and attributes stored as JSON text, as MLflow
  stores them: ``mlflow.traceRequestId``, ``mlflow.spanType`` (AGENT, TOOL, LLM or
  CHAIN), ``mlflow.spanInputs`` and ``mlflow.spanOutputs``.

A run with several root spans (or spans whose parent is not in the log) gets one
synthetic root named after the run. ``spanline.assess`` events become
``info.assessments``; other ``event`` lines become span events.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from spanline.folds._mlflow_encoding import b64_id as _b64
from spanline.folds._mlflow_encoding import digest_id as _digest_id
from spanline.folds._mlflow_encoding import event_attribute as _event_attribute
from spanline.folds._mlflow_encoding import hex_id as _hex_id
from spanline.folds._mlflow_encoding import json_text as _json
from spanline.folds._mlflow_encoding import ns as _ns
from spanline.folds._mlflow_encoding import rfc3339 as _rfc3339
from spanline.folds.events import JsonlTail, LineProblem
from spanline.folds.summary import is_agent
from spanline.schema import AGENT_KINDS, END_OVERRIDES

__all__ = ["ASSESSMENT_EVENT", "MlflowFold", "mlflow_trace", "mlflow_trace_file"]

#: The name of the ``event`` lines ``spanline.assess`` writes.
ASSESSMENT_EVENT = "assessment"

_INPUT_KEYS = ("input.value", "input.preview", "tool.arguments_preview")
_OUTPUT_KEYS = ("output.value", "output.preview", "tool.output_preview")
_PREVIEW_CHARS = 1000
_STATUS = {"ok": "STATUS_CODE_OK", "error": "STATUS_CODE_ERROR"}


class MlflowFold:
    """Fold events into one MLflow trace; feed it in any chunking, then call ``result()``.

    Args:
        run_id: the run's id, used when the events have no ``run_start`` line.
    """

    def __init__(self, run_id: str | None = None) -> None:
        self._run_id = run_id
        self._header: dict[str, Any] = {}
        self._starts: dict[str, dict[str, Any]] = {}
        self._ends: dict[str, dict[str, Any]] = {}
        self._events: list[dict[str, Any]] = []
        self._assessments: list[dict[str, Any]] = []

    def add(self, event: Mapping[str, Any]) -> None:
        """Fold one event (unknown event types are ignored)."""
        tag = event.get("event")
        if tag == "span_start":
            span_id = _hex_id(event.get("span_id"), 8)
            if span_id is not None and span_id not in self._starts:
                self._starts[span_id] = dict(event)
                end = self._ends.get(span_id)
                if end is not None:  # its end came first (another process's line)
                    _take_final(self._starts[span_id], end)
        elif tag == "span_end":
            span_id = _hex_id(event.get("span_id"), 8)
            if span_id is not None:
                self._ends[span_id] = dict(event)
                start = self._starts.get(span_id)
                if start is not None:
                    _take_final(start, event)
        elif tag == "event":
            if event.get("name") == ASSESSMENT_EVENT:
                self._assessments.append(dict(event))
            else:
                self._events.append(dict(event))
        elif tag == "run_start" and not self._header:
            self._header = dict(event)

    def extend(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Fold several events."""
        for event in events:
            self.add(event)

    def result(self) -> dict[str, Any]:
        """The trace: ``{"info": ..., "data": {"spans": [...]}}``, ready for ``json.dumps``."""
        run_id = str(self._header.get("run_id") or self._run_id or "spanline-run")
        trace_hex = _hex_id(self._header.get("trace_id"), 16)
        if trace_hex is None:
            first = next(iter(self._starts.values()), {})
            trace_hex = _hex_id(first.get("trace_id"), 16) or _digest_id(run_id, 16)
        request_id = f"tr-{trace_hex}"
        recorded = self._header.get("agent_kinds")
        kinds: Iterable[str] = (
            [k for k in recorded if k.__class__ is str] if isinstance(recorded, list) else []
        )
        kinds = kinds or AGENT_KINDS
        roots = [
            span_id
            for span_id, start in self._starts.items()
            if _hex_id(start.get("parent"), 8) not in self._starts
        ]
        synthetic = self._synthetic_root(run_id, roots) if len(roots) > 1 else None
        root_id = synthetic["id"] if synthetic else (roots[0] if roots else None)
        span_events = self._span_events(root_id)
        spans = []
        if synthetic is not None:
            spans.append(self._root_span(synthetic, trace_hex, request_id, span_events))
        for span_id, start in self._starts.items():
            parent = _hex_id(start.get("parent"), 8)
            if parent not in self._starts:
                parent = synthetic["id"] if synthetic else None
            spans.append(
                self._span(span_id, start, parent, trace_hex, request_id, kinds, span_events)
            )
        return {
            "info": self._info(run_id, request_id, spans, roots, root_id),
            "data": {"spans": spans},
        }

    # --- spans -----------------------------------------------------------------

    def _span(
        self,
        span_id: str,
        start: dict[str, Any],
        parent: str | None,
        trace_hex: str,
        request_id: str,
        kinds: Iterable[str],
        span_events: dict[str, list[dict[str, Any]]],
    ) -> dict[str, Any]:
        end = self._ends.get(span_id)
        merged: dict[str, Any] = {}
        for part in (start.get("attributes"), end.get("attributes") if end else None):
            if isinstance(part, Mapping):
                merged.update(part)
        attributes = {key: _json(value) for key, value in merged.items()}
        attributes["mlflow.traceRequestId"] = _json(request_id)
        attributes["mlflow.spanType"] = _json(_span_type(start, kinds))
        for key, wanted in (
            ("mlflow.spanInputs", _INPUT_KEYS),
            ("mlflow.spanOutputs", _OUTPUT_KEYS),
        ):
            found = next((merged[name] for name in wanted if name in merged), None)
            if found is not None:
                attributes[key] = _json(found)
        for field in ("kind", "component"):
            if start.get(field) is not None:
                attributes[f"spanline.{field}"] = _json(start[field])
        start_ns = _ns(start.get("ts")) or 0
        end_ns = _ns(end.get("ts")) if end else None
        if end is not None:
            counters = {
                key: value
                for key, value in end.items()
                if isinstance(value, (int, float)) and key not in ("ts", "pid")
            }
            for key, value in counters.items():
                attributes[f"spanline.{key}"] = _json(value)
            usage = _token_usage(merged)
            if usage:
                attributes["mlflow.chat.tokenUsage"] = _json(usage)
        code, message = _status(end)
        return {
            "trace_id": _b64(trace_hex, 16),
            "span_id": _b64(span_id, 8),
            "parent_span_id": _b64(parent, 8) if parent else None,
            "name": str(start.get("name") or span_id),
            "start_time_unix_nano": start_ns,
            "end_time_unix_nano": max(end_ns, start_ns) if end_ns is not None else None,
            "events": span_events.get(span_id, []),
            "status": {"code": code, "message": message},
            "attributes": attributes,
            "links": [],
        }

    def _synthetic_root(self, run_id: str, roots: list[str]) -> dict[str, Any]:
        span_id = _digest_id(f"spanline-root:{run_id}", 8)
        while span_id in self._starts:  # never collide with a real span
            span_id = _digest_id(span_id, 8)
        starts = [_ns(self._starts[r].get("ts")) for r in roots]
        ends = [_ns(self._ends[r].get("ts")) if r in self._ends else None for r in roots]
        statuses = [self._ends[r].get("status") if r in self._ends else None for r in roots]
        return {
            "id": span_id,
            "name": run_id,
            "start": min((s for s in starts if s is not None), default=0),
            "end": None if None in ends else max(e for e in ends if e is not None),
            "roots": len(roots),
            "failed": sum(1 for status in statuses if status == "error"),
            "open": statuses.count(None),
        }

    def _root_span(
        self,
        root: dict[str, Any],
        trace_hex: str,
        request_id: str,
        span_events: dict[str, list[dict[str, Any]]],
    ) -> dict[str, Any]:
        # Its status is OK only when every root is: a failure is reported on the root
        # span that failed, never twice (health checks list the failing spans).
        if root["failed"] or root["open"]:
            code = "STATUS_CODE_UNSET"
            message = (
                f"{root['failed']} failed and {root['open']} unfinished"
                f" of {root['roots']} root spans"
            )
        else:
            code, message = "STATUS_CODE_OK", ""
        attributes = {
            "mlflow.traceRequestId": _json(request_id),
            "mlflow.spanType": _json("CHAIN"),
            "spanline.synthetic_root": _json(True),
            "spanline.root_spans": _json(root["roots"]),
        }
        if self._header.get("query") is not None:
            attributes["mlflow.spanInputs"] = _json({"query": self._header["query"]})
        return {
            "trace_id": _b64(trace_hex, 16),
            "span_id": _b64(root["id"], 8),
            "parent_span_id": None,
            "name": root["name"],
            "start_time_unix_nano": root["start"],
            "end_time_unix_nano": root["end"],
            "events": span_events.get(root["id"], []),
            "status": {"code": code, "message": message},
            "attributes": attributes,
            "links": [],
        }

    def _span_events(self, root_id: str | None) -> dict[str, list[dict[str, Any]]]:
        """``event`` lines as span events; those outside any known span go on the root."""
        out: dict[str, list[dict[str, Any]]] = {}
        for event in self._events:
            span_id = _hex_id(event.get("span_id"), 8)
            if span_id not in self._starts:
                span_id = root_id
            if span_id is None:
                continue
            attributes = event.get("attributes")
            out.setdefault(span_id, []).append(
                {
                    "name": str(event.get("name")),
                    "time_unix_nano": _ns(event.get("ts")) or 0,
                    "attributes": {
                        str(key): _event_attribute(value)
                        for key, value in (
                            attributes.items() if isinstance(attributes, Mapping) else ()
                        )
                        if value is not None
                    },
                }
            )
        return out

    # --- info ------------------------------------------------------------------

    def _session_metadata(self) -> dict[str, str]:
        """MLflow groups traces by ``mlflow.trace.session``: the run's session (its
        header's, else the one every span carries), with its turn and attempt."""
        session = self._header.get("session_id")
        if not isinstance(session, str):
            seen = {
                start["attributes"].get("session.id")
                for start in self._starts.values()
                if isinstance(start.get("attributes"), dict)
            }
            session = seen.pop() if len(seen) == 1 else None
            if not isinstance(session, str):
                return {}
            return {"mlflow.trace.session": session}
        metadata = {"mlflow.trace.session": session}
        for key in ("turn", "attempt"):
            if self._header.get(key) is not None:
                metadata[f"spanline.{key}"] = str(self._header[key])
        return metadata

    def _info(
        self,
        run_id: str,
        request_id: str,
        spans: list[dict[str, Any]],
        roots: list[str],
        root_id: str | None,
    ) -> dict[str, Any]:
        starts = [s["start_time_unix_nano"] for s in spans if s["start_time_unix_nano"]]
        ends = [s["end_time_unix_nano"] for s in spans if s["end_time_unix_nano"] is not None]
        begin = min(starts) if starts else _ns(self._header.get("ts")) or 0
        finish = max(ends) if ends else begin
        duration_ms = max(0, (finish - begin) // 1_000_000)
        statuses = [self._ends[r].get("status") if r in self._ends else None for r in roots]
        if "error" in statuses:
            state = "ERROR"
        elif None in statuses or len(self._ends) < len(self._starts):
            state = "IN_PROGRESS"
        else:
            state = "OK"
        root = next((s for s in spans if s["parent_span_id"] is None), None)
        metadata = {
            "mlflow.trace_schema.version": "3",
            "spanline.run_id": run_id,
        }
        for key in ("service_name", "environment", "spanline_version", "git_branch"):
            if self._header.get(key) is not None:
                metadata[f"spanline.{key}"] = str(self._header[key])
        metadata.update(self._session_metadata())
        info: dict[str, Any] = {
            "trace_id": request_id,
            "client_request_id": run_id,
            "trace_location": {
                "type": "MLFLOW_EXPERIMENT",
                "mlflow_experiment": {"experiment_id": "0"},
            },
            "request_time": _rfc3339(begin),
            "execution_duration_ms": duration_ms,
            "execution_duration": duration_ms,
            "state": state,
            "trace_metadata": metadata,
            "tags": {"mlflow.traceName": root["name"] if root else run_id},
            "assessments": [
                self._assessment(event, request_id, index)
                for index, event in enumerate(self._assessments, 1)
            ],
        }
        if root is not None:
            for key, field in (
                ("mlflow.spanInputs", "request_preview"),
                ("mlflow.spanOutputs", "response_preview"),
            ):
                if key in root["attributes"]:
                    info[field] = root["attributes"][key][:_PREVIEW_CHARS]
        return info

    def _assessment(self, event: dict[str, Any], request_id: str, index: int) -> dict[str, Any]:
        attributes = event.get("attributes")
        attrs: Mapping[str, Any] = attributes if isinstance(attributes, Mapping) else {}
        stamp = _rfc3339(_ns(event.get("ts")) or 0)
        source: dict[str, Any] = {"source_type": str(attrs.get("assessment.source") or "CODE")}
        if attrs.get("assessment.source_id") is not None:
            source["source_id"] = str(attrs["assessment.source_id"])
        feedback: dict[str, Any] = {"value": attrs.get("assessment.value")}
        if attrs.get("assessment.error") is not None:
            feedback["error"] = {
                "error_code": "ASSESSMENT_ERROR",
                "error_message": str(attrs["assessment.error"]),
            }
        out: dict[str, Any] = {
            "assessment_id": f"a-{_digest_id(f'{request_id}:{index}:{stamp}', 16)}",
            "assessment_name": str(attrs.get("assessment.name") or "feedback"),
            "trace_id": request_id,
            "source": source,
            "create_time": stamp,
            "last_update_time": stamp,
            "feedback": feedback,
            "metadata": {},
            "valid": True,
        }
        span_id = _hex_id(attrs.get("assessment.span_id"), 8)
        if span_id is not None:
            out["span_id"] = span_id  # assessments name spans in hex, as MLflow does
        if attrs.get("assessment.rationale") is not None:
            out["rationale"] = str(attrs["assessment.rationale"])
        if attrs.get("gen_ai.agent.id") is not None:
            out["metadata"]["gen_ai.agent.id"] = str(attrs["gen_ai.agent.id"])
        return out


def _take_final(start: dict[str, Any], end: Mapping[str, Any]) -> None:
    """A span classified at its end (the bridge's): the end's ``kind`` and ``name``
    win over the start's."""
    for field in END_OVERRIDES:
        if isinstance(end.get(field), str):
            start[field] = end[field]


def _span_type(start: Mapping[str, Any], kinds: Iterable[str]) -> str:
    name = str(start.get("name") or "")
    kind = start.get("kind")
    if is_agent(start, frozenset(kinds)):
        return "AGENT"
    if kind == "tool" or name.startswith("tool."):
        return "TOOL"
    if kind == "llm" or name.startswith("llm."):
        return "LLM"
    return "CHAIN"


def _status(end: Mapping[str, Any] | None) -> tuple[str, str]:
    if end is None:
        return "STATUS_CODE_UNSET", "no span_end: in flight or lost"
    code = _STATUS.get(str(end.get("status")), "STATUS_CODE_UNSET")
    error = end.get("error")
    if code != "STATUS_CODE_ERROR":
        return code, ""
    if isinstance(error, Mapping):
        kind, message = error.get("type"), error.get("message")
        return code, ": ".join(str(part) for part in (kind, message) if part)
    return code, str(error or "")


def _token_usage(attributes: Mapping[str, Any]) -> dict[str, int]:
    usage: dict[str, int] = {}
    for key, name in (
        ("gen_ai.usage.input_tokens", "input_tokens"),
        ("gen_ai.usage.output_tokens", "output_tokens"),
        ("gen_ai.usage.cache_read.input_tokens", "cache_read_input_tokens"),
        ("gen_ai.usage.cache_creation.input_tokens", "cache_creation_input_tokens"),
    ):
        value = attributes.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            usage[name] = value
    if "input_tokens" in usage or "output_tokens" in usage:
        usage["total_tokens"] = usage.get("input_tokens", 0) + usage.get("output_tokens", 0)
    return usage


def mlflow_trace(
    events: Iterable[Mapping[str, Any]], *, run_id: str | None = None
) -> dict[str, Any]:
    """Fold a run's events into one MLflow trace.

    Args:
        events: the run's events, in file order.
        run_id: used when the events have no run_start line.

    Returns:
        The trace as a JSON-ready dict (see the module docstring).
    """
    fold = MlflowFold(run_id=run_id)
    fold.extend(events)
    return fold.result()


def mlflow_trace_file(
    path: str | os.PathLike[str],
) -> tuple[dict[str, Any], list[LineProblem]]:
    """Read a telemetry.jsonl (bad lines skipped) and fold it into one MLflow trace.

    Args:
        path: the file.

    Returns:
        The trace and the skipped lines.
    """
    fold = MlflowFold(run_id=os.path.basename(os.path.dirname(os.path.abspath(path))))
    tail = JsonlTail(path)
    for batch in tail.batches(final=True):
        fold.extend(batch)
    return fold.result(), list(tail.problems)
