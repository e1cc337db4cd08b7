"""The summary fold: an LLM span whose usage a nested instrumented call holds is no miss."""

from __future__ import annotations

from typing import Any

import pytest

from spanline.folds import summarize
from spanline.schema import USAGE_ON_CHILD
from tests.folds.test_summary import end, start

USAGE = {"gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20}


def _run(outer_start: dict[str, Any], outer_end: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"event": "run_start", "run_id": "r-1", "pid": 1, "ts": 0.0},
        start("outer", "llm.ask", "llm", ts=0.1, **outer_start),
        start("inner", "llm.openai.chat.completions.create", "llm", parent="outer", ts=0.2),
        {**end("inner", 5.0, ts=0.3, tokens=120), "attributes": USAGE},
        {**end("outer", 9.0, ts=0.4), "attributes": outer_end},
        {"event": "process_end", "pid": 1, "ts": 0.5},
    ]


# A start attribute the fold must keep until the end (a cost) takes its merging path;
# a model only takes the fast one.
PATHS = [{"gen_ai.request.model": "gpt-4o"}, {"gen_ai.usage.cost_usd": 0.0}]


@pytest.mark.parametrize("outer_start", PATHS)
def test_marked_outer_span_is_not_a_call_without_usage(outer_start: dict[str, Any]) -> None:
    totals = summarize(_run(outer_start, {USAGE_ON_CHILD: True})).totals
    assert totals.llm_calls_without_usage == 0
    assert totals.total_tokens == 120 and totals.tokens_by_type.input == 100


@pytest.mark.parametrize("outer_start", PATHS)
def test_unmarked_outer_span_without_usage_is_counted(outer_start: dict[str, Any]) -> None:
    totals = summarize(_run(outer_start, {})).totals
    assert totals.llm_calls_without_usage == 1
    assert totals.total_tokens == 120
