"""Fixtures: the loopback agent server the framework programs talk to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.frameworks._agent_server import AgentServer, agent_server


@pytest.fixture
def server() -> Iterator[AgentServer]:
    with agent_server() as running:
        yield running
