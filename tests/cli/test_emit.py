"""``spanline emit``: schema-valid, redacted lines appended to a run, from a shell script too."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from spanline.cli._validate import schema_errors
from spanline.schema import schema
from tests._helpers import clean_env, read_lines, run_cli, run_python, validate_file, validator

SETUP = """
import spanline
spanline.configure_observability(enabled=True, run_dir={base!r}, service_name="hooks")
with spanline.get_tracer().span("orchestrator", kind="agent"):
    pass
spanline.shutdown()
"""


@pytest.fixture
def base(tmp_path: Path) -> Path:
    result = run_python(SETUP.format(base=str(tmp_path / "base")))
    assert result.returncode == 0, result.stderr
    return tmp_path / "base"


def summary(base: Path) -> dict:
    result = run_cli("summary", "--json", "--dir", str(base))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_bash_script_adds_spans_that_summary_counts(base: Path, tmp_path: Path) -> None:
    before = summary(base)
    script = tmp_path / "hook.sh"
    script.write_text(
        f"""#!/usr/bin/env bash
set -euo pipefail
emit() {{ {shlex.quote(sys.executable)} -m spanline emit "$@" --dir {shlex.quote(str(base))}; }}
secret=sk-abcdef1234567890abcdef
build=$(emit span_start hook.build --kind agent --attr step=1 --attr "token=$secret")
lint=$(emit span_start tool.lint --kind tool --parent "$build" --attr tool.name=lint)
emit span_end "$lint" --tool-uses 1
emit event vote --span "$build" --attr voted_for=agent_b
emit phase build-complete --count files=12
emit span_end "$build" --tokens 250 --duration-ms 1200 --attr result=ok
failing=$(emit span_start hook.deploy --kind tool)
emit span_end "$failing" --status error --message "exit 3"
"""
    )
    result = subprocess.run(
        ["bash", str(script)], env=clean_env(), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    after = summary(base)
    assert after["span_count"] == before["span_count"] + 3
    assert after["totals"]["total_tokens"] == before["totals"]["total_tokens"] + 250
    assert after["totals"]["total_tool_uses"] == before["totals"]["total_tool_uses"] + 1
    assert after["totals"]["agents_spawned"] == before["totals"]["agents_spawned"] + 1
    assert after["tools"]["lint"]["calls"] == 1
    assert [e["name"] for e in after["errors"]] == ["hook.deploy"]
    assert after["errors"][0]["message"] == "exit 3"
    assert [m["name"] for m in after["milestones"]] == ["build-complete"]
    assert after["open_spans"] == 0

    run_dir = (base / "runs" / "latest").resolve()
    events = validate_file(run_dir / "telemetry.jsonl")  # every line, the new ones too
    trace_id = events[0]["trace_id"]
    starts = {e["name"]: e for e in events if e["event"] == "span_start"}
    assert starts["hook.build"]["trace_id"] == trace_id
    assert starts["tool.lint"]["parent"] == starts["hook.build"]["span_id"]
    assert starts["hook.build"]["attributes"] == {"step": 1, "token": "[REDACTED]"}
    ends = {e["span_id"]: e for e in events if e["event"] == "span_end"}
    assert ends[starts["hook.build"]["span_id"]]["duration_ms"] == 1200.0
    assert ends[starts["tool.lint"]["span_id"]]["duration_ms"] >= 0.0  # from its start line
    phase = next(e for e in events if e["event"] == "phase")
    assert phase["files"] == 12 and phase["wall_ms"] >= 0


def test_run_and_parent_come_from_the_environment_of_a_traced_process(base: Path) -> None:
    run_dir = (base / "runs" / "latest").resolve()
    trace_id = read_lines(run_dir / "telemetry.jsonl")[0]["trace_id"]
    env = {
        "SPANLINE_DIR": str(base),
        "SPANLINE_RUN_ID": run_dir.name,
        "TRACEPARENT": f"00-{trace_id}-00000000000000aa-01",
    }
    started = run_cli("emit", "span_start", "child", env=env)
    assert started.returncode == 0, started.stderr
    span_id = started.stdout.strip()
    line = read_lines(run_dir / "telemetry.jsonl")[-1]
    assert line["span_id"] == span_id and line["parent"] == "00000000000000aa"
    # A TRACEPARENT of another trace is not this run's parent.
    env["TRACEPARENT"] = f"00-{'1' * 32}-00000000000000bb-01"
    assert run_cli("emit", "span_start", "other", env=env).returncode == 0
    assert read_lines(run_dir / "telemetry.jsonl")[-1]["parent"] is None


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["span_end", "xyz"], 2, "16 lowercase hex"),
        (["span_end", "0123456789abcdef"], 2, "no span_start"),
        (["span_end", "0123456789abcdef", "--duration-ms", "-1"], 2, "schema"),
        (["span_start", "x", "--attr", "novalue"], 2, "KEY=VALUE"),
        (["span_start", "x", "--parent", "nope"], 2, "--parent"),
        (["phase", "p", "--count", "files=many"], 2, "number"),
        (["phase", "p", "--count", "ts=1"], 2, "may not set"),
        (["span_end", "0123456789abcdef", "--status", "maybe"], 2, "--status"),
        (["event", "x", "--run", "bad id!"], 2, "invalid run id"),
        (["event", "x", "--run", "hooks-20260101T000000-abcdef"], 2, "no run"),
        (["bogus"], 2, "No such command"),
    ],
)
def test_bad_input_is_one_line(base: Path, args: list[str], code: int, needle: str) -> None:
    result = run_cli("emit", *args, "--dir", str(base))
    assert result.returncode == code, result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert needle in result.stderr and "Traceback" not in result.stderr


def test_a_span_ends_once(base: Path) -> None:
    span_id = run_cli("emit", "span_start", "x", "--dir", str(base)).stdout.strip()
    assert run_cli("emit", "span_end", span_id, "--dir", str(base)).returncode == 0
    again = run_cli("emit", "span_end", span_id, "--dir", str(base))
    assert again.returncode == 2 and "already ended" in again.stderr


def test_the_checker_agrees_with_a_json_schema_library(base: Path) -> None:
    published = schema()
    events = read_lines((base / "runs" / "latest").resolve() / "telemetry.jsonl")
    start = next(e for e in events if e["event"] == "span_start")
    end = next(e for e in events if e["event"] == "span_end")
    bad = [
        {**start, "span_id": "XYZ"},
        {**start, "extra": 1},
        {k: v for k, v in start.items() if k != "trace_id"},
        {**end, "status": "meh"},
        {**end, "duration_ms": -1},
        {**end, "custom_counter": "text"},
        {**end, "tokens": True},
        {"event": "phase", "name": "p", "ts": 1.0},
        {"event": "nope", "ts": 1.0},
    ]
    for event in [*events, {**end, "custom_counter": 3}]:
        assert validator().is_valid(event)
        assert schema_errors(event, published) == [], event
    for event in bad:
        assert not validator().is_valid(event), event
        assert schema_errors(event, published), event


@pytest.mark.parametrize("before", [True, False], ids=["before the subcommand", "after it"])
def test_run_may_come_before_or_after_the_subcommand(
    base: Path, tmp_path: Path, before: bool
) -> None:
    from tests.cli._entry import spanline

    run_dir = (base / "runs" / "latest").resolve()
    other = tmp_path / "other"  # SPANLINE_DIR names another base: --dir wins
    other.mkdir()
    options = ["--run", run_dir.name]
    args = [*options, "event", "placed"] if before else ["event", "placed", *options]
    result = spanline("--dir", str(base), "emit", *args, env={"SPANLINE_DIR": str(other)})
    assert result.returncode == 0, result.stderr
    assert read_lines(run_dir / "telemetry.jsonl")[-1]["name"] == "placed"
