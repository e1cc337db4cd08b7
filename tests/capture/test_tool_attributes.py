"""Tool spans answer the usual queries in every capture mode: previews always, full
values on top in full mode, and the true size of large outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

import spanline
from tests._helpers import configure, finish, one


@pytest.mark.parametrize("mode", ["preview", "full"])
def test_previews_are_present_in_every_mode_but_off(tmp_path: Path, mode: str) -> None:
    run = configure(tmp_path, capture=mode)

    @spanline.traced_tool
    def search(query: str) -> dict[str, list[int]]:
        return {"hits": list(range(50))}

    search("needle")
    _, events = finish(run)
    attrs = one(events, "tool.search")["attrs"]
    assert attrs["tool.arguments_preview"] == "{'query': 'needle'}"
    assert attrs["tool.output_preview"].startswith("{'hits': [0, 1, 2")
    if mode == "full":
        assert attrs["input.value"] == {"query": "needle"}
        assert attrs["output.value"] == {"hits": list(range(50))}
    else:
        assert "input.value" not in attrs and "output.value" not in attrs


def test_capture_off_records_no_values(tmp_path: Path) -> None:
    run = configure(tmp_path, capture="off")

    @spanline.traced_tool
    def search(query: str) -> str:
        return "result"

    search("needle")
    _, events = finish(run)
    attrs = one(events, "tool.search")["attrs"]
    captured = {"tool.arguments_preview", "tool.output_preview", "input.value", "output.value"}
    assert not captured & attrs.keys()
    assert attrs["tool.output_chars"] == len("result")


def test_output_chars_is_the_true_length_of_large_outputs(tmp_path: Path) -> None:
    run = configure(tmp_path)
    big = list(range(20_000))  # str(big) is far longer than any preview cap

    @spanline.traced_tool
    def dump() -> list[int]:
        return big

    @spanline.traced_tool
    def text() -> str:
        return "x" * 50_000

    dump()
    text()
    _, events = finish(run)
    assert one(events, "tool.dump")["attrs"]["tool.output_chars"] == len(str(big))
    assert one(events, "tool.text")["attrs"]["tool.output_chars"] == 50_000
