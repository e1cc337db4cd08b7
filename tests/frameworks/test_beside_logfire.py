"""Each framework beside Logfire, in one process: Logfire configured first with its own
integration for the framework, then spanline with the bridge on Logfire's provider.
spanline's run passes the same checks as alone, and Logfire's spans are those of a
Logfire-only run of the same program (names, count, parents, attributes)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.frameworks._agent_server import AgentServer, agent_server
from tests.frameworks._checks import check_agent_run
from tests.frameworks._run import only_run, run_program

#: Framework -> the SDK's and the framework's integrations spanline loads.
FRAMEWORKS = {
    "openai-agents": "openai,openai-agents",
    "pydantic-ai": "openai,pydantic-ai",
    "langgraph": "openai,langchain",
    "google-adk": "google-genai,google-adk",
    "google-adk-sub-agents": "google-genai,google-adk",
    "crewai": "openai,crewai",
}
#: The venv each framework runs in (CrewAI's pins keep it apart).
VENVS = {"crewai": "crewai"}
#: Attributes that differ from one run to the next whatever the tracers (ids, times),
#: and ids and times inside other values.
_VARYING = re.compile(r"(^|[._])(id|ids|port|duration|time|timestamp)$|_id$")
_RANDOM = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # uuids
    r"|\b[0-9a-f]{16,32}\b"  # trace and span ids
    r"|\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:?\d\d)?"  # times
    r"|\b0x[0-9a-f]+\b"  # addresses in object reprs
)


def _unvarying(name: str | None) -> str | None:
    """A span's name without the ids some frameworks put in it (CrewAI's crew uuid)."""
    return None if name is None else _RANDOM.sub("~", name)


def _stable(attributes: dict[str, Any]) -> dict[str, Any]:
    return {
        key: _RANDOM.sub("~", value) if isinstance(value, str) else value
        for key, value in attributes.items()
        if not _VARYING.search(key)
    }


def _logfire_spans(framework: str, who: str, base: Path) -> tuple[list[Any], AgentServer]:
    base.mkdir()
    with agent_server() as server:
        env = {"SPANLINE_INSTRUMENT": FRAMEWORKS[framework]} if who == "spanline" else {}
        done = run_program(
            VENVS.get(framework, "agents"), "beside_logfire", server, base, framework, who, env=env
        )
    spans = json.loads(done.stdout.splitlines()[-1])
    shown = sorted(
        json.dumps(
            [_unvarying(span["name"]), _unvarying(span["parent"]), _stable(span["attributes"])],
            sort_keys=True,
        )
        for span in spans
    )
    return shown, server


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
def test_spanline_beside_logfire_changes_neither_run(framework: str, tmp_path: Path) -> None:
    alone, _ = _logfire_spans(framework, "alone", tmp_path / "alone")
    beside, server = _logfire_spans(framework, "spanline", tmp_path / "beside")
    assert alone  # Logfire's integration recorded the run
    assert beside == alone
    check_agent_run(only_run(tmp_path / "beside"), server)
