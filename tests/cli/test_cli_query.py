"""``spanline query``: SQL over the ``records`` view, through the real entry point.

The run is ``examples/query_run.py`` (deterministic: ids 1, 2, 3…, one second
per clock reading), so every expected row below is exact. MassGen's seven
example Logfire queries run with one change, ``massgen.agent_id`` ->
``gen_ai.agent.id``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from spanline.folds.records import RECORDS_COLUMNS, records_view_sql
from tests._extras import install_hint
from tests._helpers import ROOT, heavy_imports, read_lines, run_cli, run_interpreter

EXAMPLE = ROOT / "examples" / "query_run.py"

SLOWEST_TOOLS = """
SELECT
  attributes->>'tool.name' as tool_name,
  (attributes->>'tool.execution_time_ms')::float as execution_time_ms,
  attributes->>'gen_ai.agent.id' as agent_id
FROM records
WHERE attributes->>'tool.type' = 'mcp'
ORDER BY (attributes->>'tool.execution_time_ms')::float DESC
"""
FAILED_TOOLS = """
SELECT
  attributes->>'tool.name' as tool_name,
  attributes->>'tool.arguments_preview' as arguments_preview,
  attributes->>'tool.error_message' as error_message,
  attributes->>'gen_ai.agent.id' as agent_id
FROM records
WHERE attributes->>'tool.success' = 'false'
"""
LARGE_OUTPUTS = """
SELECT
  attributes->>'mcp.server' as server_name,
  attributes->>'tool.name' as tool_name,
  (attributes->>'tool.output_chars')::int as output_chars,
  attributes->>'gen_ai.agent.id' as agent_id
FROM records
WHERE (attributes->>'tool.output_chars')::int > 10000
ORDER BY (attributes->>'tool.output_chars')::int DESC
"""
FAILURE_PATTERNS = """
SELECT
  attributes->>'tool.arguments_preview' as arguments_preview,
  COUNT(*) as fail_count
FROM records
WHERE attributes->>'tool.success' = 'false'
GROUP BY attributes->>'tool.arguments_preview'
ORDER BY fail_count DESC
"""
BY_SERVER = """
SELECT
  attributes->>'mcp.server' as server_name,
  COUNT(*) as calls,
  AVG((attributes->>'tool.execution_time_ms')::float) as avg_time_ms
FROM records
WHERE attributes->>'tool.type' = 'mcp'
GROUP BY attributes->>'mcp.server'
"""
LLM_BY_AGENT = """
SELECT
  attributes->>'gen_ai.agent.id' as agent_id,
  attributes->>'llm.model' as model,
  COUNT(*) as calls
FROM records
WHERE span_name LIKE 'llm.%'
GROUP BY attributes->>'gen_ai.agent.id', attributes->>'llm.model'
"""
AGENT_ACTIVITY = """
SELECT span_name, start_timestamp, duration
FROM records
WHERE attributes->>'gen_ai.agent.id' = 'agent_a'
ORDER BY start_timestamp
"""
READ = "mcp__filesystem__read_file"
MISSING = "FileNotFoundError: no such file: CHANGES.md"
CHANGES = "{'path': 'CHANGES.md'}"


def at(second: int) -> str:
    """The ISO timestamp of the deterministic clock's reading ``second``."""
    import datetime

    moment = datetime.datetime.fromtimestamp(1_700_000_000 + second, datetime.timezone.utc)
    return moment.isoformat()


#: (query, expected rows as JSON, whether the query orders its rows)
EXAMPLES: dict[str, tuple[str, list[dict[str, Any]], bool]] = {
    "slowest tool calls": (
        SLOWEST_TOOLS,
        [
            {"tool_name": READ, "execution_time_ms": 8000.0, "agent_id": "agent_b"},
            {"tool_name": READ, "execution_time_ms": 4000.0, "agent_id": "agent_a"},
            {"tool_name": READ, "execution_time_ms": 3000.0, "agent_id": "agent_b"},
            {"tool_name": READ, "execution_time_ms": 2000.0, "agent_id": "agent_a"},
            {
                "tool_name": "mcp__github__search_code",
                "execution_time_ms": 1000.0,
                "agent_id": "agent_a",
            },
        ],
        True,
    ),
    "failed tools with their arguments": (
        FAILED_TOOLS,
        [
            {
                "tool_name": READ,
                "arguments_preview": CHANGES,
                "error_message": MISSING,
                "agent_id": "agent_a",
            },
            {
                "tool_name": READ,
                "arguments_preview": CHANGES,
                "error_message": MISSING,
                "agent_id": "agent_b",
            },
            {
                "tool_name": "summarize_notes",
                "arguments_preview": "{'notes': ''}",
                "error_message": "ValueError: nothing to summarize",
                "agent_id": "agent_b",
            },
        ],
        False,
    ),
    "tools with large outputs": (
        LARGE_OUTPUTS,
        [
            {
                "server_name": "filesystem",
                "tool_name": READ,
                "output_chars": 31000,
                "agent_id": "agent_b",
            },
            {
                "server_name": "filesystem",
                "tool_name": READ,
                "output_chars": 12500,
                "agent_id": "agent_a",
            },
        ],
        True,
    ),
    "arguments that lead to failures": (
        FAILURE_PATTERNS,
        [
            {"arguments_preview": CHANGES, "fail_count": 2},
            {"arguments_preview": "{'notes': ''}", "fail_count": 1},
        ],
        True,
    ),
    "tool usage by MCP server": (
        BY_SERVER,
        [
            {"server_name": "filesystem", "calls": 4, "avg_time_ms": 4250.0},
            {"server_name": "github", "calls": 1, "avg_time_ms": 1000.0},
        ],
        False,
    ),
    "LLM calls by agent": (
        LLM_BY_AGENT,
        [
            {"agent_id": "agent_a", "model": "claude-sonnet-4-5", "calls": 1},
            {"agent_id": "agent_b", "model": "gpt-4o", "calls": 2},
        ],
        False,
    ),
    "all activity for one agent": (
        AGENT_ACTIVITY,
        [
            {"span_name": "researcher", "start_timestamp": at(4), "duration": 32.0},
            {"span_name": "llm.plan", "start_timestamp": at(7), "duration": 3.0},
            {
                "span_name": "tool.mcp__github__search_code",
                "start_timestamp": at(12),
                "duration": 3.0,
            },
            {"span_name": f"tool.{READ}", "start_timestamp": at(17), "duration": 6.0},
            {"span_name": f"tool.{READ}", "start_timestamp": at(25), "duration": 4.0},
            {"span_name": "tool.summarize_notes", "start_timestamp": at(31), "duration": 3.0},
        ],
        True,
    ),
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The base directory holding the example's run."""
    base = tmp_path_factory.mktemp("query")
    result = run_interpreter(str(EXAMPLE), str(base), cwd=base)
    assert result.returncode == 0, result.stderr
    return base


def query_json(base: Path, sql: str, *args: str) -> list[dict[str, Any]]:
    result = run_cli("query", sql, *args, "--json", "--dir", str(base))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def by_value(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(orjson.dumps(row, option=orjson.OPT_SORT_KEYS).decode() for row in rows)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_example_logfire_query(demo: Path, name: str) -> None:
    sql, expected, ordered = EXAMPLES[name]
    rows = query_json(demo, sql)
    if ordered:
        assert rows == expected
    else:
        assert by_value(rows) == by_value(expected)


def test_records_has_the_logfire_columns_and_types(demo: Path) -> None:
    rows = query_json(demo, "DESCRIBE records")
    assert [(r["column_name"], r["column_type"]) for r in rows] == [
        (c.name, "TIMESTAMP WITH TIME ZONE" if c.type == "TIMESTAMPTZ" else c.type)
        for c in RECORDS_COLUMNS
    ]


def test_one_row_per_span_with_errors_and_merged_attributes(demo: Path) -> None:
    rows = query_json(demo, "SELECT * FROM records ORDER BY start_timestamp")
    events = read_lines(demo / "runs" / "query-demo" / "telemetry.jsonl")
    starts = [e for e in events if e["event"] == "span_start"]
    assert [r["span_id"] for r in rows] == [s["span_id"] for s in starts]
    failed = [r for r in rows if r["level"] == "error"]
    assert [(r["span_name"], r["status"], r["is_exception"]) for r in failed] == [
        (f"tool.{READ}", "error", True),
        (f"tool.{READ}", "error", True),
        ("tool.summarize_notes", "error", True),
    ]
    assert [r["exception_type"] for r in failed] == ["FileNotFoundError"] * 2 + ["ValueError"]
    assert failed[0]["exception_message"] == "no such file: CHANGES.md"
    ok = [r for r in rows if r["level"] == "info"]
    assert {r["status"] for r in ok} == {"ok"}
    assert not any(r["is_exception"] or r["exception_type"] for r in ok)
    root, agent = rows[0], rows[1]
    assert root["parent_span_id"] is None and agent["parent_span_id"] == root["span_id"]
    assert root["kind"] == "phase" and agent["kind"] == "agent" and root["agent_id"] is None
    assert {r["run_id"] for r in rows} == {"query-demo"}
    assert {r["trace_id"] for r in rows} == {starts[0]["trace_id"]}
    tool = rows[3]  # the search: start attributes and end attributes in one object
    assert tool["attributes"]["tool.arguments_preview"] == "{'query': 'encoder', 'repo': 'eigenda'}"
    assert tool["attributes"]["tool.success"] is True and tool["agent_id"] == "agent_a"
    assert tool["end_timestamp"] == at(15) and tool["duration"] == 3.0


def write_lines(path: Path, events: list[dict[str, Any]], tail: bytes = b"") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = b"".join(orjson.dumps(e, option=orjson.OPT_APPEND_NEWLINE) for e in events)
    path.write_bytes(body + tail)


def span(span_id: str, ts: float, start: dict[str, Any], **end: Any) -> list[dict[str, Any]]:
    """A span_start with ``start`` attributes and, when ``end`` has a status, its span_end."""
    lines = [{"event": "span_start", "span_id": span_id, "parent": None, "trace_id": "ab" * 16,
              "name": f"s{span_id}", "component": None, "kind": "tool", "ts": ts,
              "attributes": start}]  # fmt: skip
    if end.get("status") is not None:
        lines.append({"event": "span_end", "span_id": span_id, "duration_ms": 1500.0,
                      "tokens": 0, "tool_uses": 0, "ts": ts + 1.5, **end})  # fmt: skip
    return lines


def test_late_keys_torn_line_open_spans_and_end_wins(tmp_path: Path) -> None:
    """Keys first seen after DuckDB's inference sample, a torn last line, an open span."""
    events: list[dict[str, Any]] = [{"event": "run_start", "run_id": "late", "ts": 0.0}]
    for number in range(1, 25_001):  # more lines than DuckDB samples to infer a schema
        events += span(f"{number:016x}", float(number), {"n": number}, status="ok", attributes={})
    late = f"{25_001:016x}"
    events += span(late, 30_000.0, {"x": 1, "gen_ai.agent.id": "a"}, status="error",
                   attributes={"x": 2, "added": "late"},
                   error={"type": "KeyError", "message": "'k'", "stacktrace": "..."})  # fmt: skip
    events += span(f"{25_002:016x}", 30_001.0, {"open": True})  # never ended
    run = tmp_path / "runs" / "late"
    write_lines(run / "telemetry.jsonl", events, tail=b'{"event":"span_end","span_id":"00')
    sql = "SELECT * FROM records WHERE span_id >= '" + late + "' ORDER BY span_id"
    rows = query_json(tmp_path, sql, str(run))
    assert [r["span_id"] for r in rows] == [late, f"{25_002:016x}"]
    failed, still_open = rows
    assert failed["attributes"] == {"x": 2, "gen_ai.agent.id": "a", "added": "late"}
    assert (failed["exception_type"], failed["exception_message"]) == ("KeyError", "'k'")
    assert failed["level"] == "error" and failed["agent_id"] == "a"
    assert failed["duration"] == 1.5
    assert still_open["status"] is None and still_open["end_timestamp"] is None
    assert still_open["duration"] is None and still_open["level"] == "info"
    assert still_open["attributes"] == {"open": True}
    (count,) = query_json(tmp_path, "SELECT count(*) AS n FROM records", str(run))
    assert count == {"n": 25_002}


def test_all_runs_keeps_spans_of_each_run_apart(tmp_path: Path) -> None:
    """Two runs with the same span ids: one row per span and run, none joined across."""
    for run_id, seconds in (("svc-20260101T000000-000001", 1), ("svc-20260102T000000-000002", 2)):
        events = [{"event": "run_start", "run_id": run_id, "ts": 0.0}]
        events += span("0000000000000001", 10.0 * seconds, {"run": run_id}, status="ok",
                       attributes={"seconds": seconds})  # fmt: skip
        write_lines(tmp_path / "runs" / run_id / "telemetry.jsonl", events)
    sql = (
        "SELECT run_id, attributes->>'run' AS run, (attributes->>'seconds')::int AS s FROM records"
    )
    rows = query_json(tmp_path, sql, "--all-runs")
    assert by_value(rows) == by_value(
        [
            {"run_id": "svc-20260101T000000-000001", "run": "svc-20260101T000000-000001", "s": 1},
            {"run_id": "svc-20260102T000000-000002", "run": "svc-20260102T000000-000002", "s": 2},
        ]
    )
    (latest,) = query_json(tmp_path, "SELECT run_id FROM records")
    assert latest == {"run_id": "svc-20260102T000000-000002"}
    by_id = query_json(tmp_path, "SELECT run_id FROM records", "svc-20260101T000000-000001")
    assert by_id == [{"run_id": "svc-20260101T000000-000001"}]


def test_records_carry_each_spans_session_and_its_runs_turn_and_attempt(tmp_path: Path) -> None:
    """The turn and attempt are the run header's, on the spans of the header's session
    only: a span another session's block opened in the same run has none."""
    run_id = "svc-20260101T000000-000003"
    events = [{"event": "run_start", "run_id": run_id, "ts": 0.0, "session_id": "chat",
               "turn": 2, "attempt": 3}]  # fmt: skip
    events += span("0000000000000001", 1.0, {"session.id": "chat"}, status="ok", attributes={})
    events += span("0000000000000002", 2.0, {"session.id": "other"}, status="ok", attributes={})
    events += span("0000000000000003", 3.0, {}, status="ok", attributes={})
    write_lines(tmp_path / "runs" / run_id / "telemetry.jsonl", events)
    sql = "SELECT span_id, session_id, turn, attempt FROM records ORDER BY span_id"
    assert query_json(tmp_path, sql) == [
        {"span_id": "0000000000000001", "session_id": "chat", "turn": 2, "attempt": 3},
        {"span_id": "0000000000000002", "session_id": "other", "turn": None, "attempt": None},
        {"span_id": "0000000000000003", "session_id": None, "turn": None, "attempt": None},
    ]


def test_table_output_is_plain_text_when_piped(demo: Path) -> None:
    result = run_cli("--dir", str(demo), "query", LLM_BY_AGENT)
    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stdout
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[0].split() == ["agent_id", "model", "calls"]
    assert sorted(line.split() for line in lines[2:4]) == [
        ["agent_a", "claude-sonnet-4-5", "1"],
        ["agent_b", "gpt-4o", "2"],
    ]
    assert lines[4] == "(2 rows)"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("SELEC 1",), 2, 'spanline: error: Parser Error: syntax error at or near "SELEC"'),
        (("SELECT nope FROM records",), 2, "spanline: error: Binder Error: Referenced column"),
        (("SELECT 1", "latest", "--all-runs"), 2, "spanline: error: give a RUN or --all-runs"),
        (("SELECT 1", "../x"), 2, "spanline: error: no run at ../x"),
        (("SELECT 1", "bad id"), 2, "spanline: error: "),
    ],
)
def test_errors_are_one_line(demo: Path, args: tuple[str, ...], code: int, message: str) -> None:
    result = run_cli("--dir", str(demo), "query", *args)
    assert result.returncode == code, result.stderr
    assert result.stderr.startswith(message), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_no_runs_and_no_log(tmp_path: Path) -> None:
    result = run_cli("--dir", str(tmp_path), "query", "SELECT 1", "--all-runs")
    assert result.returncode == 2
    assert result.stderr == f"spanline: error: no runs under {tmp_path / 'runs'}\n"
    (tmp_path / "runs" / "svc-20260101T000000-000001").mkdir(parents=True)
    result = run_cli("--dir", str(tmp_path), "query", "SELECT 1")
    assert result.returncode == 2 and "no telemetry.jsonl in" in result.stderr


def test_empty_log_gives_no_rows(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "svc-20260101T000000-000001"
    run.mkdir(parents=True)
    (run / "telemetry.jsonl").write_bytes(b"")
    assert query_json(tmp_path, "SELECT * FROM records") == []
    (run / "telemetry.jsonl").write_bytes(bytes(range(256)) * 20)  # binary garbage
    assert query_json(tmp_path, "SELECT count(*) AS n FROM records") == [{"n": 0}]


def test_missing_duckdb_names_the_extra(tmp_path: Path, demo: Path) -> None:
    blocker = tmp_path / "blocker"
    (blocker / "duckdb").mkdir(parents=True)
    (blocker / "duckdb" / "__init__.py").write_text("raise ImportError('No module named duckdb')\n")
    result = run_interpreter(
        "-m", "spanline", "--dir", str(demo), "query", "SELECT 1",
        env={"PYTHONPATH": str(blocker)},
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr == (
        f"spanline: error: spanline query needs DuckDB: {install_hint('query')}\n"
    )


def test_the_view_module_does_not_import_duckdb() -> None:
    assert heavy_imports("import spanline.folds.records", {"duckdb"}) == []
    with pytest.raises(ValueError, match="at least one run"):
        records_view_sql([])
    sql = records_view_sql([("it's", "/tmp/o'brien/telemetry.jsonl")])
    assert "'it''s'" in sql and "'/tmp/o''brien/telemetry.jsonl'" in sql


DOC = ROOT / "docs" / "query.md"
DOC_EXAMPLE = re.compile(r"```sql\n(?P<sql>.*?)```\n\n```text\n(?P<output>.*?)```", re.DOTALL)


def table_lines(text: str, ordered: bool) -> list[str]:
    """The table's lines without trailing blanks; body rows sorted when order is not asked."""
    lines = [line.rstrip() for line in text.strip("\n").splitlines()]
    if not ordered:
        lines[2:-1] = sorted(lines[2:-1])  # header, rule, rows..., "(N rows)"
    return lines


def test_doc_shows_each_example_query_with_its_real_output(demo: Path) -> None:
    """docs/query.md: every example query and its output, regenerated from the example run."""
    shown = [(m["sql"].strip(), m["output"]) for m in DOC_EXAMPLE.finditer(DOC.read_text())]
    assert [sql for sql, _ in shown] == [sql.strip() for sql, _, _ in EXAMPLES.values()]
    for sql, output in shown:
        result = run_cli("--dir", str(demo), "query", sql)
        assert result.returncode == 0, result.stderr
        ordered = "ORDER BY" in sql
        assert table_lines(result.stdout, ordered) == table_lines(output, ordered), sql


def test_doc_lists_the_view_columns() -> None:
    rows = re.findall(r"^\| `(\w+)` \| (\w+) \| (.+) \|$", DOC.read_text(), re.MULTILINE)
    assert rows == [(c.name, c.type, c.meaning) for c in RECORDS_COLUMNS]
