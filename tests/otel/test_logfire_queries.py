"""MassGen's seven example Logfire queries over what the Logfire exporter sends.

The example run (``examples/query_run.py``) goes through the Logfire exporter to the
in-process OTLP receiver at the overridden base URL. Its spans and logs are loaded into a
DuckDB ``records`` table shaped as Logfire stores them (attributes as one JSON object,
JSON-text attributes parsed as ``logfire.json_schema`` says; pending spans are not
records), and the queries run there, as written except ``massgen.agent_id`` ->
``gen_ai.agent.id``. Their rows equal those of ``spanline query`` over the JSONL log.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from tests._helpers import ROOT, read_lines, run_interpreter
from tests.cli.test_cli_query import EXAMPLES, at, by_value
from tests.otel._receiver import receiver
from tests.otel.test_logfire import TOKEN, attrs

duckdb = pytest.importorskip("duckdb")


def _record(span: Any) -> dict[str, Any] | None:
    attributes = attrs(span)
    if attributes["logfire.span_type"] == "pending_span":
        return None
    schema = json.loads(attributes.get("logfire.json_schema", '{"properties": {}}'))
    for key in schema["properties"]:
        attributes[key] = json.loads(attributes[key])
    return {
        "span_type": attributes["logfire.span_type"],
        "span_name": span.name,
        "start": span.start_time_unix_nano,
        "duration": (span.end_time_unix_nano - span.start_time_unix_nano) / 1e9,
        "attributes": json.dumps(attributes),
    }


def _connect(rows: list[dict[str, Any]]) -> Any:
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    db.execute("CREATE TABLE raw (span_name TEXT, start BIGINT, duration DOUBLE, attributes JSON)")
    db.executemany(
        "INSERT INTO raw VALUES (?, ?, ?, ?)",
        [[r["span_name"], r["start"], r["duration"], r["attributes"]] for r in rows],
    )
    db.execute(
        "CREATE VIEW records AS SELECT span_name, make_timestamptz(start // 1000) "
        "AS start_timestamp, duration, attributes FROM raw"
    )
    return db


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """(records of spans only, records of spans and logs, the run's JSONL lines)."""
    base = tmp_path_factory.mktemp("logfire-queries")
    with receiver() as rx:
        result = run_interpreter(
            str(ROOT / "examples" / "query_run.py"),
            str(base),
            cwd=base,
            env={
                "SPANLINE_EXPORTERS": "logfire",
                "LOGFIRE_TOKEN": TOKEN,
                "LOGFIRE_BASE_URL": rx.endpoint.removesuffix("/v1/traces"),
            },
        )
        assert result.returncode == 0, result.stderr
        received = list(rx.spans)
    assert {h["authorization"] for h in rx.headers} == {TOKEN}
    rows = [row for row in map(_record, received) if row is not None]
    spans = [row for row in rows if row["span_type"] == "span"]
    assert len(spans) > 10 and len(rows) > len(spans)
    spans_only, with_logs = _connect(spans), _connect(rows)
    yield spans_only, with_logs, read_lines(base / "runs" / "query-demo" / "telemetry.jsonl")
    spans_only.close()
    with_logs.close()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc).isoformat()
    return value


def _rows(db: Any, sql: str) -> list[dict[str, Any]]:
    cursor = db.execute(sql)
    columns = [d[0] for d in cursor.description]
    return [{c: _plain(v) for c, v in zip(columns, row, strict=True)} for row in cursor.fetchall()]


def _same(rows: list[dict[str, Any]], expected: list[dict[str, Any]], ordered: bool) -> None:
    assert rows
    if ordered:
        assert rows == expected
    else:
        assert by_value(rows) == by_value(expected)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_the_example_logfire_queries_answer_the_same_over_the_exported_spans(
    exported: Any, name: str
) -> None:
    sql, expected, ordered = EXAMPLES[name]
    _same(_rows(exported[0], sql), expected, ordered)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_with_the_logs_only_the_agent_s_activity_gains_its_events(exported: Any, name: str) -> None:
    """In Logfire, logs are records too: the span events of an agent (which carry its
    id) join its activity; no other query changes."""
    sql, expected, ordered = EXAMPLES[name]
    rows = _rows(exported[1], sql)
    if name != "all activity for one agent":
        _same(rows, expected, ordered)
        return
    events = [
        {"span_name": line["name"], "start_timestamp": at(round(line["ts"]) - 1_700_000_000)}
        for line in exported[2]
        if line["event"] == "event" and line["attributes"].get("gen_ai.agent.id") == "agent_a"
    ]
    assert events
    logs = [{**event, "duration": 0.0} for event in events]
    merged = sorted(expected + logs, key=lambda row: row["start_timestamp"])
    assert rows == merged
