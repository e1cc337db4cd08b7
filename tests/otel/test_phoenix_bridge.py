"""The bridge against a real backend: an httpx request made inside a spanline tool, traced by
OpenTelemetry's own httpx instrumentation, reaches Phoenix nested under that tool."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

import spanline
import spanline.otel
from tests._helpers import configure, named, one, read_lines
from tests.otel.conftest import Phoenix
from tests.otel.test_phoenix import read_spans
from tests.otel_bridge.conftest import Host, http_url  # noqa: F401 - http_url: a fixture


@pytest.fixture
def host() -> Iterator[Host]:
    made = Host()
    yield made
    made.provider.shutdown()
    spanline.otel.uninstall()


def test_an_httpx_request_in_a_tool_nests_under_the_tool_in_phoenix(
    phoenix: Phoenix,
    host: Host,
    http_url: str,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = f"spanline-bridge-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", phoenix.http)
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", f"openinference.project.name={project}")
    run = configure(tmp_path, exporters=["otlp"])
    spanline.otel.install(host.provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=host.provider)
    try:

        @spanline.traced_tool
        def fetch(url: str) -> str:
            with httpx.Client() as client:
                return client.get(url).text

        @spanline.traced_agent(name="fetcher", id="agent-1")
        def agent() -> list[str]:
            return [fetch(http_url) for _ in range(3)]

        assert agent() == ["ok", "ok", "ok"]
    finally:
        HTTPXClientInstrumentor().uninstrument()
    summary = spanline.shutdown()
    events = read_lines(run.telemetry_path)

    tools = {span["span_id"] for span in named(events, "tool.fetch")}
    requests = named(events, "GET")
    assert len(tools) == 3 and len(requests) == 3
    assert {r["parent"] for r in requests} == tools  # in the log: one request under each tool
    agent_span = one(events, "fetcher")

    spans = read_spans(phoenix, project, 7, tools | {r["span_id"] for r in requests})
    by_id = {span["context"]["span_id"]: span for span in spans}
    trace_id = events[0]["trace_id"]
    assert {span["context"]["trace_id"] for span in spans} == {trace_id}  # one trace
    for request in requests:
        got = by_id[request["span_id"]]
        assert got["name"] == "GET"
        assert got["parent_id"] == request["parent"]  # under its tool, in Phoenix too
        assert by_id[got["parent_id"]]["name"] == "tool.fetch"
        assert by_id[got["parent_id"]]["parent_id"] == agent_span["span_id"]
    counts = summary.to_dict()["exporters"]["otlp"] if summary is not None else {}
    assert counts["received"] == counts["exported"] and counts["failed"] == 0
