"""``spanline sessions`` and ``summary --session`` on what a log may hold: long and
secret-looking session ids, sessions served side by side in one run, hostile events."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spanline.folds.sessions import SessionsFold, group_sessions
from tests._helpers import run_cli
from tests.folds.test_fuzz_readers import events

SECRET = "sk-ant-api03-" + "A1b2C3d4" * 6


def _write_run(base: Path, run_id: str, sessions: list[str], **header: Any) -> None:
    lines: list[dict[str, Any]] = [
        {"event": "run_start", "run_id": run_id, "ts": 100.0, "pid": 1, "trace_id": "0" * 32,
         "schema_version": 1, **header},
    ]  # fmt: skip
    for number, session in enumerate(sessions, start=1):
        span_id = f"{number:016x}"
        lines.append(
            {"event": "span_start", "span_id": span_id, "parent": None, "trace_id": "0" * 32,
             "name": "llm.chat", "component": None, "kind": "llm", "ts": 100.0 + number,
             "attributes": {"session.id": session}}
        )  # fmt: skip
        lines.append(
            {"event": "span_end", "span_id": span_id, "status": "ok", "duration_ms": 10.0,
             "tokens": 7, "tool_uses": 0, "ts": 100.5 + number, "error": None,
             "attributes": {"gen_ai.usage.cost_usd": 0.001}}
        )  # fmt: skip
    lines.append({"event": "process_end", "pid": 1, "ts": 200.0})
    directory = base / "runs" / run_id
    directory.mkdir(parents=True)
    (directory / "telemetry.jsonl").write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))


def test_one_run_serving_several_sessions_counts_in_each(tmp_path: Path) -> None:
    _write_run(tmp_path, "server-1", ["alice", "bob", "alice"])
    _write_run(tmp_path, "server-2", ["bob"], session_id="bob", turn=2, attempt=1)
    shown = run_cli("sessions", "--json", "--dir", str(tmp_path))
    assert shown.returncode == 0, shown.stderr
    rows = {row["session_id"]: row for row in json.loads(shown.stdout)}
    assert rows["alice"]["tokens"] == 14 and rows["alice"]["runs"] == ["server-1"]
    assert rows["bob"]["tokens"] == 14 and rows["bob"]["runs"] == ["server-1", "server-2"]
    assert (rows["bob"]["turns"], rows["bob"]["attempts"]) == (2, 2)
    assert rows["alice"]["cost_usd"] == 0.002


def test_long_and_secret_session_ids_are_cut_and_redacted_before_rendering(
    tmp_path: Path,
) -> None:
    _write_run(tmp_path, "hostile-1", ["x" * 5000, SECRET, "bell\x07\x1b[31mred"])
    shown = run_cli("sessions", "--dir", str(tmp_path), env={"COLUMNS": "100"})
    assert shown.returncode == 0, shown.stderr
    assert SECRET not in shown.stdout and "[REDACTED]" in shown.stdout
    assert "\x07" not in shown.stdout and "\x1b" not in shown.stdout
    assert max(len(line) for line in shown.stdout.splitlines()) <= 100
    assert "x" * 60 not in shown.stdout
    as_json = run_cli("sessions", "--json", "--dir", str(tmp_path))
    assert as_json.returncode == 0 and SECRET not in as_json.stdout, as_json.stderr
    summary = run_cli("summary", "--session", "bell", "--dir", str(tmp_path))
    assert summary.returncode == 2  # no spans carry that exact id


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    log=st.lists(events(), max_size=20),
    sessions=st.lists(st.sampled_from(["a", "b", "", 5, None, "x" * 300]), max_size=20),
)
def test_hostile_events_fold_and_render(log: list[dict[str, Any]], sessions: list[Any]) -> None:
    for event, session in zip(log, sessions, strict=False):
        if event.get("event") == "span_start" and isinstance(event.get("attributes"), dict):
            event["attributes"]["session.id"] = session
    fold = SessionsFold("fuzz-1")
    fold.extend(log)
    rows = group_sessions(fold.attempts())
    orjson.dumps(rows)
    from rich.console import Console

    from spanline.cli._sessions import _sessions_table

    out = io.StringIO()
    Console(file=out, width=80, no_color=True).print(_sessions_table(rows) if rows else "")
    assert all(len(line) <= 80 for line in out.getvalue().splitlines())
