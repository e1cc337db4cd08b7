"""``spanline list`` shows every run's id whole, at any width: what it shows is what
``show``, ``summary`` and ``compare`` take."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.cli._entry import spanline
from tests.cli._runs import make_golden_run

IDS = ["golden-20231114T221320-a1b2c3", "golden-20231114T221321-d4e5f6"]
_ID = re.compile(r"\bgolden-\d{8}T\d{6}-[0-9a-f]{6}\b")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("list-ids")
    for number, run_id in enumerate(IDS):
        make_golden_run(base, run_id, start=1_700_000_000.0 + number)
    return base


@pytest.mark.parametrize("columns", [80, 120, 320])
def test_list_shows_ids_that_the_other_commands_take(base: Path, columns: int) -> None:
    env = {"COLUMNS": str(columns)}
    listed = spanline("--dir", str(base), "list", env=env)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert max(len(line) for line in lines) <= columns, listed.stdout
    shown = [match.group(0) for line in lines for match in _ID.finditer(line)]
    assert shown == IDS[::-1], listed.stdout  # newest first, each whole
    assert "Status" in lines[0]
    for run_id in shown:
        summary = spanline("--dir", str(base), "summary", run_id, env=env)
        assert summary.returncode == 0, summary.stderr
    compared = spanline("--dir", str(base), "compare", *shown, env=env)
    assert compared.returncode == 0, compared.stderr


def test_a_wide_terminal_shows_every_column(base: Path) -> None:
    listed = spanline("--dir", str(base), "list", env={"COLUMNS": "320"})
    header = listed.stdout.splitlines()[0].split("┃")
    assert [name.strip() for name in header] == [
        "Run", "Started (UTC)", "Duration", "Cost", "Agents", "Status", "Question", "Disk",
        "Analyzed",
    ]  # fmt: skip
    assert "Review the parser crate for edge cases" in listed.stdout


@pytest.mark.parametrize("columns", [80, 320])
def test_a_run_with_a_failed_agent_says_so_in_the_list(base: Path, columns: int) -> None:
    """The runs' status is ok (the orchestrator caught the failure), and the list
    says beside it that one agent failed, as the summary's header does."""
    listed = spanline("--dir", str(base), "list", env={"COLUMNS": str(columns)})
    assert listed.returncode == 0, listed.stderr
    rows = [line for line in listed.stdout.splitlines() if _ID.search(line)]
    assert len(rows) == 2 and all("ok, 1 failed" in row for row in rows), listed.stdout
    as_json = spanline("--dir", str(base), "list", "--json")
    assert [(row["status"], row["failed_agents"]) for row in json.loads(as_json.stdout)] == [
        ("ok", 1),
        ("ok", 1),
    ]
