"""The Logfire exporter's edges, on the wire to the in-process OTLP receiver: bad lines,
values that change type between start and end, a bounded memory of open spans, a
receiver that answers 503 before recovering, and a light ``import spanline``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import spanline
from spanline.exporters.logfire import LogfireExporter
from tests._helpers import configure, heavy_imports, validate_file
from tests.otel._receiver import Receiver, receiver
from tests.otel._run import expected_spans, nested_run
from tests.otel.test_logfire import TOKEN, attrs, of_type

TRACE = "ab" * 16


def _exporter(rx: Receiver, **options: Any) -> LogfireExporter:
    base = rx.endpoint.removesuffix("/v1/traces")
    return LogfireExporter(token=TOKEN, base_url=base, process=False, **options)


def _start(span_id: str, **fields: Any) -> dict[str, Any]:
    line = {
        "event": "span_start",
        "span_id": span_id,
        "parent": None,
        "trace_id": TRACE,
        "name": "s",
        "kind": "agent",
        "ts": 1.5,
        "attributes": {},
    }
    return {**line, **fields}


def _end(span_id: str, **fields: Any) -> dict[str, Any]:
    return {"event": "span_end", "span_id": span_id, "status": "ok", "ts": 2.5, **fields}


def test_bad_lines_are_skipped_and_good_spans_still_arrive() -> None:
    bad: list[dict[str, Any]] = [
        {"event": "span_start", "span_id": "zz", "trace_id": TRACE, "name": "bad id"},
        _start("00000000000000aa", trace_id="not hex"),
        _start("00000000000000bb", ts="yesterday", attributes=["not", "a", "mapping"]),
        {"event": "event", "span_id": "00000000000000cc", "name": "for an unknown span"},
        {"event": "event", "span_id": 7, "name": "not an id", "ts": 1.0},
        {"event": "span_end", "span_id": None},
        {"event": "something new"},
        _end("00000000000000bb", attributes="not a mapping"),
    ]
    good = [_start("0000000000000001"), _end("0000000000000001")]
    with receiver() as rx:
        exporter = _exporter(rx)
        for line in bad:
            exporter.export([line])  # each alone: starts become pending spans
        exporter.export(good)
        exporter.shutdown()
        spans = rx.wait_for(3)
    real = {s.span_id.hex(): s for s in of_type(spans, "span")}
    assert set(real) == {"00000000000000bb", "0000000000000001"}
    pending = of_type(spans, "pending_span")
    assert [p.parent_span_id.hex() for p in pending] == ["00000000000000bb"]
    assert pending[0].start_time_unix_nano == 0  # a start time that is no number
    assert not of_type(spans, "log")


def test_the_end_decides_whether_a_value_is_json_and_described_by_the_schema() -> None:
    start = _start("0000000000000001", attributes={"x": {"a": 1}, "y": 1, "z": None})
    end = _end("0000000000000001", attributes={"x": 5, "y": [1, 2]})
    with receiver() as rx:
        exporter = _exporter(rx)
        exporter.export([start, end])
        exporter.shutdown()
        (span,) = rx.wait_for(1)
    got = attrs(span)
    assert got["x"] == 5 and got["y"] == "[1,2]" and got["z"] == "null"
    schema = json.loads(got["logfire.json_schema"])
    assert schema == {
        "type": "object",
        "properties": {"y": {"type": "array"}, "z": {"type": "null"}},
    }


def test_open_spans_remembered_are_bounded() -> None:
    with receiver() as rx:
        exporter = _exporter(rx, max_open=3, pending_spans=False)
        exporter.export(
            [_start(f"{i:016x}", attributes={"big": list(range(100))}) for i in range(1, 11)]
        )
        assert len(exporter._sender._starts) == 3  # the newest three
        exporter.export([_end(f"{i:016x}") for i in range(1, 11)])
        exporter.shutdown()
        spans = rx.wait_for(3)
    assert sorted(s.span_id.hex() for s in spans) == [f"{i:016x}" for i in (8, 9, 10)]
    assert exporter._sender._starts == {}


def test_a_receiver_answering_503_then_recovering_gets_every_span_pending_span_and_log_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with receiver(failures=2) as rx:
        monkeypatch.setenv("LOGFIRE_TOKEN", TOKEN)
        monkeypatch.setenv("LOGFIRE_BASE_URL", rx.endpoint.removesuffix("/v1/traces"))
        run = configure(tmp_path, logfire=True)
        with spanline.span("open", kind="agent"):
            spanline.flush()
            nested_run()
        summary = spanline.shutdown()
        expected = expected_spans(run.telemetry_path)
        notes = [e for e in validate_file(run.telemetry_path) if e["event"] == "event"]
        spans = rx.wait_for(len(expected) + len(notes) + 1)
    assert rx.refused == 2
    real = [s.span_id.hex() for s in of_type(spans, "span")]
    assert sorted(real) == sorted(expected)  # each once
    pending = of_type(spans, "pending_span")
    # "open" was in flight when its start was exported; a writer tick in the middle of
    # the nested run may have caught other spans in flight too: one pending span each.
    assert "open" in [p.name for p in pending]
    parents = [p.parent_span_id.hex() for p in pending]
    assert len(parents) == len(set(parents)) and set(parents) <= set(real)
    assert len(of_type(spans, "log")) == len(notes) == 3
    counts = summary.to_dict()["exporters"]["logfire"]
    assert counts["failed"] == counts["dropped"] == 0


def test_import_spanline_loads_neither_the_exporter_nor_logfire() -> None:
    loaded = heavy_imports("import spanline", {"spanline.exporters.logfire", "logfire"})
    assert loaded == []


def test_upper_case_ids_from_other_producers_pair_like_lower_case_ones() -> None:
    start = _start("00000000000000AB", trace_id=TRACE.upper(), attributes={"plan": [1]})
    note = {"event": "event", "span_id": "00000000000000AB", "name": "n", "ts": 2.0}
    with receiver() as rx:
        exporter = _exporter(rx)
        exporter.export([start])
        exporter.export([note, _end("00000000000000AB")])
        exporter.shutdown()
        spans = rx.wait_for(3)
    (span,) = of_type(spans, "span")
    assert json.loads(attrs(span)["logfire.json_schema"])["properties"] == {
        "plan": {"type": "array"}
    }
    for child in (*of_type(spans, "pending_span"), *of_type(spans, "log")):
        assert child.parent_span_id.hex() == "00000000000000ab"
        assert child.trace_id.hex() == TRACE
    assert len(spans) == 3


def test_a_helper_process_builds_and_sends_the_same_logfire_spans() -> None:
    """``process=True``: the helper imports the Logfire sender by name and runs it."""
    start = _start("0000000000000001", attributes={"plan": {"n": 1}})
    with receiver() as rx:
        exporter = LogfireExporter(
            token=TOKEN,
            base_url=rx.endpoint.removesuffix("/v1/traces"),
            service_name="helper",
            process=True,
        )
        exporter.export([start])
        exporter.export([_end("0000000000000001", status="error", error={"type": "E"})])
        exporter.shutdown()
        spans = rx.wait_for(2)
    (pending,) = of_type(spans, "pending_span")
    (span,) = of_type(spans, "span")
    assert pending.parent_span_id.hex() == span.span_id.hex() == "0000000000000001"
    assert attrs(pending)["logfire.pending_parent_id"] == "0" * 16
    assert attrs(span)["plan"] == '{"n":1}' and attrs(span)["logfire.level_num"] == 17
    assert {h["authorization"] for h in rx.headers} == {TOKEN}
    assert {r["service.name"] for r in rx.resources} == {"helper"}
