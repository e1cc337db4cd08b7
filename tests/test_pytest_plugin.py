"""The pytest plugin: installed by the ``pytest11`` entry point, idle until a test asks for it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests._helpers import clean_env, run_python

AGENT = """
import spanline


def run_agent() -> str:
    with spanline.span("my-agent", kind="agent") as span:
        span.add(tokens=7)
        return "done"
"""

# A user's test module: no conftest.py next to it, no import of spanline.
USER_TEST = """
import json
import sys
import threading
from pathlib import Path

from agent import run_agent


def test_plugin_is_idle_until_asked() -> None:
    assert "spanline.testing" not in sys.modules
    assert not [t for t in threading.enumerate() if t.name.startswith("spanline")]


def test_agent(spanline_capture) -> None:
    assert run_agent() == "done"
    span = spanline_capture.span("my-agent")
    assert span["status"] == "ok" and span["tokens"] == 7
    Path("recorded.json").write_text(json.dumps(spanline_capture.names()))
"""


def run_pytest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m pytest`` inside ``project``, as a user would run it."""
    env = {k: v for k, v in clean_env().items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        env=env,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_fixture_comes_from_the_entry_point_and_can_be_turned_off(tmp_path: Path) -> None:
    (tmp_path / "agent.py").write_text(AGENT)
    (tmp_path / "test_user.py").write_text(USER_TEST)

    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    assert json.loads((tmp_path / "recorded.json").read_text()) == ["my-agent"]
    assert not (tmp_path / ".spanline").exists()  # the capture traced into a temporary run

    (tmp_path / "recorded.json").unlink()
    result = run_pytest(tmp_path, "-p", "no:spanline")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "fixture 'spanline_capture' not found" in result.stdout
    assert not (tmp_path / "recorded.json").exists()


def test_loading_the_plugin_does_nothing(tmp_path: Path) -> None:
    # Tracing switched on by the environment: loading the plugin must still not
    # configure it, open a file or start a thread.
    code = """
import json, os, sys, threading
import spanline.pytest_plugin
from spanline._hotpath._runtime import RUNTIME
print(json.dumps({
    "modules": sorted(m for m in sys.modules if m.startswith("spanline")),
    "threads": threading.active_count(),
    "resolved": RUNTIME.resolved,
    "pipeline": RUNTIME.pipeline is not None,
    "files": os.listdir("."),
}))
"""
    result = run_python(code, env={"SPANLINE_ENABLED": "1"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["threads"] == 1
    assert loaded["resolved"] is False and loaded["pipeline"] is False
    assert loaded["files"] == []
    # The plugin adds nothing to what ``import spanline`` loads: in particular not
    # spanline.testing (imported only when a test asks for the fixture).
    plain = run_python(
        "import json, sys, spanline; print(json.dumps(sorted(sys.modules)))",
        env={"SPANLINE_ENABLED": "1"},  # the same environment: it installs signal handlers
        cwd=tmp_path,
    )
    assert plain.returncode == 0, plain.stderr
    package = {m for m in json.loads(plain.stdout) if m.startswith("spanline")}
    assert set(loaded["modules"]) == package | {"spanline.pytest_plugin"}
    assert "spanline.testing" not in loaded["modules"]
