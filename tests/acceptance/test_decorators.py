"""traced_agent / traced_tool / traced_llm on every call shape."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path
from typing import Any

import pytest

import spanline
from spanline import coordination
from tests._helpers import configure, finish, named, one, spans


class Boom(Exception):
    pass


def _make(decorator: Any, shape: str, *, fail: bool = False) -> Any:
    """A function of the given shape that opens a nested span and may raise."""
    tracer = spanline.get_tracer()
    error = Boom("boom")

    if shape == "sync":

        def target(x: int) -> int:
            with tracer.span("body"):
                if fail:
                    raise error
                return x * 2

    elif shape == "async":

        async def target(x: int) -> int:
            await asyncio.sleep(0)
            with tracer.span("body"):
                if fail:
                    raise error
                return x * 2

    elif shape == "gen":

        def target(x: int):
            for i in range(3):
                with tracer.span("body"):
                    if fail and i == 1:
                        raise error
                yield x + i

    else:

        async def target(x: int):
            for i in range(3):
                await asyncio.sleep(0)
                with tracer.span("body"):
                    if fail and i == 1:
                        raise error
                yield x + i

    target.error = error  # type: ignore[attr-defined]
    return decorator(target), target


def _call(func: Any, shape: str) -> Any:
    if shape == "sync":
        return func(5)
    if shape == "async":
        return asyncio.run(func(5))
    if shape == "gen":
        return list(func(5))

    async def consume() -> list[int]:
        return [item async for item in func(5)]

    return asyncio.run(consume())


DECORATORS = {
    "agent": (spanline.traced_agent, lambda f: f.__qualname__),
    "agent-named": (spanline.traced_agent(name="lead"), lambda f: "lead"),
    "tool": (spanline.traced_tool, lambda f: f"tool.{f.__name__}"),
    "tool-named": (spanline.traced_tool(name="read_file"), lambda f: "tool.read_file"),
    "llm": (spanline.traced_llm, lambda f: f"llm.{f.__name__}"),
    "llm-args": (spanline.traced_llm(provider="openai", model="gpt-4o"), lambda f: "llm.target"),
}
SHAPES = ["sync", "async", "gen", "agen"]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("which", list(DECORATORS))
def test_span_name_parent_and_status(which: str, shape: str, tmp_path: Path) -> None:
    decorator, expected_name = DECORATORS[which]
    run = configure(tmp_path)
    wrapped, original = _make(decorator, shape)
    with spanline.span("outer") as outer:
        result = _call(wrapped, shape)
    assert result == (10 if shape in ("sync", "async") else [5, 6, 7])
    assert wrapped.__name__ == original.__name__ and wrapped.__wrapped__ is original
    _, events = finish(run)
    (span,) = named(events, expected_name(original))
    assert span["parent"] == outer.span_id
    assert span["end"]["status"] == "ok"
    bodies = named(events, "body")
    assert len(bodies) == (1 if shape in ("sync", "async") else 3)
    assert all(b["parent"] == span["span_id"] for b in bodies)
    if which.startswith("agent"):
        assert span["attrs"]["gen_ai.operation.name"] == "invoke_agent"
        assert span["attrs"]["gen_ai.agent.name"] == expected_name(original)
        assert span["kind"] == "agent"
    if which.startswith("tool"):
        assert span["kind"] == "tool" and span["end"]["tool_uses"] == 1
        assert span["attrs"]["tool.success"] is True


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("which", ["agent", "tool", "llm"])
def test_exceptions_are_recorded_and_the_same_object_reraised(
    which: str, shape: str, tmp_path: Path
) -> None:
    decorator, expected_name = DECORATORS[which]
    run = configure(tmp_path)
    wrapped, original = _make(decorator, shape, fail=True)
    with pytest.raises(Boom) as caught, spanline.span("outer"):
        _call(wrapped, shape)
    assert caught.value is original.error
    _, events = finish(run)
    (span,) = named(events, expected_name(original))
    end = span["end"]
    assert end["status"] == "error"
    assert end["error"]["type"].endswith("Boom") and end["error"]["message"] == "boom"
    outer = one(events, "outer")
    assert outer["end"]["status"] == "error"
    failing_body = [b for b in named(events, "body") if b["end"]["status"] == "error"]
    assert len(failing_body) == 1 and failing_body[0]["parent"] == span["span_id"]
    if which == "tool":
        assert span["attrs"]["tool.success"] is False
        assert "boom" in span["attrs"]["tool.error_message"]


@pytest.mark.parametrize("which", ["agent", "tool", "llm"])
def test_generators_closed_early_end_their_span_once(which: str, tmp_path: Path) -> None:
    decorator, expected_name = DECORATORS[which]
    run = configure(tmp_path)
    gen_func, gen_original = _make(decorator, "gen")
    agen_func, agen_original = _make(decorator, "agen")

    with spanline.span("outer") as outer:
        gen = gen_func(1)
        assert next(gen) == 1
        gen.close()
        gen = gen_func(2)  # abandoned: garbage collection closes it
        assert next(gen) == 2
        del gen
        gc.collect()
        for item in gen_func(3):  # break out of a for loop
            if item == 3:
                break

        async def consume() -> None:
            agen = agen_func(1)
            assert await agen.__anext__() == 1
            await agen.aclose()
            async for _ in agen_func(2):  # abandoned: the loop finalizes it
                break

        asyncio.run(consume())
    _, events = finish(run)
    gens = named(events, expected_name(gen_original))
    assert len(gens) == 5  # 3 generators + 2 async generators (same qualname/name)
    for span in gens:
        assert span["end"] is not None
        assert span["parent"] == outer.span_id
    # The abandoned async generator is finalized by asyncio.run, which cancels the aclose()
    # task first: it ends with CancelledError. Every explicitly closed one ends "ok".
    statuses = sorted(span["end"]["status"] for span in gens)
    assert statuses in (["ok"] * 5, ["error"] + ["ok"] * 4)
    bodies = named(events, "body")
    assert all(b["end"] is not None for b in bodies)
    assert agen_original.__name__ == gen_original.__name__


def test_a_generator_whose_cleanup_raises_still_ends_its_span(tmp_path: Path) -> None:
    run = configure(tmp_path)

    @spanline.traced_tool
    def stubborn():
        try:
            yield 1
            yield 2
        finally:
            raise RuntimeError("cleanup failed")

    gen = stubborn()
    next(gen)
    with pytest.raises(RuntimeError, match="cleanup failed"):
        gen.close()
    _, events = finish(run)
    (span,) = named(events, "tool.stubborn")
    assert span["end"] is not None


def test_consumer_spans_between_items_are_not_children_of_the_generator(
    tmp_path: Path,
) -> None:
    run = configure(tmp_path)
    tracer = spanline.get_tracer()

    @spanline.traced_tool
    def produce():
        for i in range(2):
            with tracer.span("produce-step"):
                pass
            yield i

    @spanline.traced_agent
    def relay():
        yield from produce()  # nested traced generators

    with tracer.span("consumer") as consumer:
        for _ in relay():
            with tracer.span("handle"):
                pass
    _, events = finish(run)
    relay_span = named(events, next(s["name"] for s in spans(events).values()
                                    if s["name"].endswith("relay")))[0]  # fmt: skip
    produce_span = one(events, "tool.produce")
    assert relay_span["parent"] == consumer.span_id
    assert produce_span["parent"] == relay_span["span_id"]
    assert all(s["parent"] == produce_span["span_id"] for s in named(events, "produce-step"))
    assert all(s["parent"] == consumer.span_id for s in named(events, "handle"))


def test_send_and_throw_reach_a_traced_generator(tmp_path: Path) -> None:
    run = configure(tmp_path)

    @spanline.traced_tool
    def echo():
        received = yield "ready"
        try:
            yield f"got {received}"
        except KeyError:
            yield "handled"

    gen = echo()
    assert next(gen) == "ready"
    assert gen.send("x") == "got x"
    assert gen.throw(KeyError("k")) == "handled"
    gen.close()
    _, events = finish(run)
    span = one(events, "tool.echo")
    assert span["end"]["status"] == "ok"


class Service:
    @spanline.traced_agent
    def plan(self, task: str) -> str:
        return self.lookup(task)

    @spanline.traced_tool
    def lookup(self, key: str) -> str:
        return key.upper()

    @spanline.traced_llm(model="gpt-4o-mini")
    async def ask(self, prompt: str) -> dict:
        return {"model": "gpt-4o-mini", "usage": {"prompt_tokens": 3, "completion_tokens": 4}}

    @spanline.traced_tool
    async def stream(self):
        yield "a"
        yield "b"


def test_methods(tmp_path: Path) -> None:
    run = configure(tmp_path)
    service = Service()

    async def main() -> list[str]:
        await service.ask("hi")
        return [x async for x in service.stream()]

    assert service.plan("x") == "X"
    assert asyncio.run(main()) == ["a", "b"]
    _, events = finish(run)
    plan = one(events, "Service.plan")
    lookup = one(events, "tool.lookup")
    assert lookup["parent"] == plan["span_id"]
    assert plan["attrs"]["gen_ai.agent.name"] == "Service.plan"
    ask = one(events, "llm.ask")
    assert ask["end"]["tokens"] == 7 and ask["attrs"]["gen_ai.request.model"] == "gpt-4o-mini"
    assert one(events, "tool.stream")["attrs"]["tool.output_items"] == 2
    for span in (plan, lookup, ask):  # self is not captured
        preview = str(span["attrs"].get("input.preview", ""))
        assert "Service object" not in preview


def test_nested_spans_in_concurrent_agents_carry_their_own_agent_id(tmp_path: Path) -> None:
    run = configure(tmp_path)

    @spanline.traced_tool
    async def search(query: str) -> str:
        await asyncio.sleep(0)
        return query

    @spanline.traced_llm(provider="anthropic", model="claude-haiku-4-5")
    async def think(prompt: str) -> dict:
        await asyncio.sleep(0)
        return {"type": "message", "model": "claude-haiku-4-5",
                "usage": {"input_tokens": 5, "output_tokens": 2}}  # fmt: skip

    @spanline.traced_tool
    def blocking(label: str) -> str:
        return label

    @spanline.traced_agent
    async def worker(task: str, agent_id: str | None = None) -> None:
        for step in range(5):
            await search(f"{task}-{step}")
            await think(task)
            await asyncio.sleep(0)
            with spanline.ThreadPoolExecutor(1) as pool:  # context crosses into threads
                pool.submit(blocking, task).result()
            coordination.vote(voted_for=f"{task}.1")

    @spanline.traced_agent(id="fixed")
    async def fixed() -> None:
        await search("fixed")
        await worker("inner", agent_id="nested")
        await search("fixed-after")

    async def main() -> None:
        await asyncio.gather(
            worker("a", agent_id="agent_a"), worker("b", agent_id="agent_b"), worker("c"), fixed()
        )
        await search("outside")

    asyncio.run(main())
    _, events = finish(run)
    merged = spans(events)
    agents = {sid: s for sid, s in merged.items()
              if s["attrs"].get("gen_ai.operation.name") == "invoke_agent"}  # fmt: skip
    ids = sorted(s["attrs"]["gen_ai.agent.id"] for s in agents.values())
    unnamed = next(s for s in agents.values() if "'c'" in str(s["attrs"].get("input.preview")))
    assert (
        unnamed["attrs"]["gen_ai.agent.id"] == unnamed["span_id"]
    )  # an agent without an id is known by its span id
    assert sorted(ids) == sorted(["agent_a", "agent_b", unnamed["span_id"], "fixed", "nested"])

    def nearest_agent(span: dict) -> dict | None:
        parent = span["parent"]
        while parent is not None:
            if parent in agents:
                return agents[parent]
            parent = merged[parent]["parent"]
        return None

    checked = 0
    for span in merged.values():
        if span["span_id"] in agents:
            continue
        owner = nearest_agent(span)
        if owner is None:
            assert "gen_ai.agent.id" not in span["attrs"], span["name"]
        else:
            assert span["attrs"]["gen_ai.agent.id"] == owner["attrs"]["gen_ai.agent.id"]
            checked += 1
    assert checked == 4 * 15 + 2
    votes = [e for e in events if e["event"] == "event" and e["name"] == "vote"]
    assert len(votes) == 20
    for vote in votes:
        owner = agents[vote["span_id"]]
        assert vote["attributes"]["agent_id"] == owner["attrs"]["gen_ai.agent.id"]


def test_agent_id_default_argument_is_the_agent_id(tmp_path: Path) -> None:
    run = configure(tmp_path)

    @spanline.traced_agent
    def agent(task: str, agent_id: str = "agent_default") -> str:
        return task

    agent("t")
    _, events = finish(run)
    span = next(iter(spans(events).values()))
    assert span["attrs"]["gen_ai.agent.id"] == "agent_default"


async def _drive_echo(func) -> list[str]:
    gen = func()
    out = [await gen.__anext__(), await gen.asend("x")]
    try:
        out.append(await gen.athrow(KeyError("k")))
    except KeyError:
        out.append("KeyError escaped")
    await gen.aclose()
    return out


def _echo_agen():
    @spanline.traced_tool
    async def echo():
        got = yield "ready"
        try:
            yield f"got {got}"
        except KeyError:
            yield "handled"

    return echo


def test_asend_and_athrow_reach_a_traced_async_generator(tmp_path: Path) -> None:
    run = configure(tmp_path)
    assert asyncio.run(_drive_echo(_echo_agen())) == ["ready", "got x", "handled"]
    _, events = finish(run)
    assert one(events, "tool.echo")["end"]["status"] == "ok"


def test_asend_and_athrow_reach_an_async_generator_while_tracing_is_off() -> None:
    assert asyncio.run(_drive_echo(_echo_agen())) == ["ready", "got x", "handled"]
