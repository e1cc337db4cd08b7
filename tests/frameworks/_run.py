"""Run a program of ``programs/`` in a framework venv, traced into a base directory.

The frameworks do not share one environment (CrewAI pins ``openai<3`` and an older
pydantic), so each set lives in a venv of its own, cached outside the clone and
made by ``scripts/test-venv.sh`` from ``tests/venvs/NAME.txt``. Programs run there
with spanline imported from this checkout.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

from tests.frameworks._agent_server import AgentServer

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = Path(__file__).resolve().parent / "programs"


@functools.cache
def venv_python(name: str) -> Path:
    """The python of the cached venv ``name`` (made on first use)."""
    made = subprocess.run(
        ["bash", str(ROOT / "scripts" / "test-venv.sh"), name],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    assert made.returncode == 0, f"could not make the {name} venv:\n{made.stderr[-4000:]}"
    return Path(made.stdout.strip()) / "bin" / "python"


def run_program(
    venv: str,
    program: str,
    server: AgentServer,
    base: Path,
    *args: str,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``programs/<program>.py`` in the venv, traced into ``base``; it must exit 0."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SPANLINE_", "OTEL_", "LOGFIRE_", "OPENAI_", "GOOGLE_"))
    }
    environment |= {
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
        "SPANLINE_DIR": str(base),
        "AGENT_SERVER_URL": server.url,
        "OPENAI_BASE_URL": f"{server.url}/v1",
        "OPENAI_API_KEY": "sk-test",
        "GOOGLE_API_KEY": "test-key",
        "GOOGLE_GEMINI_BASE_URL": server.url,
        # Nothing leaves the machine: telemetry the frameworks send home is off, and any
        # other request to a host that is not loopback meets a closed local port.
        "CREWAI_DISABLE_TELEMETRY": "true",
        "CREWAI_TRACING_ENABLED": "false",
        "OTEL_SDK_DISABLED": "false",
        "LANGSMITH_TRACING": "false",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
        **(env or {}),
    }
    done = subprocess.run(
        [str(venv_python(venv)), str(PROGRAMS / f"{program}.py"), *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=base,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, f"{program} failed ({done.returncode}):\n{done.stderr[-6000:]}"
    return done


def only_run(base: Path) -> Path:
    """The one run the program wrote under ``base``."""
    runs = sorted(path for path in (base / "runs").iterdir() if path.name != "latest")
    assert len(runs) == 1, runs
    return runs[0]
