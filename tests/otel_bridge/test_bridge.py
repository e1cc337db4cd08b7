"""The two-way OpenTelemetry bridge, with the real OpenTelemetry SDK and httpx instrumentation."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

import spanline
import spanline.otel
from tests._helpers import configure, finish, named, one
from tests.otel_bridge.conftest import Host


def _hex(value: int, width: int) -> str:
    return f"{value:0{width}x}"


def test_sdk_span_inside_a_spanline_span_nests_under_it(tmp_path: Path, host: Host) -> None:
    run = configure(tmp_path)
    spanline.otel.install(host.provider)
    with spanline.span("outer") as outer:
        with host.tracer.start_as_current_span("from-otel", attributes={"answer": 42}) as span:
            span.set_attribute("later", "yes")
    _, events = finish(run)
    bridged = one(events, "from-otel")
    assert bridged["parent"] == outer.span_id
    # Known at open on span_start; set later on span_end (readers merge them).
    assert bridged["attributes"]["answer"] == 42 and "later" not in bridged["attributes"]
    assert bridged["end"]["attributes"] == {"later": "yes"}
    assert bridged["attrs"]["otel.scope.name"] == "host-app"
    assert bridged["end"]["status"] == "ok"
    # The same span, seen by OpenTelemetry: same ids, spanline's trace.
    (exported,) = host.exporter.get_finished_spans()
    assert _hex(exported.context.span_id, 16) == bridged["span_id"]
    assert _hex(exported.parent.span_id, 16) == outer.span_id  # type: ignore[union-attr]
    assert _hex(exported.context.trace_id, 32) == bridged["trace_id"] == events[0]["trace_id"]


def test_spanline_span_inside_a_recorded_otel_span_nests_under_it(
    tmp_path: Path, host: Host
) -> None:
    run = configure(tmp_path)
    spanline.otel.install(host.provider)
    with spanline.span("root"):
        with host.tracer.start_as_current_span("otel-middle"):
            with spanline.span("spanline-inner"):
                with host.tracer.start_as_current_span("otel-leaf"):
                    pass
            with spanline.span("after-leaf"):
                pass
        with spanline.span("back-at-root"):
            pass
    _, events = finish(run)
    parent = {s["name"]: s["parent"] for s in named_all(events)}
    ids = {s["name"]: s["span_id"] for s in named_all(events)}
    assert parent["otel-middle"] == ids["root"]
    assert parent["spanline-inner"] == ids["otel-middle"]
    assert parent["otel-leaf"] == ids["spanline-inner"]
    assert parent["after-leaf"] == ids["otel-middle"]
    assert parent["back-at-root"] == ids["root"]


def named_all(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == "span_start"]


def test_httpx_request_in_a_tool_nests_under_the_tool(
    tmp_path: Path, host: Host, http_url: str
) -> None:
    run = configure(tmp_path)
    spanline.otel.install(host.provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=host.provider)
    try:

        @spanline.traced_tool
        def fetch(url: str) -> str:
            with httpx.Client() as client:
                return client.get(url).text

        @spanline.traced_agent(name="fetcher", id="agent-1")
        def agent() -> str:
            return fetch(http_url)

        assert agent() == "ok"
    finally:
        HTTPXClientInstrumentor().uninstrument()
    summary, events = finish(run)
    tool = one(events, "tool.fetch")
    (request,) = [s for s in named(events, "GET")]
    assert request["parent"] == tool["span_id"]
    assert request["attrs"]["otel.span_kind"] == "client"
    assert request["attrs"]["gen_ai.agent.id"] == "agent-1"  # as native spans carry it
    assert any(str(v).startswith(http_url.rstrip("/")) for v in request["attrs"].values())
    assert request["end"]["status"] == "ok"
    (card,) = summary.agents
    assert card.tool_uses == 1  # the request is no tool use of its own


def test_async_httpx_request_in_an_async_tool(tmp_path: Path, host: Host, http_url: str) -> None:
    run = configure(tmp_path)
    spanline.otel.install(host.provider)

    @spanline.traced_tool
    async def fetch(url: str) -> int:
        async with httpx.AsyncClient() as client:
            HTTPXClientInstrumentor.instrument_client(client, tracer_provider=host.provider)
            return (await client.get(url)).status_code

    async def main() -> list[int]:
        return list(await asyncio.gather(fetch(http_url), fetch(http_url)))

    assert asyncio.run(main()) == [200, 200]
    _, events = finish(run)
    tools = {s["span_id"] for s in named(events, "tool.fetch")}
    requests = named(events, "GET")
    assert len(requests) == 2
    assert {r["parent"] for r in requests} == tools  # one request under each tool


def test_genai_span_counts_tokens_like_a_native_one(tmp_path: Path, host: Host) -> None:
    run = configure(tmp_path)
    spanline.otel.install(host.provider)

    @spanline.traced_agent(name="writer", id="w")
    def agent() -> None:
        attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini"}
        with host.tracer.start_as_current_span("chat gpt-4o-mini", attributes=attributes) as s:
            s.set_attributes({"gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 30})
        tool = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"}
        with host.tracer.start_as_current_span("execute_tool search", attributes=tool):
            pass

    agent()
    summary, events = finish(run)
    chat = one(events, "chat gpt-4o-mini")
    assert chat["kind"] == "llm"
    assert chat["end"]["tokens"] == 150
    assert one(events, "tool.search")["end"]["tool_uses"] == 1
    assert summary.totals.total_tokens == 150
    assert summary.totals.tokens_by_type.input == 120
    assert summary.totals.llm_calls_without_usage == 0
    (card,) = summary.agents
    assert (card.tokens, card.tool_uses) == (150, 1)


def test_genai_span_without_usage_is_counted(tmp_path: Path, host: Host) -> None:
    run = configure(tmp_path)
    spanline.otel.install(host.provider)
    with host.tracer.start_as_current_span("chat x", attributes={"gen_ai.operation.name": "chat"}):
        pass
    summary, events = finish(run)
    assert one(events, "chat x")["end"]["tokens"] == 0
    assert summary.totals.llm_calls_without_usage == 1


def test_errors_and_span_events(tmp_path: Path, host: Host) -> None:
    run = configure(tmp_path)
    spanline.otel.install(host.provider)
    with spanline.span("outer"), pytest.raises(KeyError):
        with host.tracer.start_as_current_span("failing") as span:
            span.add_event("retry", {"attempt": 2})
            raise KeyError("missing")
    _, events = finish(run)
    failing = one(events, "failing")
    assert failing["end"]["status"] == "error"
    assert failing["end"]["error"]["type"] == "KeyError"
    assert "missing" in failing["end"]["error"]["message"]
    lines = [e for e in events if e["event"] == "event" and e["span_id"] == failing["span_id"]]
    assert [e["name"] for e in lines] == ["retry", "exception"]
    assert lines[0]["attributes"] == {"attempt": 2}


def test_nothing_is_recorded_while_tracing_is_off(tmp_path: Path, host: Host) -> None:
    spanline.otel.install(host.provider)
    with host.tracer.start_as_current_span("untraced"):
        pass
    assert len(host.exporter.get_finished_spans()) == 1
    run = configure(tmp_path)
    with host.tracer.start_as_current_span("traced"):
        pass
    _, events = finish(run)
    assert [s["name"] for s in named_all(events)] == ["traced"]


def test_uninstall_gives_otel_its_own_context_back(tmp_path: Path, host: Host) -> None:
    run = configure(tmp_path)
    spanline.otel.install(host.provider)
    spanline.otel.uninstall()
    with spanline.span("outer"):
        with host.tracer.start_as_current_span("alone"):
            pass
    _, events = finish(run)
    assert [s["name"] for s in named_all(events)] == ["outer"]
    (exported,) = host.exporter.get_finished_spans()
    assert exported.parent is None


def test_install_twice_records_once(tmp_path: Path, host: Host) -> None:
    run = configure(tmp_path)
    assert spanline.otel.install(host.provider) is host.provider
    spanline.otel.install(host.provider)
    with host.tracer.start_as_current_span("once"):
        pass
    _, events = finish(run)
    assert len(named(events, "once")) == 1


def test_install_rejects_a_non_sdk_provider() -> None:
    with pytest.raises(TypeError, match="TracerProvider"):
        spanline.otel.install(trace.NoOpTracerProvider())  # type: ignore[arg-type]


def test_plain_spanline_spans_never_touch_opentelemetry(tmp_path: Path, host: Host) -> None:
    """The bridge's cost is paid where OTel reads or sets its context, never per spanline span.

    Only this thread's calls count: other threads use OTel's context on their own
    schedule (spanline's own threads set its "suppress instrumentation" flag once, when
    they start, which may be while the spans below are opened).
    """
    import threading

    from opentelemetry import context as otel_context

    run = configure(tmp_path)
    spanline.otel.install(host.provider)
    bridge = otel_context._RUNTIME_CONTEXT
    calls: list[str] = []
    this_thread = threading.get_ident()

    class Counting:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            if threading.get_ident() == this_thread:
                calls.append(name)
            return getattr(self.inner, name)

    bridge.inner = Counting(bridge.inner)  # type: ignore[attr-defined]
    try:

        @spanline.traced_tool
        def tool() -> None:
            pass

        for _ in range(100):
            with spanline.span("plain"):
                tool()
        assert calls == []
        with spanline.span("plain"):
            with host.tracer.start_as_current_span("otel"):
                pass
        assert calls  # ...while OTel spans do go through it
    finally:
        bridge.inner = bridge.inner.inner  # type: ignore[attr-defined]
    finish(run)


def test_genai_span_inside_traced_llm_takes_the_usage(tmp_path: Path, host: Host) -> None:
    """Usage is counted once: the innermost LLM span (the bridged one) holds it, and the
    ``@traced_llm`` span around it is marked so it records none of its own."""
    run = configure(tmp_path)
    spanline.otel.install(host.provider)

    @spanline.traced_llm(provider="openai", model="gpt-4o-mini")
    def ask() -> str:
        with host.tracer.start_as_current_span(
            "chat gpt-4o-mini", attributes={"gen_ai.operation.name": "chat"}
        ) as span:
            span.set_attributes({"gen_ai.usage.input_tokens": 9, "gen_ai.usage.output_tokens": 1})
        return "answer"

    ask()
    summary, events = finish(run)
    outer = one(events, "llm.ask")
    assert outer["end"]["attributes"]["spanline.usage_on_child"] is True
    assert outer["end"]["tokens"] == 0
    assert one(events, "chat gpt-4o-mini")["end"]["tokens"] == 10
    assert summary.totals.total_tokens == 10


def test_concurrent_tools_each_keep_their_own_otel_children(tmp_path: Path, host: Host) -> None:
    """2 threads x 50 tool calls, each with an OTel span inside: every one under its tool."""
    import threading

    run = configure(tmp_path)
    spanline.otel.install(host.provider)

    @spanline.traced_tool
    def step(owner: str, n: int) -> None:
        with host.tracer.start_as_current_span(f"otel-{owner}-{n}"):
            pass

    @spanline.traced_agent(name="worker")
    def agent(agent_id: str) -> None:
        for n in range(50):
            step(agent_id, n)

    threads = [threading.Thread(target=agent, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _, events = finish(run)
    starts = {e["span_id"]: e for e in named_all(events)}
    bridged = [e for e in starts.values() if e["name"].startswith("otel-")]
    assert len(bridged) == 100
    for span in bridged:
        tool = starts[span["parent"]]
        assert tool["name"] == "tool.step"
        owner = span["name"].split("-")[1]
        assert tool["attributes"]["gen_ai.agent.id"] == owner
        assert span["attributes"]["gen_ai.agent.id"] == owner
    assert len(host.exporter.get_finished_spans()) == 100
