"""One table of exit statuses for every command: 0 done, 1 a finding, 2 bad input,
130 interrupted (``serve`` ends on Ctrl-C with 0). Each error is one line on stderr."""

from __future__ import annotations

import fcntl
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests._helpers import ROOT, clean_env
from tests.cli._entry import SPANLINE, spanline
from tests.cli._runs import GOLDEN_RUN, make_golden_run

UNKNOWN = "golden-20260101T000000-abcdef"
RULES = str(ROOT / "examples" / "eigenda_rules.yaml")

#: Every command, with what it needs besides the run; ``{run}`` is where the run goes.
COMMANDS = {
    "summary": ["summary", "{run}"],
    "tools": ["tools", "{run}"],
    "show": ["show", "{run}"],
    "open": ["open", "{run}"],
    "serve": ["serve", "{run}", "--port", "0"],
    "export": ["export", "{run}", "--format", "mlflow"],
    "query": ["query", "select count(*) from records", "{run}"],
    "compare (baseline)": ["compare", "{run}", GOLDEN_RUN],
    "compare (against)": ["compare", GOLDEN_RUN, "{run}"],
    "check": ["check", "{run}", "--rules", RULES],
    "check (baseline)": ["check", GOLDEN_RUN, "--rules", RULES, "--baseline", "{run}"],
    "emit": ["emit", "event", "note", "--run", "{run}"],
    "emit (run first)": ["emit", "--run", "{run}", "event", "note"],
    "tail": ["tail", "{run}", "--plain"],
}
#: The commands that fold the run's log: a log they cannot read is bad input too.
READERS = [
    "summary",
    "tools",
    "show",
    "compare (baseline)",
    "compare (against)",
    "check",
    "check (baseline)",
]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("exit-codes")
    make_golden_run(base)
    empty = base / "runs" / "empty-20260101T000000-000000"
    empty.mkdir()
    (empty / "telemetry.jsonl").write_bytes(b"")
    return base


def _args(command: str, run: str) -> list[str]:
    return [part.replace("{run}", run) for part in COMMANDS[command]]


def _one_error_line(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("spanline: error: "), result.stderr
    return result.stderr


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_unknown_run_is_bad_input(base: Path, command: str) -> None:
    stderr = _one_error_line(spanline("--dir", str(base), *_args(command, UNKNOWN)), 2)
    assert f"no run '{UNKNOWN}'" in stderr


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_malformed_run_id_is_bad_input(base: Path, command: str) -> None:
    stderr = _one_error_line(spanline("--dir", str(base), *_args(command, "bad id!")), 2)
    assert "invalid run id" in stderr


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_path_with_no_run_is_bad_input(base: Path, command: str) -> None:
    nowhere = str(base / "nowhere" / "run")
    stderr = _one_error_line(spanline("--dir", str(base), *_args(command, nowhere)), 2)
    assert "no run at" in stderr


@pytest.mark.parametrize("command", READERS)
def test_a_log_without_events_is_bad_input(base: Path, command: str) -> None:
    empty = str(base / "runs" / "empty-20260101T000000-000000")
    stderr = _one_error_line(spanline("--dir", str(base), *_args(command, empty)), 2)
    assert "no events" in stderr


#: The commands that take a session instead of a run.
SESSION_COMMANDS = {
    "summary --session": ["summary", "--session", "{session}"],
    "list --session": ["list", "--session", "{session}"],
    "export --session": ["export", "--format", "massgen", "--session", "{session}"],
}


@pytest.mark.parametrize("command", sorted(SESSION_COMMANDS))
def test_a_session_id_that_is_not_a_safe_name_is_bad_input(base: Path, command: str) -> None:
    args = [part.replace("{session}", "../bad id") for part in SESSION_COMMANDS[command]]
    assert "invalid session id" in _one_error_line(spanline("--dir", str(base), *args), 2)


def test_an_unknown_session_is_bad_input(base: Path) -> None:
    stderr = _one_error_line(spanline("--dir", str(base), "summary", "--session", "nobody"), 2)
    assert "no session 'nobody'" in stderr


def test_sessions_with_none_to_show_is_ok(base: Path) -> None:
    shown = spanline("--dir", str(base), "sessions")
    assert shown.returncode == 0 and shown.stderr == "", shown.stderr
    assert "no sessions under" in shown.stdout


@pytest.mark.parametrize("command", ["list", "sessions", *sorted(COMMANDS)])
def test_an_unknown_option_is_bad_input(base: Path, command: str) -> None:
    args = [command] if command in ("list", "sessions") else _args(command, GOLDEN_RUN)
    stderr = _one_error_line(spanline("--dir", str(base), *args, "--no-such-option"), 2)
    assert "--no-such-option" in stderr


def test_a_missing_command_and_an_unknown_one_are_bad_input() -> None:
    _one_error_line(spanline(), 2)
    assert "No such command" in _one_error_line(spanline("frobnicate"), 2)


def test_a_regression_is_a_finding_and_no_regression_is_ok(base: Path) -> None:
    same = spanline("--dir", str(base), "compare", GOLDEN_RUN, GOLDEN_RUN)
    assert same.returncode == 0, same.stderr
    slower = base / "runs" / "slower"
    slower.mkdir()
    lines = (base / "runs" / GOLDEN_RUN / "telemetry.jsonl").read_text().splitlines()
    (slower / "telemetry.jsonl").write_text(
        "\n".join(line.replace('"duration_ms":18000.0', '"duration_ms":90000.0') for line in lines)
        + "\n"
    )
    worse = spanline("--dir", str(base), "compare", GOLDEN_RUN, str(slower))
    assert worse.returncode == 1, (worse.stdout, worse.stderr)
    assert "regression" in worse.stdout and worse.stderr == ""


#: Restores SIGINT's default, then becomes the command (same pid): the command takes
#: Ctrl-C as a terminal delivers it even when this test runs with SIGINT ignored (under
#: nohup or some CI runners), since an ignored signal stays ignored across exec.
_SIGINT_DEFAULT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _SIGINT_DEFAULT, SPANLINE, *args],
        env=clean_env({"NO_COLOR": "1"}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_ctrl_c_ends_serve_with_a_goodbye_and_status_0(base: Path) -> None:
    process = _start("serve", "--dir", str(base), "--port", "0")
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert "dashboard at " in first, first
        url = first.split("dashboard at ", 1)[1].split()[0]
        with urllib.request.urlopen(url, timeout=60) as response:  # it is serving
            assert response.status == 200
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, (out, err)
    assert err == ""
    assert out.splitlines() == [f"spanline: stopped serving {url}"]


def _waiting_for_a_lock(pid: int) -> bool:
    """True once ``pid`` waits for a file lock (a ``->`` line of /proc/locks)."""
    with open("/proc/locks") as locks:
        return any("->" in line and f" {pid} " in line for line in locks)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/locks")
def test_ctrl_c_on_an_emit_waiting_for_the_log_is_status_130(base: Path) -> None:
    log = base / "runs" / GOLDEN_RUN / "telemetry.jsonl"
    before = log.read_bytes()
    with log.open("ab") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a writer in the middle of an append
        process = _start("--dir", str(base), "emit", "event", "late", "--run", GOLDEN_RUN)
        try:
            deadline = time.monotonic() + 120
            while not _waiting_for_a_lock(process.pid):
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "emit never waited for the lock"
                time.sleep(0.02)
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 130, (out, err)
    assert err == "spanline: error: interrupted\n"
    assert log.read_bytes() == before
