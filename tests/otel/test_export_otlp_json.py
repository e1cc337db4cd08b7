"""``spanline export --format otlp-json``: the stored run as one ExportTraceServiceRequest
in the OTLP JSON mapping, read back with protobuf's own JSON parser."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

import spanline
from tests._helpers import configure, run_cli
from tests.otel._run import expected_spans, nested_run, received_spans

_IDS = ("traceId", "spanId", "parentSpanId")


def _hex_ids_to_base64(node: Any) -> Any:
    """OTLP JSON writes ids as hex, where protobuf's generic JSON mapping expects base64
    for bytes: receivers convert them, and so does this reader."""
    if isinstance(node, dict):
        return {
            key: base64.b64encode(bytes.fromhex(value)).decode()
            if key in _IDS
            else _hex_ids_to_base64(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_hex_ids_to_base64(item) for item in node]
    return node


def _traced_run(base: Path) -> spanline.Run:
    run = configure(base, environment="ci")
    nested_run()
    spanline.shutdown()
    return run


def test_the_export_parses_as_an_export_trace_service_request_equal_to_the_log(
    tmp_path: Path,
) -> None:
    run = _traced_run(tmp_path / "base")
    out = tmp_path / "run.otlp.json"
    result = run_cli(
        "export", "--dir", str(tmp_path / "base"), "--format", "otlp-json", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    raw = json.loads(out.read_text())
    first = raw["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    # The OTLP JSON mapping: hex ids, 64-bit integers as decimal strings.
    assert len(first["traceId"]) == 32 and len(first["spanId"]) == 16
    assert isinstance(first["startTimeUnixNano"], str)
    request = json_format.Parse(json.dumps(_hex_ids_to_base64(raw)), ExportTraceServiceRequest())
    (resource_spans,) = request.resource_spans
    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert resource["service.name"] == "acc"
    assert resource["deployment.environment.name"] == "ci"
    assert resource["spanline.run_id"] == run.run_id
    (scope,) = resource_spans.scope_spans
    assert scope.scope.name == "spanline" and scope.scope.version == spanline.__version__
    assert received_spans(list(scope.spans)) == expected_spans(run.telemetry_path)


def test_stdout_and_spans_that_never_ended_are_left_out_and_said(tmp_path: Path) -> None:
    run = _traced_run(tmp_path / "base")
    lines = run.telemetry_path.read_text().splitlines(keepends=True)
    # A crashed run: the root span's end (the last span_end) never made it to the log.
    root_end = max(i for i, line in enumerate(lines) if '"span_end"' in line)
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    (crashed / "telemetry.jsonl").write_text("".join(lines[:root_end] + lines[root_end + 1 :]))
    result = run_cli("export", str(crashed), "--format", "otlp-json", "--out", "-")
    assert result.returncode == 0, result.stderr
    spans = json.loads(result.stdout)["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert len(spans) == 7
    assert "skipped 1 spans that never ended" in result.stderr
