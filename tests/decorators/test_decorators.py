"""@traced_agent / @traced_tool / @traced_llm on every call shape."""

from __future__ import annotations

import asyncio
import inspect

import pytest

import spanline
from spanline import traced_agent, traced_llm, traced_tool
from spanline.testing import CapturedSpans, capture_spans


class Boom(Exception):
    pass


@traced_tool
def read_file(path: str) -> str:
    return f"contents of {path}"


@traced_tool(name="mcp__filesystem__write_file")
async def write_file(path: str, text: str) -> int:
    await asyncio.sleep(0)
    return len(text)


@traced_tool
def list_dir(path: str):
    """A generator tool."""
    yield from (f"{path}/a", f"{path}/b", f"{path}/c")


@traced_tool
async def search(query: str):
    for hit in ("x", "y"):
        await asyncio.sleep(0)
        yield f"{query}:{hit}"


@traced_tool
def broken(path: str) -> str:
    raise Boom(f"cannot read {path}")


class Researcher:
    def __init__(self, name: str) -> None:
        self.name = name

    @traced_agent(kind="library-analysis")
    def analyse(self, topic: str) -> str:
        return read_file(f"/{topic}")

    @traced_agent
    async def analyse_async(self, agent_id: str) -> str:
        return read_file(f"/{agent_id}")


def test_sync_tool_span(spanline_capture: CapturedSpans) -> None:
    assert read_file("/etc/motd") == "contents of /etc/motd"
    span = spanline_capture.span("tool.read_file")
    attrs = span["attributes"]
    assert span["kind"] == "tool" and span["status"] == "ok"
    assert span["tool_uses"] == 1
    assert attrs["tool.name"] == "read_file"
    assert attrs["tool.type"] == "custom"
    assert "mcp.server" not in attrs
    assert attrs["tool.success"] is True
    assert attrs["tool.execution_time_ms"] >= 0
    assert attrs["tool.input_chars"] == len("path") + len("/etc/motd")
    assert attrs["tool.output_chars"] == len("contents of /etc/motd")
    assert attrs["tool.arguments_preview"] == "{'path': '/etc/motd'}" or "/etc/motd" in str(
        attrs["tool.arguments_preview"]
    )
    assert attrs["tool.output_preview"] == "contents of /etc/motd"


def test_async_mcp_tool_span(spanline_capture: CapturedSpans) -> None:
    assert asyncio.run(write_file("/tmp/x", "hello")) == 5
    span = spanline_capture.span("tool.mcp__filesystem__write_file")
    assert span["attributes"]["tool.type"] == "mcp"
    assert span["attributes"]["mcp.server"] == "filesystem"
    assert span["status"] == "ok"


def test_generator_tools_cover_the_whole_iteration(spanline_capture: CapturedSpans) -> None:
    assert list(list_dir("/d")) == ["/d/a", "/d/b", "/d/c"]

    async def consume() -> list[str]:
        return [hit async for hit in search("q")]

    assert asyncio.run(consume()) == ["q:x", "q:y"]
    gen_span = spanline_capture.span("tool.list_dir")
    assert gen_span["attributes"]["tool.output_items"] == 3
    assert gen_span["tool_uses"] == 1 and gen_span["status"] == "ok"
    assert spanline_capture.span("tool.search")["attributes"]["tool.output_items"] == 2


def test_generator_closed_early_ends_its_span(spanline_capture: CapturedSpans) -> None:
    gen = list_dir("/d")
    assert next(gen) == "/d/a"
    gen.close()

    async def partial() -> None:
        agen = search("q")
        assert await agen.__anext__() == "q:x"
        await agen.aclose()

    asyncio.run(partial())
    for name in ("tool.list_dir", "tool.search"):
        span = spanline_capture.span(name)
        assert span["ended"] and span["status"] == "ok"
        assert span["attributes"]["spanline.closed_early"] is True


def test_exceptions_are_recorded_and_reraised_unchanged(spanline_capture: CapturedSpans) -> None:
    with pytest.raises(Boom, match="cannot read /x"):
        broken("/x")
    span = spanline_capture.span("tool.broken")
    assert span["status"] == "error"
    assert span["error"]["type"].endswith("Boom")
    assert span["attributes"]["tool.success"] is False
    assert span["attributes"]["tool.error_message"] == "Boom: cannot read /x"
    assert span["tool_uses"] == 1


def test_generator_raising_midway(spanline_capture: CapturedSpans) -> None:
    @traced_tool
    def flaky():
        yield 1
        raise Boom("midway")

    gen = flaky()
    assert next(gen) == 1
    with pytest.raises(Boom):
        next(gen)
    assert spanline_capture.span("tool.flaky")["status"] == "error"


def test_generator_send_and_throw_are_forwarded(spanline_capture: CapturedSpans) -> None:
    @traced_tool
    def echo():
        received = []
        try:
            while True:
                value = yield len(received)
                received.append(value)
        except Boom:
            yield "caught"

    gen = echo()
    assert next(gen) == 0
    assert gen.send("a") == 1
    assert gen.throw(Boom("x")) == "caught"
    gen.close()
    assert spanline_capture.span("tool.echo")["status"] == "ok"


def test_methods_and_agent_spans(spanline_capture: CapturedSpans) -> None:
    researcher = Researcher("r")
    assert researcher.analyse("kzg") == "contents of /kzg"
    agent = spanline_capture.span("Researcher.analyse")
    tool = spanline_capture.span("tool.read_file")
    assert agent["kind"] == "library-analysis"
    assert agent["attributes"]["gen_ai.operation.name"] == "invoke_agent"
    assert agent["attributes"]["gen_ai.agent.name"] == "Researcher.analyse"
    assert agent["attributes"]["gen_ai.agent.id"] == agent["span_id"]  # no id=, no agent_id
    assert tool["parent"] == agent["span_id"]
    assert tool["attributes"]["gen_ai.agent.id"] == agent["span_id"]
    assert "self" not in str(agent["attributes"].get("input.preview"))


def test_wraps_preserves_metadata() -> None:
    assert read_file.__name__ == "read_file"
    assert inspect.signature(read_file) == inspect.signature(read_file.__wrapped__)
    assert inspect.iscoroutinefunction(write_file)
    assert inspect.isgeneratorfunction(list_dir)
    assert inspect.isasyncgenfunction(search)
    assert Researcher.analyse.__qualname__ == "Researcher.analyse"


def test_disabled_calls_straight_through() -> None:
    assert read_file("/a") == "contents of /a"
    assert list(list_dir("/d")) == ["/d/a", "/d/b", "/d/c"]
    assert asyncio.run(write_file("/a", "xy")) == 2
    with pytest.raises(Boom):
        broken("/x")


def test_decorated_before_configure_is_traced_after() -> None:
    @traced_tool
    def late(x: int) -> int:
        return x + 1

    assert late(1) == 2  # off: nothing recorded
    with capture_spans() as captured:
        assert late(2) == 3
        assert captured.names() == ["tool.late"]


def test_concurrent_agents_do_not_leak_ids(spanline_capture: CapturedSpans) -> None:
    @traced_llm(provider="anthropic", model="claude-sonnet-4-5")
    async def think(prompt: str) -> dict:
        await asyncio.sleep(0.001)
        return {"usage": {"input_tokens": 10, "output_tokens": 5}, "model": "claude-sonnet-4-5"}

    @traced_agent(name="agent")
    async def agent(agent_id: str, steps: int) -> None:
        for step in range(steps):
            await think(f"{agent_id}-{step}")
            await asyncio.sleep(0)
            read_file(f"/{agent_id}/{step}")
            with spanline.span("plain"):
                await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(agent("agent_a", 5), agent("agent_b", 5))

    asyncio.run(main())
    spans = spanline_capture.spans()
    agents = {s["attributes"]["gen_ai.agent.id"]: s for s in spans if s["name"] == "agent"}
    assert set(agents) == {"agent_a", "agent_b"}
    by_id = {s["span_id"]: s for s in spans}
    nested = [s for s in spans if s["name"] != "agent"]
    assert len(nested) == 30
    for span in nested:
        owner = span["attributes"]["gen_ai.agent.id"]
        assert by_id[span["parent"]]["attributes"]["gen_ai.agent.id"] == owner
        assert span["parent"] == agents[owner]["span_id"]
        if span["name"] == "tool.read_file":
            assert span["attributes"]["tool.arguments_preview"].count(owner) == 1


def test_agent_id_rules(spanline_capture: CapturedSpans) -> None:
    @traced_agent(id="fixed", name="Planner")
    def planner() -> None:
        read_file("/p")

    @traced_agent
    def worker(task: str, agent_id: str = "default-id") -> None:
        pass

    @traced_agent
    def anonymous(task: str) -> None:
        pass

    planner()
    worker("t", agent_id="w-7")
    worker("t")  # the agent_id default names the agent too
    anonymous("t")
    spans = spanline_capture.spans()
    ids = [s["attributes"]["gen_ai.agent.id"] for s in spans if s["name"] != "tool.read_file"]
    assert ids == ["fixed", "w-7", "default-id", spans[-1]["span_id"]]
    assert spans[0]["name"] == "Planner"
    assert spans[1]["attributes"]["gen_ai.agent.name"] == "Planner"  # the tool inside


def test_context_attributes_reach_nested_spans(spanline_capture: CapturedSpans) -> None:
    with spanline.context(round_number=2, round_type="voting"):
        read_file("/r")
        with spanline.context(round_type="presentation"):
            with spanline.span("inner"):
                pass
    read_file("/outside")
    tools = [s for s in spanline_capture.spans() if s["name"] == "tool.read_file"]
    assert tools[0]["attributes"]["round_number"] == 2
    assert tools[0]["attributes"]["round_type"] == "voting"
    assert spanline_capture.span("inner")["attributes"]["round_type"] == "presentation"
    assert "round_number" not in tools[1]["attributes"]


def test_agent_summary_sums_tool_uses_through_ancestors() -> None:
    @traced_agent(kind="agent")
    def lead() -> None:
        read_file("/a")
        sub()

    @traced_agent
    def sub() -> None:
        read_file("/b")
        read_file("/c")

    with capture_spans() as captured:
        lead()
    summary = captured.summary
    assert summary is not None
    cards = {a.name: a for a in summary.agents}
    assert cards["test_agent_summary_sums_tool_uses_through_ancestors.<locals>.lead"].tool_uses == 3
    assert cards["test_agent_summary_sums_tool_uses_through_ancestors.<locals>.sub"].tool_uses == 2
    assert summary.totals.total_tool_uses == 3
    assert summary.totals.agents_spawned == 2


def test_spans_opened_across_a_yield_keep_their_parent(spanline_capture: CapturedSpans) -> None:
    @traced_tool
    def gen():
        with spanline.span("inner"):
            yield 1
            with spanline.span("after-yield"):
                pass
            yield 2

    @traced_tool
    async def agen():
        with spanline.span("a-inner"):
            yield 1
            with spanline.span("a-after-yield"):
                pass
            yield 2

    async def consume_async() -> None:
        async for item in agen():
            with spanline.span(f"a-consume-{item}"):
                pass

    with spanline.span("consumer") as consumer:
        for item in gen():
            with spanline.span(f"consume-{item}"):
                pass
    asyncio.run(consume_async())
    spans = {s["name"]: s for s in spanline_capture.spans()}
    assert spans["after-yield"]["parent"] == spans["inner"]["span_id"]
    assert spans["inner"]["parent"] == spans["tool.gen"]["span_id"]
    assert spans["consume-1"]["parent"] == consumer.span_id  # the consumer's own context
    assert spans["a-after-yield"]["parent"] == spans["a-inner"]["span_id"]
    assert spans["a-consume-1"]["parent"] is None
