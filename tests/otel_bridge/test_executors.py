"""Work handed to executors keeps the submitter's span and agent id (on by default).

A tool called through a thread pool, ``loop.run_in_executor``, ``asyncio.to_thread``
and a process pool (forked and spawned workers) from inside an agent nests under
that agent, carries its agent id and counts in that agent's tool uses in
``run_summary.json``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import json
import multiprocessing
import os
import threading
from pathlib import Path
from typing import Any

import pytest

import spanline
from spanline._decorators import _propagate
from tests._helpers import configure, finish, named, one
from tests.otel_bridge._tools import lookup


@pytest.fixture(autouse=True)
def _restore_executors() -> Any:
    yield
    spanline.shutdown()
    _propagate.unpatch_executors()


def _agent_card(run: spanline.Run, agent_id: str) -> dict[str, Any]:
    summary = json.loads(run.summary_path.read_text())
    (card,) = [a for a in summary["agents"] if a["agent_id"] == agent_id]
    return card


def _assert_tools_under(events: list[dict[str, Any]], agent: str, calls: int) -> None:
    parent = one(events, agent)
    tools = named(events, "tool.lookup")
    assert len(tools) == calls
    for tool in tools:
        assert tool["parent"] == parent["span_id"]
        assert tool["attrs"]["gen_ai.agent.id"] == parent["attrs"]["gen_ai.agent.id"]


def test_thread_pool_submit(tmp_path: Path) -> None:
    run = configure(tmp_path)

    @spanline.traced_agent(name="agent", id="reader")
    def agent() -> list[str]:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            return [f.result() for f in [pool.submit(lookup, str(i)) for i in range(5)]]

    assert len(agent()) == 5
    _, events = finish(run)
    _assert_tools_under(events, "agent", 5)
    assert _agent_card(run, "reader")["tool_uses"] == 5


def test_run_in_executor(tmp_path: Path) -> None:
    run = configure(tmp_path)

    @spanline.traced_agent(name="agent", id="looper")
    async def agent() -> list[str]:
        loop = asyncio.get_running_loop()
        default = loop.run_in_executor(None, lookup, "a")
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            own = loop.run_in_executor(pool, lookup, "b")
            return list(await asyncio.gather(default, own))

    assert len(asyncio.run(agent())) == 2
    _, events = finish(run)
    _assert_tools_under(events, "agent", 2)
    assert _agent_card(run, "looper")["tool_uses"] == 2


def test_to_thread(tmp_path: Path) -> None:
    run = configure(tmp_path)

    @spanline.traced_agent(name="agent", id="threader")
    async def agent() -> str:
        return await asyncio.to_thread(lookup, "c")

    asyncio.run(agent())
    _, events = finish(run)
    _assert_tools_under(events, "agent", 1)
    assert _agent_card(run, "threader")["tool_uses"] == 1


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_process_pool(tmp_path: Path, method: str) -> None:
    run = configure(tmp_path)

    @spanline.traced_agent(name="agent", id="forker")
    def agent() -> list[str]:
        context = multiprocessing.get_context(method)
        with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
            return [f.result() for f in [pool.submit(lookup, str(i)) for i in range(4)]]

    results = agent()
    # The tools really ran in other processes.
    assert {r.rsplit("@", 1)[1] for r in results} - {str(os.getpid())}
    _, events = finish(run)
    _assert_tools_under(events, "agent", 4)
    assert _agent_card(run, "forker")["tool_uses"] == 4


def test_two_agents_sharing_a_pool_keep_their_own_tools(tmp_path: Path) -> None:
    """Every one of 2 x 100 tool calls lands under the agent that submitted it."""
    run = configure(tmp_path)
    pool = concurrent.futures.ThreadPoolExecutor(4)

    @spanline.traced_agent(name="agent")
    def agent(agent_id: str) -> None:
        futures = [pool.submit(lookup, f"{agent_id}-{i}") for i in range(100)]
        for future in futures:
            future.result()

    threads = [
        threading.Thread(target=spanline.bind_context(agent), args=(name,))
        for name in ("left", "right")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pool.shutdown()
    _, events = finish(run)
    agents = {a["attrs"]["gen_ai.agent.id"]: a["span_id"] for a in named(events, "agent")}
    tools = named(events, "tool.lookup")
    assert len(tools) == 200
    for tool in tools:
        owner = tool["attrs"]["tool.output_preview"].split("-")[0]
        assert tool["attrs"]["gen_ai.agent.id"] == owner
        assert tool["parent"] == agents[owner]
    assert _agent_card(run, "left")["tool_uses"] == 100
    assert _agent_card(run, "right")["tool_uses"] == 100


def test_opt_out_leaves_pool_work_parentless(tmp_path: Path) -> None:
    run = configure(tmp_path, propagate_executors=False)

    @spanline.traced_agent(name="agent", id="alone")
    def agent() -> None:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(lookup, "x").result()

    agent()
    _, events = finish(run)
    tool = one(events, "tool.lookup")
    assert tool["parent"] is None
    assert "gen_ai.agent.id" not in tool["attrs"]
    assert _agent_card(run, "alone")["tool_uses"] == 0


def test_opt_out_by_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPANLINE_PROPAGATE_EXECUTORS", "0")
    configure(tmp_path)
    assert not _propagate.executors_patched()
    monkeypatch.delenv("SPANLINE_PROPAGATE_EXECUTORS")
    configure(tmp_path)
    assert _propagate.executors_patched()


def test_host_context_variables_keep_the_pools_behaviour(tmp_path: Path) -> None:
    """Only spanline's span and attributes travel: the host's own variables do not."""
    configure(tmp_path)
    host = contextvars.ContextVar("host", default="unset")
    host.set("submitter")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        with spanline.span("outer"):
            seen = pool.submit(host.get).result()
        outside = pool.submit(host.get).result()
    assert seen == outside == "unset"


def test_task_arguments_and_errors_pass_through(tmp_path: Path) -> None:
    configure(tmp_path)

    def divide(a: int, b: int = 1) -> float:
        return a / b

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        with spanline.span("outer"):
            assert pool.submit(divide, 6, b=3).result() == 2
            with pytest.raises(ZeroDivisionError):
                pool.submit(divide, 1, b=0).result()
