"""A finished run and a live one under one base directory, and a real server over them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import spanline
from spanline.dashboard._server import DashboardServer
from tests._helpers import configure


def make_finished_run(base: Path) -> spanline.Run:
    """A small finished run: a phase with two agents, one failing, with tools below them."""
    run = configure(base, service_name="dash")
    tracer = spanline.get_tracer()
    with tracer.span("discovery", kind="phase"):
        for name in ("agent-a", "agent-b"):
            try:
                with tracer.span(name, kind="agent") as agent:
                    agent.add(tokens=100, tool_uses=1)
                    with tracer.span("tool.read", kind="tool") as tool:
                        tool.add(tokens=5)
                    if name == "agent-b":
                        raise RuntimeError("boom <b>")
            except RuntimeError:
                pass
    tracer.phase("discovery-done", libraries=2)
    spanline.shutdown()
    return run


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def finished(base: Path) -> spanline.Run:
    return make_finished_run(base)


@pytest.fixture
def server(base: Path) -> Iterator[DashboardServer]:
    served = DashboardServer(base, host="127.0.0.1", port=0, ping_s=0.3, poll_s=0.05)
    served.start_in_thread()
    assert served.running
    yield served
    served.stop()
    assert not served.running


@pytest.fixture
def client(server: DashboardServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as http:
        yield http
