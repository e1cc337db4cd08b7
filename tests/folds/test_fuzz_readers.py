"""Every reader and fold on random and malformed logs: no crash, no hang, nothing lost.

Hypothesis builds hostile runs: garbage bytes, huge lines, deep nesting, fields of
the wrong type, unknown events, duplicate or missing ids, ends before starts,
cycles in parent links, numbers past 64 bits and timestamps at the ends of the
double range. Each run goes through the summary (and its JSON file), the tail,
the tree, the lanes, the comparison, the MassGen and MLflow exports, the
analysis (and its report) and the static page's data; a smaller set goes
through the ``records`` view in DuckDB.

The settings are derandomized (the same examples on every run, so a failure in
CI reproduces locally) and have no deadline (the machine is shared and noisy);
a per-test timeout still catches a hang.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spanline.cli._analyze_render import render_markdown
from spanline.folds import JsonlTail, read_events, summarize, summarize_file
from spanline.folds.analysis import analyze
from spanline.folds.compare import compare_profiles, profile
from spanline.folds.lanes import LanesFold
from spanline.folds.massgen import MassgenFold, write_artifacts
from spanline.folds.mlflow import mlflow_trace, mlflow_trace_file
from spanline.folds.summary import write_summary
from spanline.folds.tree import TreeFold

#: Examples per test; the in-process tests below add up to well over 2,000.
IN_PROCESS = settings(
    max_examples=700,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_IDS = ["a1", "b2", "c3", "d4", "e5", "ph", ""]
_BIG = [2**63 - 1, -(2**63), 2**64, 10**30, 1.7e308, -1.7e308, 5e-324, -0.0]
_EVENTS = ["span_start", "span_end", "event", "phase", "run_start", "process_start",
           "process_end", "span_planned", "mystery", "", "SPAN_END"]  # fmt: skip
_KEYS = ["span_id", "parent", "name", "kind", "ts", "attributes", "status", "duration_ms",
         "tokens", "tool_uses", "error", "pid", "run_id", "agent_kinds", "stall_s", "wall_ms",
         "agents", "plan_id", "exporters", "dropped_events", "suppressed_spans", "gen_ai.agent.id",
         "tool.name", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
         "gen_ai.usage.cost_usd", "gen_ai.request.model", "gen_ai.operation.name",
         "coordination.type", "coordination.label", "analyses_written"]  # fmt: skip
_KINDS = ["agent", "phase", "tool", "llm", "synthesis", "internal", ""]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64),
    st.sampled_from(_BIG),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(_IDS + _KINDS + _EVENTS + ["ok", "error", "invoke_agent", "chat"]),
    st.text(max_size=8),
)
# Any JSON value, nested a few levels (deeper nesting has its own example below).
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(_KEYS), inner, max_size=3)
    ),
    max_leaves=6,
)


_FIELDS = {
    "span_start": ["span_id", "parent", "name", "kind", "ts", "attributes"],
    "span_end": ["span_id", "status", "duration_ms", "tokens", "tool_uses", "ts", "attributes",
                 "error"],
    "event": ["span_id", "name", "ts", "attributes"],
    "phase": ["name", "wall_ms", "ts", "agents"],
    "run_start": ["run_id", "pid", "ts", "agent_kinds", "stall_s"],
    "process_start": ["pid", "ts"],
    "process_end": ["pid", "ts", "dropped_events", "suppressed_spans", "exporters"],
    "span_planned": ["plan_id", "name", "kind", "parent", "ts", "attributes"],
}  # fmt: skip
_PLAUSIBLE = {
    "span_id": st.sampled_from(_IDS),
    "parent": st.one_of(st.none(), st.sampled_from(_IDS)),
    "name": st.sampled_from(["lead", "tool.grep", "llm.call", "p1", "x"]),
    "kind": st.sampled_from(_KINDS),
    "ts": st.one_of(st.floats(0, 100), st.sampled_from([0, 1, 1e9, 1.7e308, -1.7e308])),
    "attributes": st.dictionaries(st.sampled_from(_KEYS), values, max_size=3),
    "status": st.sampled_from(["ok", "error"]),
    "duration_ms": st.one_of(st.floats(-10, 1e4), st.sampled_from(_BIG)),
    "tokens": st.one_of(st.integers(0, 100), st.sampled_from(_BIG)),
    "tool_uses": st.integers(0, 5),
    "pid": st.integers(1, 3),
    "plan_id": st.sampled_from(_IDS),
}


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """One event: its type's usual fields, each maybe missing or of a wrong type, and
    maybe a few fields that do not belong."""
    tag = draw(st.sampled_from(_EVENTS))
    event: dict[str, Any] = {"event": tag}
    keys = _FIELDS.get(tag, []) + draw(st.lists(st.sampled_from(_KEYS), max_size=2))
    for key in keys:
        if not draw(st.integers(0, 7)):
            continue  # left out
        strategy = _PLAUSIBLE.get(key)
        wrong = strategy is None or not draw(st.integers(0, 5))
        event[key] = draw(values if wrong else strategy)
    return event


runs = st.lists(events(), max_size=20)


def _check_summary(summary: Any) -> dict[str, Any]:
    data = summary.to_dict()
    # What write_summary writes, and what the CLI prints: always encodable.
    orjson.dumps(data, option=orjson.OPT_INDENT_2)
    assert data["span_count"] >= 0 and data["open_spans"] >= 0
    wall = data["total_wall_ms"]
    assert isinstance(wall, float) and math.isfinite(wall) and wall >= 0
    return data


def fold_everything(run: list[dict[str, Any]], out: Path) -> None:
    """Every fold over ``run``, and every output encoded as it is written."""
    summary = summarize(run)
    _check_summary(summary)
    write_summary(summary, out / "run_summary.json")
    # The other folds' results are JSON-ready dicts (events handed over in process may
    # hold integers past 64 bits, which only the standard library writes).
    tree = TreeFold()
    tree.extend(run)
    json.dumps(tree.result().select().to_dict())
    shallow = TreeFold(depth=1)
    shallow.extend(run)
    shallow.result().select(depth=1)
    lanes = LanesFold()
    lanes.extend(run)
    json.dumps(lanes.result(summary))
    one = profile(run)
    json.dumps(compare_profiles(one, profile(run[::-1])).to_dict())
    massgen = MassgenFold()
    massgen.extend(run)
    artifacts = massgen.result()
    if massgen.has_events:  # writing files is slow: only when there is something to write
        write_artifacts(artifacts, out / "massgen")
    json.dumps(mlflow_trace(run, run_id="fuzz"))
    analysis = analyze(run)
    json.dumps(analysis.to_dict())
    render_markdown(analysis)


@pytest.mark.timeout(300)
@IN_PROCESS
@given(run=runs)
def test_every_fold_survives_hostile_events(run: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as out:
        fold_everything(run, Path(out))


@pytest.mark.timeout(300)
@IN_PROCESS
@given(run=runs, cut=st.integers(0, 20))
def test_any_chunking_gives_the_same_summary(run: list[dict[str, Any]], cut: int) -> None:
    from spanline.folds import SummaryFold

    fold = SummaryFold()
    fold.extend(run[:cut])
    fold.result()  # asking in the middle changes nothing
    for event in run[cut:]:
        fold.add(event)
    assert fold.result().to_dict() == summarize(run).to_dict()


garbage_lines = st.one_of(
    st.binary(max_size=40),
    st.just(b"\xff\xfe\x00{"),
    st.just(b'{"event": "span_start", "span_id": "a1", "ts": 1e400}'),  # infinity as JSON
    st.just(b'{"event": "span_end", "span_id": "a1", "tokens": 99999999999999999999999}'),
    st.just(b"[" * 5000 + b"]" * 5000),  # deeper than the JSON parser allows
    st.just(
        b'{"event":"event","name":"big","ts":1.0,"attributes":{"v":"' + b"v" * 200_000 + b'"}}'
    ),
    st.just(b"   "),
    st.just(b"null"),
    st.just(b'"event"'),
)


def _encode(event: dict[str, Any]) -> bytes:
    """A line as some producer might write it: orjson, or the standard library for
    integers past 64 bits (which orjson then refuses to read: a skipped line)."""
    try:
        return orjson.dumps(event)
    except TypeError:
        return json.dumps(event).encode()


@st.composite
def log_files(draw: st.DrawFn) -> bytes:
    """A telemetry.jsonl: encoded hostile events and raw garbage, maybe torn at the end."""
    lines = draw(st.lists(st.one_of(events().map(_encode), garbage_lines), max_size=20))
    data = b"\n".join(lines)
    return data if draw(st.booleans()) else data + b"\n"


@pytest.mark.timeout(300)
@IN_PROCESS
@given(data=log_files(), split=st.integers(0, 1 << 20))
def test_every_file_reader_survives_hostile_bytes(data: bytes, split: int) -> None:
    with tempfile.TemporaryDirectory() as out:
        path = Path(out) / "telemetry.jsonl"
        # A live tail sees the file in two writes, cut anywhere.
        split = min(split, len(data))
        path.write_bytes(data[:split])
        tail = JsonlTail(path)
        seen = tail.read()
        with path.open("ab") as handle:
            handle.write(data[split:])
        seen += tail.read(final=True)
        events_read, problems = read_events(path)
        assert seen == events_read and tail.problems == problems
        summary = summarize_file(path, report_problems=False)
        skipped = _check_summary(summary)["skipped_lines"]
        # Every line the reader skipped is listed, and so is every line the fold skipped.
        assert {p.line for p in problems} <= {p["line"] for p in skipped}
        assert len(skipped) == summary.skipped_line_count
        trace, _ = mlflow_trace_file(path)
        orjson.dumps(trace)
        fold_everything(events_read, Path(out))


@pytest.mark.timeout(300)
@settings(IN_PROCESS, max_examples=60)
@given(data=log_files())
def test_the_records_view_reads_hostile_files(data: bytes) -> None:
    duckdb = pytest.importorskip("duckdb")
    from spanline.folds.records import records_view_sql

    with tempfile.TemporaryDirectory() as out:
        path = Path(out) / "telemetry.jsonl"
        path.write_bytes(data)
        with duckdb.connect(":memory:") as connection:
            connection.execute("SET TimeZone = 'UTC'")
            connection.execute(records_view_sql([("fuzz", path)]))
            try:
                rows = connection.execute("SELECT * FROM records").fetchall()
            except duckdb.Error as exc:  # refused with a message, never a crash
                assert str(exc)
            else:
                assert len(rows) <= data.count(b"\n") + 1


#: Commands run on each hostile run through the real entry point (examples x commands
#: stay within 50 processes).
_COMMANDS = [
    ["summary", "--json"], ["show", "--json"], ["tools"], ["list"], ["compare", "RUN", "RUN"],
    ["export", "--format", "mlflow", "--out", "-"], ["export", "--format", "html", "--out", "-"],
    ["export", "--format", "massgen", "--out", "OUT"], ["query", "SELECT count(*) FROM records"],
    ["analyze", "--json"],
]  # fmt: skip
CLI_EXAMPLES = 5


@pytest.mark.timeout(600)
@settings(IN_PROCESS, max_examples=CLI_EXAMPLES)
@given(data=log_files())
def test_the_command_line_never_shows_a_traceback(data: bytes) -> None:
    from tests._helpers import run_cli

    assert CLI_EXAMPLES * len(_COMMANDS) <= 50
    with tempfile.TemporaryDirectory() as out:
        run = Path(out) / "runs" / "fuzz-20260101T000000-abcdef"
        run.mkdir(parents=True)
        (run / "telemetry.jsonl").write_bytes(data)
        for command in _COMMANDS:
            args = [str(run) if a == "RUN" else str(Path(out) / "m") if a == "OUT" else a
                    for a in command]  # fmt: skip
            if command[0] not in ("list", "compare"):
                args.append(str(run))
            result = run_cli("--dir", out, *args)
            assert "Traceback" not in result.stderr, (command, result.stderr)
            errors = [line for line in result.stderr.splitlines() if "error:" in line]
            if result.returncode != 0:
                assert len(errors) == 1, (command, result.stderr)
                assert "internal error" not in errors[0], (command, result.stderr)
