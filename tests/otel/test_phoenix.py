"""Against a real OTLP backend: a nested traced run sent to Arize Phoenix over HTTP and
over gRPC, read back through Phoenix's own REST API, equals the JSONL log."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import spanline
from tests._helpers import configure
from tests.otel._run import expected_spans, nested_run
from tests.otel.conftest import Phoenix

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_STATUS = {"OK": "ok", "ERROR": "error", "UNSET": "unset"}


def _ns(stamp: str) -> int:
    delta = datetime.fromisoformat(stamp) - _EPOCH  # exact: integers, no float
    return ((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds) * 1000


def _json_or(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        return json.loads(value)
    return value


def read_spans(phoenix: Phoenix, project: str, count: int) -> list[dict[str, Any]]:
    """Phoenix's spans of ``project``, polled until ``count`` arrived (ingestion is slow)."""
    spans: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        spans, cursor = [], ""
        try:
            while True:
                url = f"{phoenix.http}/v1/projects/{project}/spans?limit=1000{cursor}"
                with urllib.request.urlopen(url, timeout=10) as response:
                    page = json.load(response)
                spans += page["data"]
                if not page.get("next_cursor"):
                    break
                cursor = f"&cursor={page['next_cursor']}"
        except urllib.error.HTTPError as exc:
            if exc.code != 404:  # 404 until the project's first span arrives
                raise
        if len(spans) >= count:
            return spans
        time.sleep(0.5)
    return spans


def as_logged(spans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """span_id -> the Phoenix span in the shape of :func:`expected_spans`."""
    out = {}
    for span in spans:
        events = span["events"]
        out[span["context"]["span_id"]] = {
            "name": span["name"],
            "trace_id": span["context"]["trace_id"],
            "parent": span["parent_id"],
            "start_ns": _ns(span["start_time"]),
            "end_ns": _ns(span["end_time"]),
            "status": _STATUS[span["status_code"]],
            "message": span["status_message"],
            "attributes": {k: _json_or(v) for k, v in span["attributes"].items()},
            "event_names": [e["name"] for e in events],
            "notes": [e["attributes"] for e in events if e["name"] != "exception"],
        }
    return out


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_a_nested_run_reads_back_from_phoenix_equal_to_the_log(
    phoenix: Phoenix, protocol: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = f"spanline-{protocol.split('/')[0]}-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
    monkeypatch.setenv(
        "OTEL_EXPORTER_OTLP_ENDPOINT", phoenix.grpc if protocol == "grpc" else phoenix.http
    )
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", f"openinference.project.name={project}")
    if protocol == "grpc":
        run = configure(tmp_path, exporters=["otlp"])
    else:  # selected by the environment variable instead
        monkeypatch.setenv("SPANLINE_EXPORTERS", "otlp")
        run = configure(tmp_path)
    for _ in range(5):  # tens of spans, in several traces' worth of nesting
        nested_run(workers=4)
    summary = spanline.shutdown()
    expected = expected_spans(run.telemetry_path)
    assert len(expected) == 5 * (2 + 2 * 4)
    got = as_logged(read_spans(phoenix, project, len(expected)))
    assert got.keys() == expected.keys()  # counts: every span, none twice
    for span_id, span in expected.items():
        assert got[span_id] == span, span["name"]
    counts = summary.to_dict()["exporters"]["otlp"]
    assert counts["received"] == counts["exported"] and counts["failed"] == 0
