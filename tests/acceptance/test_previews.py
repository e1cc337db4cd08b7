"""Previews of hostile values are bounded and never raise."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import spanline
from tests._helpers import configure, finish, one

BIG = "a" * (10 * 1024 * 1024)


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr exploded")

    def __str__(self) -> str:
        raise RuntimeError("str exploded")


class BadStr(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no message for you")


class BadMapping(dict):
    def items(self):  # type: ignore[override]
        raise RuntimeError("items exploded")

    def __len__(self) -> int:
        raise RuntimeError("len exploded")


def _hostile() -> dict[str, object]:
    cyclic: dict[str, object] = {"name": "me"}
    cyclic["self"] = cyclic
    looped: list[object] = [1]
    looped.append(looped)
    deep: list[object] = []
    node = deep
    for _ in range(5_000):
        child: list[object] = []
        node.append(child)
        node = child
    return {
        "big": BIG,
        "big_bytes": BIG.encode(),
        "cyclic": cyclic,
        "looped": looped,
        "bad_repr": BadRepr(),
        "deep": deep,
        "bad_mapping": BadMapping(a=1),
        "generator": (i for i in range(3)),
    }


@pytest.mark.parametrize(
    ("mode", "max_line"), [("preview", 20_000), ("full", 3_000_000), ("off", 5_000)]
)
def test_hostile_arguments_and_results_are_bounded(
    mode: str, max_line: int, tmp_path: Path
) -> None:
    values = _hostile()
    run = configure(tmp_path, capture=mode)

    @spanline.traced_tool
    def tool(value: object) -> object:
        return value

    @spanline.traced_llm(model="gpt-4o")
    async def llm(value: object) -> object:
        return value

    @spanline.traced_agent
    def agent(value: object) -> object:
        return value

    for name, value in values.items():
        assert tool(value) is value
        if name != "generator":  # an LLM's returned iterator is a stream (wrapped)
            assert asyncio.run(llm(value)) is value
        assert agent(value) is value
        with spanline.span(f"manual-{name}", value_kind=name):
            pass
    assert list(values["generator"]) == [0, 1, 2]  # capturing did not consume it

    @spanline.traced_tool
    def raises() -> None:
        raise BadStr()

    with pytest.raises(BadStr):
        raises()
    summary, events = finish(run)  # every line parses and validates
    sizes = [len(line) for line in run.telemetry_path.read_bytes().splitlines()]
    assert max(sizes) <= max_line
    assert summary.span_count == 3 * len(values) - 1 + len(values) + 1
    error = one(events, "tool.raises")["end"]["error"]
    assert error["type"].endswith("BadStr") and isinstance(error["message"], str)
    if mode == "preview":
        starts = [e for e in events if e["event"] == "span_start" and e["name"] == "tool.tool"]
        previews = [e["attributes"]["tool.arguments_preview"] for e in starts]
        assert all(isinstance(p, str) and len(p) <= 200 for p in previews)
        assert any("<cycle>" in p for p in previews)
        assert any("BadRepr" in p for p in previews)
        assert starts[0]["attributes"]["tool.input_chars"] == len("value") + len(BIG)


def test_preview_length_follows_the_setting(tmp_path: Path) -> None:
    run = configure(tmp_path, preview_chars=50)

    @spanline.traced_tool
    def tool(value: str) -> str:
        return value * 2

    tool("b" * 1_000)
    _, events = finish(run)
    attrs = one(events, "tool.tool")["attrs"]
    assert 0 < len(attrs["tool.arguments_preview"]) <= 50
    assert 0 < len(attrs["tool.output_preview"]) <= 50
    assert attrs["tool.output_chars"] == 2_000
