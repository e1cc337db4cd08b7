"""Input that other producers (or bugs) can write never hangs, breaks or leaks."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

import spanline
from spanline import coordination
from spanline.folds import summarize
from spanline.folds.events import read_events
from tests._helpers import read_lines, run_cli, run_python


def _start(sid: str, parent: str | None, name: str = "s") -> dict:
    return {"event": "span_start", "span_id": sid, "parent": parent, "name": name,
            "kind": "agent", "ts": 1.0, "attributes": {}}  # fmt: skip


def _end(sid: str, tokens: int = 1) -> dict:
    return {"event": "span_end", "span_id": sid, "status": "ok", "duration_ms": 1.0,
            "tokens": tokens, "tool_uses": 0, "ts": 2.0, "attributes": {}}  # fmt: skip


@pytest.mark.timeout(30)
def test_spans_that_are_their_own_ancestors_do_not_hang_the_fold() -> None:
    events = [
        _start("aa", "aa"),  # its own parent
        _start("bb", "cc"),  # b and c name each other
        _start("cc", "bb"),
        _end("aa"),
        _end("bb"),
        _end("cc"),
    ]
    summary = summarize(events)
    assert summary.span_count == 3 and summary.totals.total_tokens == 3


def test_an_odd_agent_id_never_costs_the_run_its_summary(tmp_path: Path) -> None:
    run = spanline.configure_observability(enabled=True, run_dir=tmp_path)
    assert run is not None
    tracer = spanline.get_tracer()
    with tracer.span("agent", kind="agent", **{"gen_ai.agent.id": "a"}):
        coordination.new_answer("agent1.1", content="x", agent_id="a")
        with tracer.span("tool", **{"gen_ai.agent.id": ["a", "b"]}):
            pass
    summary = spanline.shutdown()
    assert summary is not None and run.summary_path.exists()
    exported = run_cli("export", str(run.directory), "--format", "massgen", "--out",
                       str(tmp_path / "out"))  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    assert "Traceback" not in exported.stderr


def test_names_components_and_event_names_are_redacted(tmp_path: Path) -> None:
    run = spanline.configure_observability(enabled=True, run_dir=tmp_path)
    assert run is not None
    tracer = spanline.get_tracer()
    secret = "sk-ant-api03-" + "A" * 40
    with tracer.span("GET https://bob:hunter2pass@db.example/x", component=f"Bearer {secret}"):
        tracer.event(f"token {secret}")
    spanline.shutdown()
    text = run.telemetry_path.read_text()
    assert "hunter2pass" not in text and secret not in text
    names = [e["name"] for e in read_lines(run.telemetry_path) if e["event"] == "span_start"]
    assert names == ["GET https://bob:[REDACTED]@db.example/x"]


def test_an_unusable_base_directory_from_the_environment_leaves_tracing_off(
    tmp_path: Path,
) -> None:
    not_a_dir = tmp_path / "afile"
    not_a_dir.write_text("x")
    code = (
        "import spanline, itertools\n"
        "run = spanline.configure_observability(enabled=True, clock=lambda: 5.0)\n"
        "print(run, spanline.span('x').is_recording)\n"
        "from spanline._hotpath import _tracer\n"
        "print(_tracer.wall_time() != 5.0)\n"
    )
    result = run_python(code, env={"SPANLINE_DIR": str(not_a_dir)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["None", "False", "True"]  # off, and no clock left behind
    assert "tracing stays off: cannot write runs under" in result.stderr
    # The same directory given as the argument: the same warning, never an exception.
    assert spanline.configure_observability(enabled=True, run_dir=not_a_dir) is None


def test_synchronous_flush_works_on_the_tracing_thread(tmp_path: Path) -> None:
    run = spanline.configure_observability(enabled=True, run_dir=tmp_path, synchronous=True)
    assert run is not None
    with spanline.span("one"):
        pass
    assert spanline.flush(timeout=5) is True
    spanline.shutdown()
    assert [e["event"] for e in read_lines(run.telemetry_path)] == [
        "run_start", "span_start", "span_end", "process_end",
    ]  # fmt: skip


def test_a_line_longer_than_many_read_chunks_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.jsonl"
    value = "v" * (3 << 20)
    with path.open("wb") as handle:
        handle.write(orjson.dumps({"event": "event", "name": "big", "ts": 1.0,
                                   "attributes": {"value": value}}) + b"\n")  # fmt: skip
        handle.write(b'{"event":"phase","name":"after","wall_ms":1.0,"ts":2.0}\n')
        handle.write(b'{"event":"phase","name":"torn"')
    events, problems = read_events(path)
    assert [e["name"] for e in events] == ["big", "after"]
    assert events[0]["attributes"]["value"] == value
    assert [(p.line, "torn last line" in p.error) for p in problems] == [(3, True)]
    assert os.path.getsize(path) > 3 << 20


# --- Readers that cannot crash -------------------------------------------------------------


def _write_run(base: Path, lines: list[bytes | dict]) -> Path:
    """A run directory under ``base`` holding these lines (dicts are encoded)."""
    run = base / "runs" / "hostile-20260101T000000-abcdef"
    run.mkdir(parents=True)
    data = b"".join((line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n"
                    for line in lines)  # fmt: skip
    (run / "telemetry.jsonl").write_bytes(data)
    return run


def _one_line_error(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("spanline: error")]
    assert len(errors) <= 1


def test_a_pid_of_the_wrong_type_is_a_reported_skipped_line(tmp_path: Path) -> None:
    run = _write_run(tmp_path, [
        {"event": "run_start", "run_id": "r", "pid": 7, "ts": 1.0},
        {"event": "process_start", "pid": [1, 2], "ts": 1.0},
        {"event": "process_start", "pid": {"a": 1}, "ts": 1.0},
        _start("aa", None), _end("aa"),
        {"event": "process_end", "pid": 7, "ts": 3.0},
    ])  # fmt: skip
    summary = spanline.folds.summarize_file(run / "telemetry.jsonl")
    assert summary.processes == 1 and summary.status == "ok"
    assert [(p["line"], p["error"]) for p in summary.skipped_lines] == [
        (2, "pid is list, not an integer"), (3, "pid is dict, not an integer"),
    ]  # fmt: skip
    for command in (["summary", "--json"], ["show"], ["list"], ["tools"], ["sessions"]):
        result = run_cli("--dir", str(tmp_path), *command)
        assert result.returncode == 0, result.stderr
        _one_line_error(result)
    shown = run_cli("--dir", str(tmp_path), "summary")
    assert f"{run / 'telemetry.jsonl'}:2: pid is list" in shown.stderr


def test_sums_past_64_bits_keep_the_whole_summary(tmp_path: Path) -> None:
    run = spanline.configure_observability(enabled=True, run_dir=tmp_path)
    assert run is not None
    for index in range(3):
        with spanline.span(f"s{index}") as span:
            span.add(tokens=2**63 - 1, analyses_written=2**63 - 1)
    summary = spanline.shutdown()
    assert summary is not None
    written = orjson.loads(run.summary_path.read_bytes())
    # Carried as a float past 64 bits: close to the true sum, never lost.
    assert written["totals"]["total_tokens"] == pytest.approx(3 * (2**63 - 1))
    assert written["totals"]["counters"]["analyses_written"] == pytest.approx(3 * (2**63 - 1))
    assert written["span_count"] == 3
    result = run_cli("summary", str(run.directory), "--json")
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout)["totals"]["total_tokens"] == pytest.approx(3 * (2**63 - 1))


def test_implausible_timestamps_and_durations_are_skipped_per_line(tmp_path: Path) -> None:
    run = _write_run(tmp_path, [
        _start("aa", None),
        {**_start("bb", None), "ts": 1.7e308},
        {**_start("cc", None), "ts": -1.7e308},
        {**_end("aa"), "duration_ms": -5.0},
        {**_end("aa"), "duration_ms": 1e300},
        {**_end("aa"), "ts": True},
        _end("aa", tokens=4),
    ])  # fmt: skip
    path = run / "telemetry.jsonl"
    summary = spanline.folds.summarize_file(path, report_problems=False)
    assert summary.total_wall_ms == 1.0  # the one good span's duration
    assert summary.totals.total_tokens == 4 and summary.span_count == 1
    assert [p["line"] for p in summary.skipped_lines] == [2, 3, 4, 5, 6]
    assert "implausible timestamp" in summary.skipped_lines[0]["error"]
    assert "implausible duration_ms -5.0" in summary.skipped_lines[2]["error"]
    assert "ts is bool" in summary.skipped_lines[4]["error"]
    # In process too: non-finite values never reach a summary.
    folded = summarize([_start("aa", None), {**_end("aa"), "ts": math.nan},
                        {**_end("aa"), "duration_ms": math.inf}, _end("aa")])  # fmt: skip
    assert folded.skipped_line_count == 2 and folded.to_dict()["total_wall_ms"] == 1.0


def _chain(depth: int, *, phase: bool = True) -> list[dict]:
    """``depth`` agents, each the child of the one before, under a phase; one line a
    second (so each agent's own last line is older than its subtree's)."""
    events = [{**_start("ph", None), "kind": "phase"}] if phase else []
    parent = "ph" if phase else None
    for index in range(depth):
        events.append({**_start(f"a{index}", parent), "ts": float(index)})
        parent = f"a{index}"
    for index in reversed(range(depth)):
        events.append({**_end(f"a{index}"), "ts": float(2 * depth - index)})
    return events


def _fold_steps(events: list[dict], budget: int, fold: str = "summary") -> int:
    """Lines of a fold's code run to fold ``events`` and ask for the result: a count
    of work that, unlike a clock, the machine's load cannot change. Past ``budget``
    the fold is stopped (a quadratic fold would take minutes here)."""
    import spanline.folds._summary_fold as summary_module
    import spanline.folds.lanes as lanes_module

    module = summary_module if fold == "summary" else lanes_module
    summary = summarize(events) if fold == "lanes" else None
    steps = 0

    class OverBudget(Exception):
        pass

    def local(frame: Any, event: str, arg: Any) -> Any:
        nonlocal steps
        if event == "line":
            steps += 1
            if steps > budget:
                raise OverBudget
        return local

    def calls(frame: Any, event: str, arg: Any) -> Any:
        return local if frame.f_code.co_filename == module.__file__ else None

    sys.settrace(calls)
    try:
        if summary is None:
            summarize(events)
        else:
            lanes = lanes_module.LanesFold()
            lanes.extend(events)
            lanes.result(summary)
    except OverBudget:
        pass
    finally:
        sys.settrace(None)
    return steps


@pytest.mark.parametrize("shape", ["chain", "siblings", "ended chain"])
def test_nested_agents_fold_in_linear_time(shape: str) -> None:
    def run(n: int) -> list[dict]:
        if shape == "chain":
            return _chain(n)
        if shape == "ended chain":  # every agent ended, then lines under the deepest
            events = _chain(n)
            events += [{"event": "event", "span_id": f"a{n - 1}", "ts": 3.0 * n}] * n
            return events
        return [{**_start("ph", None), "kind": "phase"}] + [
            {**_start(f"a{i}", "ph"), "ts": float(i)} for i in range(n)
        ]

    small = _fold_steps(run(500), budget=10**7)
    large = _fold_steps(run(2000), budget=12 * small)
    # Four times the agents: about four times the work (quadratic would be sixteen).
    assert large <= 6 * small, (small, large)


def test_the_written_summary_names_the_line_a_fold_skipped(tmp_path: Path) -> None:
    run = spanline.configure_observability(enabled=True, run_dir=tmp_path, synchronous=True)
    assert run is not None
    with spanline.span("before"):
        pass
    assert spanline.flush(timeout=5)
    with run.telemetry_path.open("ab") as handle:  # another producer's broken line
        handle.write(orjson.dumps({**_end("zz"), "pid": 1, "duration_ms": -1.0}) + b"\n")
    with spanline.span("after"):
        pass
    spanline.shutdown()
    written = orjson.loads(run.summary_path.read_bytes())
    assert written["skipped_lines"] == [
        {"file": str(run.telemetry_path), "line": 4, "error": "implausible duration_ms -1.0"}
    ]
    assert written["span_count"] == 2
    # The suite checks every run's lines against the schema after each test: take the
    # hostile line out again, now that the summary has shown what it did with it.
    kept = run.telemetry_path.read_bytes().splitlines(keepends=True)
    run.telemetry_path.write_bytes(b"".join(kept[:3] + kept[4:]))


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ({**_start("aa", None), "span_id": 5}, "span_id is int, not a string"),
        ({**_start("aa", None), "parent": ["bb"]}, "parent is list, not a string"),
        ({**_start("aa", None), "kind": {"agent": 1}}, "kind is dict, not a string"),
        ({**_start("aa", None), "attributes": [1]}, "attributes is list, not an object"),
        ({**_end("bb"), "span_id": {"x": 1}}, "span_id is dict, not a string"),
        ({**_end("bb"), "tokens": "many"}, "tokens is str, not a number"),
        ({**_end("bb"), "tool_uses": True}, "tool_uses is bool, not a number"),
        ({**_end("bb"), "status": 3}, "status is int, not a string"),
        ({**_end("bb"), "analyses_written": 1e300}, "implausible analyses_written"),
        ({**_end("bb"), "tokens": math.nan}, "implausible tokens"),
        ({"event": "event", "span_id": 3.0, "ts": 1.0}, "span_id is float, not a string"),
        ({"event": "process_end", "pid": 1, "dropped_events": -1}, "dropped_events is -1"),
        ({"event": "phase", "name": "p", "wall_ms": "x", "ts": 1.0}, "wall_ms is 'x'"),
        ({"event": 7, "ts": 1.0}, "event is int, not a string"),
    ],
)
def test_a_field_of_the_wrong_type_skips_its_line_only(line: dict, why: str) -> None:
    events = [_start("bb", None), line, _end("bb", tokens=3)]
    summary = summarize(events)
    assert summary.skipped_line_count == 1
    assert summary.skipped_lines[0]["line"] == 2 and why in summary.skipped_lines[0]["error"]
    assert summary.totals.total_tokens == 3 and summary.span_count == 1


def test_the_lanes_of_nested_agents_take_linear_time() -> None:
    small = _fold_steps(_chain(500), budget=10**7, fold="lanes")
    large = _fold_steps(_chain(2000), budget=12 * small, fold="lanes")
    assert large <= 6 * small, (small, large)
