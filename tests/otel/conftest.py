"""A real OTLP receiver for the whole session: Arize Phoenix, in its own venv.

``scripts/test.sh`` installs the pinned Phoenix into
``~/.cache/spanline-tests/phoenix-<version>/`` (outside the clone) when it is missing;
this fixture starts it on free loopback ports and stops it by its pid. Without that
venv the Phoenix tests skip, except under CI, where they fail.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.otel._receiver import free_port

#: Keep in step with scripts/test.sh.
PHOENIX_VERSION = "20.26.1"
PHOENIX_VENV = Path.home() / ".cache" / "spanline-tests" / f"phoenix-{PHOENIX_VERSION}"


@dataclass(frozen=True)
class Phoenix:
    """A running Phoenix: its OTLP/HTTP base URL, its gRPC address and its REST base."""

    http: str
    grpc: str


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120  # ~10-25 s on this shared machine
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"phoenix exited ({process.returncode}): {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"phoenix was not ready in 120 s: {log.read_text()[-2000:]}")


def _require_phoenix() -> Path:
    if not (PHOENIX_VENV / ".complete").exists():
        message = f"Phoenix {PHOENIX_VERSION} is not installed (scripts/test.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return PHOENIX_VENV / "bin" / "phoenix"


def start_phoenix(workdir: Path, http_port: int, grpc_port: int) -> subprocess.Popen[bytes]:
    """Start Phoenix on these loopback ports, keeping its data in ``workdir``; return
    once it answers ``/healthz``. The caller stops it with :func:`stop_phoenix`."""
    executable = _require_phoenix()
    env = {
        **os.environ,
        "PHOENIX_WORKING_DIR": str(workdir),
        "PHOENIX_TELEMETRY_ENABLED": "false",
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(http_port),
        "PHOENIX_GRPC_PORT": str(grpc_port),
    }
    log = workdir / "phoenix.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(executable), "serve"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_ready(f"http://127.0.0.1:{http_port}", process, log)
    except BaseException:
        stop_phoenix(process)
        raise
    return process


def stop_phoenix(process: subprocess.Popen[bytes]) -> None:
    """Stop Phoenix by its pid (terminate, then kill)."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(30)


@pytest.fixture(scope="session")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Phoenix]:
    """Phoenix serving OTLP over HTTP and gRPC on 127.0.0.1 for this session."""
    _require_phoenix()
    workdir = tmp_path_factory.mktemp("phoenix")
    http_port, grpc_port = free_port(), free_port()
    process = start_phoenix(workdir, http_port, grpc_port)
    try:
        yield Phoenix(http=f"http://127.0.0.1:{http_port}", grpc=f"http://127.0.0.1:{grpc_port}")
    finally:
        stop_phoenix(process)
