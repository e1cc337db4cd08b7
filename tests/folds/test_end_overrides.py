"""A span_end that carries ``kind`` and ``name`` (a span classified when it ended) wins over
its span_start in every reader: summary, lanes, tree, compare, SQL records, MLflow, OTLP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson

from spanline.exporters._otel_mapping import SpanAssembler
from spanline.folds.compare import ProfileFold
from spanline.folds.lanes import lanes
from spanline.folds.mlflow import mlflow_trace
from spanline.folds.records import records_view_sql
from spanline.folds.summary import SummaryFold
from spanline.folds.tree import TreeFold

TRACE = "0" * 31 + "1"
BRIDGED = {"otel.span_kind": "internal"}


def _start(sid: str, parent: str | None, name: str, ts: float) -> dict[str, Any]:
    return {
        "event": "span_start", "span_id": sid, "parent": parent, "trace_id": TRACE,
        "name": name, "component": None, "kind": None, "ts": ts, "attributes": dict(BRIDGED),
    }  # fmt: skip


def _end(sid: str, ts: float, tokens: int = 0, **fields: Any) -> dict[str, Any]:
    attributes = fields.pop("attributes", {})
    return {
        "event": "span_end", "span_id": sid, "status": "ok", "duration_ms": 1000.0,
        "tokens": tokens, "tool_uses": fields.pop("tool_uses", 0), "ts": ts,
        "attributes": attributes, **fields,
    }  # fmt: skip


#: lead (agent) -> researcher (agent) -> chat (llm, 550 tokens) and word_count (tool);
#: every kind known only at the end.
EVENTS = [
    _start("a" * 16, None, "invoke_agent", 1.0),
    _start("b" * 16, "a" * 16, "invoke_agent", 2.0),
    _start("c" * 16, "b" * 16, "chat", 3.0),
    _end("c" * 16, 4.0, 550, kind="llm", attributes={"gen_ai.usage.input_tokens": 400}),
    _start("d" * 16, "b" * 16, "execute_tool", 5.0),
    _end("d" * 16, 6.0, tool_uses=1, kind="tool", name="tool.word_count"),
    _end("b" * 16, 7.0, kind="agent", name="researcher", attributes={"gen_ai.agent.id": "r"}),
    _end("a" * 16, 8.0, kind="agent", name="lead", attributes={"gen_ai.agent.id": "a" * 16}),
]


def test_summary_counts_agents_and_tools_known_at_the_end() -> None:
    fold = SummaryFold()
    fold.extend(EVENTS)
    summary = fold.result()
    assert [(a.name, a.kind, a.agent_id) for a in summary.agents] == [
        ("lead", "agent", "a" * 16),
        ("researcher", "agent", "r"),
    ]
    assert [(a.tokens, a.tool_uses) for a in summary.agents] == [(550, 1), (550, 1)]
    assert summary.totals.agents_spawned == 2
    assert summary.totals.total_tool_uses == 1
    assert list(summary.tools) == ["word_count"]
    assert summary.totals.llm_calls_without_usage == 0


def test_lanes_tree_and_compare_use_the_final_kind_and_name() -> None:
    assert [lane["name"] for lane in lanes(EVENTS)] == ["lead", "researcher"]
    tree = TreeFold()
    tree.extend(EVENTS)
    (root,) = tree.result().select(depth=None).roots
    assert (root.name, root.kind) == ("lead", "agent")
    (researcher,) = root.children
    assert [(c.name, c.kind) for c in researcher.children] == [
        ("chat", "llm"),
        ("tool.word_count", "tool"),
    ]
    profile = ProfileFold()
    profile.extend(EVENTS)
    assert profile.result().sections["agent_kind"]["agent"].count == 2


def test_mlflow_and_otlp_exports_use_the_final_kind_and_name() -> None:
    spans = mlflow_trace(EVENTS, run_id="r")["data"]["spans"]
    types = {s["name"]: json.loads(s["attributes"]["mlflow.spanType"]) for s in spans}
    assert types == {
        "lead": "AGENT",
        "researcher": "AGENT",
        "chat": "LLM",
        "tool.word_count": "TOOL",
    }
    assembler = SpanAssembler()
    finished = [span for event in EVENTS if (span := assembler.add(event)) is not None]
    assert {(s.name, s.attributes.get("spanline.kind")) for s in finished} == {
        ("lead", "agent"),
        ("researcher", "agent"),
        ("chat", "llm"),
        ("tool.word_count", "tool"),
    }


def test_sql_records_use_the_final_kind_and_name(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "telemetry.jsonl"
    path.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in EVENTS))
    connection = duckdb.connect()
    connection.execute(records_view_sql([("r", path)]))
    rows = connection.execute(
        "SELECT span_name, kind, agent_id FROM records ORDER BY start_timestamp"
    ).fetchall()
    assert rows == [
        ("lead", "agent", "a" * 16),
        ("researcher", "agent", "r"),
        ("chat", "llm", None),
        ("tool.word_count", "tool", None),
    ]


def test_a_duplicate_llm_span_is_no_call_without_usage() -> None:
    """Its usage is another span's: nulled attributes, no tokens, not a missing usage."""
    kept = {**_start("e" * 16, None, "llm.openai.chat.completions.create", 1.0), "kind": "llm"}
    duplicate = {**_start("f" * 16, None, "chat", 2.0), "kind": "llm"}
    duplicate["attributes"]["gen_ai.usage.input_tokens"] = 400  # known at its start
    nulled = {"gen_ai.usage.input_tokens": None, "spanline.duplicate_of": "e" * 16}
    fold = SummaryFold()
    fold.extend(
        [
            kept,
            _end("e" * 16, 1.5, 550, attributes={"gen_ai.usage.input_tokens": 400}),
            duplicate,
            _end("f" * 16, 2.5, attributes=nulled),
        ]
    )
    totals = fold.result().totals
    assert (totals.total_tokens, totals.tokens_by_type.input) == (550, 400)
    assert totals.llm_calls_without_usage == 0
