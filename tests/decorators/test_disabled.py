"""Doing nothing costs almost nothing: decorated functions and spans while tracing is off.

Cost is counted, never timed: a profiler counts the Python-level calls one disabled
call makes. A decorated function checks one flag and calls straight through; it
keeps its own parameters, so it behaves exactly as the bare function, and it is
traced once tracing starts later (late configuration).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import spanline
from spanline._hotpath._runtime import RUNTIME
from tests._helpers import configure, finish, spans


def _python_calls(action: Callable[[], object]) -> int:
    """How many Python functions run (frames entered) while ``action`` runs."""
    calls = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event == "call":
            calls += 1

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return calls - 1  # the action itself


def _settle_off() -> None:
    """Tracing off for good: the environment read, no run (the first call does this)."""
    spanline.shutdown()
    assert RUNTIME.off


def test_a_disabled_decorated_call_is_one_frame_more_than_a_bare_call() -> None:
    def bare(x: int, y: int = 2) -> int:
        return x + y

    tool, agent, llm = (
        spanline.traced_tool(bare),
        spanline.traced_agent(bare),
        spanline.traced_llm(bare),
    )
    _settle_off()
    assert _python_calls(lambda: bare(1)) == 1
    for decorated in (tool, agent, llm):
        assert decorated(1) == 3
        assert _python_calls(lambda d=decorated: d(1)) == 2  # type: ignore[misc]


def test_a_disabled_async_decorated_call_is_one_frame_more_than_a_bare_call() -> None:
    async def bare(x: int) -> int:
        return x

    tool = spanline.traced_tool(bare)
    _settle_off()

    def drive(function: Callable[[int], Any]) -> None:
        coroutine = function(7)
        try:
            coroutine.send(None)
        except StopIteration:
            return
        raise AssertionError("the coroutine did not finish")

    assert _python_calls(lambda: drive(tool)) == _python_calls(lambda: drive(bare)) + 1
    assert asyncio.run(tool(7)) == 7


def test_a_disabled_span_costs_what_nullcontext_costs() -> None:
    tracer = spanline.get_tracer()
    _settle_off()

    def disabled() -> None:
        with tracer.span("nothing", kind="tool"):
            pass

    def null() -> None:
        with contextlib.nullcontext():
            pass

    assert _python_calls(disabled) <= _python_calls(null) == 3


def test_the_flag_is_off_only_while_tracing_is_off_for_good(tmp_path: Path) -> None:
    RUNTIME.resolved = False  # SPANLINE_ENABLED not read yet: the first call reads it
    assert not RUNTIME.off
    run = configure(tmp_path)
    assert not RUNTIME.off
    finish(run)
    assert RUNTIME.off


@pytest.mark.parametrize("make", [spanline.traced_tool, spanline.traced_agent])
def test_decorated_functions_keep_their_parameters_on_and_off(
    tmp_path: Path, make: Callable[[Any], Any]
) -> None:
    def shapes(
        a: Any, b: Any = "b", /, c: Any = "c", *rest: Any, d: Any, e: Any = "e", **more: Any
    ):
        return (a, b, c, rest, d, e, more)

    decorated = make(shapes)
    assert inspect.signature(decorated) == inspect.signature(shapes)
    assert decorated.__name__ == "shapes"
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        ((1,), {"d": 4}),
        ((1, 2, 3, 9, 9), {"d": 4, "e": 5, "f": 6}),
        ((1,), {"c": 3, "d": 4}),
    ]

    def outcomes() -> list[Any]:
        return [decorated(*args, **kwargs) for args, kwargs in calls]

    expected = [shapes(*args, **kwargs) for args, kwargs in calls]
    _settle_off()
    assert outcomes() == expected
    for wrong in (lambda: decorated(1), lambda: decorated(a=1, d=4)):
        with pytest.raises(TypeError, match=r"shapes\(\)"):
            wrong()
    run = configure(tmp_path)  # decorated before, traced now
    assert outcomes() == expected
    _, events = finish(run)
    assert len(spans(events)) == len(calls)


def test_mutable_defaults_are_the_functions_own() -> None:
    def append(item: int, into: list[int] = []) -> list[int]:  # noqa: B006
        into.append(item)
        return into

    decorated = spanline.traced_tool(append)
    _settle_off()
    assert decorated(1) is decorated(2) is append(3)
    assert append(4) == [1, 2, 3, 4]


def test_methods_and_late_configuration(tmp_path: Path) -> None:
    class Agent:
        def __init__(self) -> None:
            self.seen: list[str] = []

        @spanline.traced_agent
        def act(self, task: str, *, agent_id: str = "a1") -> str:
            self.seen.append(task)
            return agent_id

    agent = Agent()
    _settle_off()
    assert agent.act("off") == "a1"
    run = configure(tmp_path)
    assert agent.act("on", agent_id="a2") == "a2"
    _, events = finish(run)
    (span,) = spans(events).values()
    assert span["attrs"]["gen_ai.agent.id"] == "a2"
    assert agent.seen == ["off", "on"]
