"""``spanline tail``: every agent's transitions, read from the log, live or after the run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests._helpers import EXAMPLE, clean_env, default_sigint, run_interpreter
from tests.cli._entry import SPANLINE, spanline


def _example(base: Path, *flags: str) -> Path:
    done = run_interpreter(
        str(EXAMPLE), "--speed", "50", "--no-dashboard", *flags, env={"SPANLINE_DIR": str(base)}
    )
    assert done.returncode == 0, done.stderr
    return base / "runs" / os.readlink(base / "runs" / "latest")


def _agents(run: Path) -> list[str]:
    summary = json.loads((run / "run_summary.json").read_text())
    return [agent["name"] for agent in summary["agents"]]


def _states(stdout: str) -> dict[str, list[str]]:
    """Agent -> the states its lines name, in order (lines: time, agent, state, detail)."""
    states: dict[str, list[str]] = {}
    for line in stdout.splitlines()[1:-1]:
        _, agent, state = line.split("  ")[:3]
        states.setdefault(agent, []).append(state)
    return states


def test_plain_shows_every_agent_queued_running_done(tmp_path: Path) -> None:
    run = _example(tmp_path / "base")
    result = spanline("tail", "--plain", str(run))
    assert result.returncode == 0, result.stderr
    states = _states(result.stdout)
    agents = _agents(run)
    assert len(agents) == 35
    assert set(states) == set(agents)  # the orchestrator plans every agent it starts
    for agent in agents:
        assert states[agent] == ["queued", "running", "done"], (agent, states[agent])
    assert result.stdout.splitlines()[-1] == "run ended: ok, 35 agents, 0 failed"


def test_a_failed_agent_makes_status_1_and_is_shown_with_its_error(tmp_path: Path) -> None:
    run = _example(tmp_path / "base", "--fail")
    result = spanline("tail", "--plain", str(run))
    assert result.returncode == 1, result.stderr
    failed = [line for line in result.stdout.splitlines() if "  failed  " in line]
    assert len(failed) == 1
    assert "RuntimeError" in failed[0] and "(--fail)" in failed[0]
    assert result.stderr.startswith("spanline: error: ") and len(result.stderr.splitlines()) == 1


def test_following_a_live_run_tells_the_same_transitions_as_reading_it_after(
    tmp_path: Path,
) -> None:
    base = tmp_path / "base"
    example = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--speed", "5", "--no-dashboard"],
        env=clean_env({"SPANLINE_DIR": str(base)}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert example.stdout is not None
        # The example's first line names its run; tail starts while the run goes on.
        first = example.stdout.readline()
        run = next((base / "runs").glob("eigenda-*"))
        assert run.name in first or (run / "telemetry.jsonl").exists()
        live = spanline("tail", "--plain", str(run), timeout=300)
    finally:
        example.communicate(timeout=300)
    assert example.returncode == 0
    assert live.returncode == 0, live.stderr
    after = spanline("tail", "--plain", str(run))
    assert live.stdout == after.stdout
    assert len(_states(live.stdout)) == 35


def test_json_prints_one_object_per_transition(tmp_path: Path) -> None:
    run = _example(tmp_path / "base")
    result = spanline("tail", "--json", str(run))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert {record["state"] for record in records} == {"queued", "running", "done"}
    assert len(records) == 35 * 3
    assert [r["ts"] for r in records] == sorted(r["ts"] for r in records)


WAITING = """
import sys, spanline
run = spanline.configure_observability(enabled=True, service_name="waiting")
with spanline.traced_agent(name="worker")(lambda: (spanline.flush(), print(run.directory,
        flush=True), sys.stdin.readline()))():
    pass
"""


def test_ctrl_c_ends_tail_with_status_0(tmp_path: Path) -> None:
    program = subprocess.Popen(
        [sys.executable, "-c", WAITING],
        env=clean_env({"SPANLINE_DIR": str(tmp_path)}),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert program.stdout is not None
        run = program.stdout.readline().strip()
        tail = subprocess.Popen(
            [SPANLINE, "tail", run, "--plain"],
            env=clean_env({"NO_COLOR": "1"}),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=default_sigint,
        )
        assert tail.stdout is not None
        assert tail.stdout.readline().startswith("run ")  # it is following
        tail.send_signal(signal.SIGINT)
        _, err = tail.communicate(timeout=60)
        assert tail.returncode == 0, err
        assert "Traceback" not in err
    finally:
        program.communicate("\n", timeout=60)


def test_on_a_terminal_it_draws_the_agents_table(tmp_path: Path) -> None:
    import pty

    run = _example(tmp_path / "base", "--fail")
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [SPANLINE, "tail", str(run)],
            env=clean_env({"COLUMNS": "160", "LINES": "60", "NO_COLOR": "1"}),
            stdout=follower,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
        os.close(follower)
        screen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other end is closed: all is read
                break
            if not chunk:
                break
            screen += chunk
    finally:
        os.close(leader)
    text = screen.decode(errors="replace")
    assert done.returncode == 1, done.stderr  # the --fail run has a failed agent
    for column in ("Agent", "State", "Phase", "Elapsed", "Tokens", "Cost", "Last tool"):
        assert column in text
    assert "tokens/min" in text and "errors 1" in text
    failed = [line for line in text.splitlines() if " failed " in line]
    assert failed, text[-3000:]
    assert "read_file" in text  # the agents' last tool
