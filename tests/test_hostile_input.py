"""Input that other producers (or bugs) can write never hangs, breaks or leaks."""

from __future__ import annotations

import os
from pathlib import Path

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
        "from spanline import _tracer\n"
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
