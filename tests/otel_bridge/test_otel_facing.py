"""What OpenTelemetry code sees of spanline: its open span follows OpenTelemetry's span
API, and instrumentation scopes a native integration covers are left out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace import SpanProcessor as OtelSpanProcessor

import spanline
import spanline.otel
from spanline._capture._scopes import skip_scopes, unskip_scopes
from tests._helpers import configure, finish, one
from tests.otel_bridge.conftest import Host


class _Watcher(OtelSpanProcessor):
    """A real OpenTelemetry processor asking its parent span the OpenTelemetry way."""

    def __init__(self) -> None:
        self.parents_recording: list[bool] = []
        self.ended = 0

    def on_start(self, span: SdkSpan, parent_context: Context | None = None) -> None:
        self.parents_recording.append(trace.get_current_span(parent_context).is_recording())

    def on_end(self, span: ReadableSpan) -> None:
        self.ended += 1


def test_open_spanline_span_follows_opentelemetrys_span_api(tmp_path: Path, host: Host) -> None:
    watcher = _Watcher()
    host.provider.add_span_processor(watcher)
    run = configure(tmp_path)
    spanline.otel.install(host.provider)
    with spanline.span("outer") as outer:
        assert outer.is_recording is True  # spanline's own Span keeps its property
        seen = trace.get_current_span()
        assert seen.is_recording() is True  # OpenTelemetry's method
        seen.set_attribute("set.by.otel", "yes")
        for _ in range(3):
            with host.tracer.start_as_current_span("child"):
                pass
    assert trace.get_current_span().is_recording() is False  # nothing open now
    summary, events = finish(run)
    assert watcher.parents_recording == [True, True, True]
    assert watcher.ended == 3
    assert one(events, "outer")["attrs"]["set.by.otel"] == "yes"
    assert summary.open_spans == 0 and summary.errors == []


@pytest.fixture
def skipped() -> Iterator[str]:
    skip_scopes(["covered.framework"])
    yield "covered.framework"
    unskip_scopes(["covered.framework"])


def test_skipped_scopes_are_not_recorded_and_their_children_move_up(
    tmp_path: Path, host: Host, skipped: str
) -> None:
    run = configure(tmp_path)
    spanline.otel.install(host.provider)
    covered = host.provider.get_tracer(skipped)
    with spanline.span("outer") as outer:
        with covered.start_as_current_span("invoke_agent lead") as agent:
            agent.set_attribute("gen_ai.operation.name", "invoke_agent")
            with host.tracer.start_as_current_span("GET /data"):
                pass
    summary, events = finish(run)
    names = [e["name"] for e in events if e["event"] == "span_start"]
    assert names == ["outer", "GET /data"]
    assert one(events, "GET /data")["parent"] == outer.span_id
    assert summary.agents == []
    assert len(host.exporter.get_finished_spans()) == 2  # the host's own export is unchanged


def test_a_scope_unskipped_is_recorded_again(tmp_path: Path, host: Host) -> None:
    skip_scopes(["covered.framework"])
    unskip_scopes(["covered.framework"])
    run = configure(tmp_path)
    spanline.otel.install(host.provider)
    attributes: dict[str, Any] = {"gen_ai.operation.name": "invoke_agent"}
    with host.provider.get_tracer("covered.framework").start_as_current_span(
        "invoke_agent lead", attributes={**attributes, "gen_ai.agent.name": "lead"}
    ):
        pass
    summary, _ = finish(run)
    assert [agent.name for agent in summary.agents] == ["lead"]
