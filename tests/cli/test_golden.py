"""Terminal output of the read commands, pinned by golden files at 100 columns, no colour.

The run is deterministic (ids 1, 2, 3…, a clock of one second a reading, fixed
metadata), so every figure, date and size is stable. Regenerate the files with
``UPDATE_GOLDEN=1 pytest tests/cli/test_golden.py`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests._helpers import run_cli
from tests.cli._runs import cli_env, make_golden_run

GOLDEN = Path(__file__).parent / "golden"

CASES = {
    "summary": ("summary",),
    "tools": ("tools",),
    "tools_by_calls": ("tools", "--sort", "calls"),
    "list": ("list",),
    "show": ("show",),
    "show_errors": ("show", "--errors"),
    "show_agent": ("show", "--agent", "reviewer-1"),
    # The writer has no agent id: the name the tree shows finds it.
    "show_agent_by_name": ("show", "--agent", "writer"),
    "show_capped": ("show", "--depth", "0", "--limit", "5"),
}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("golden")
    make_golden_run(base)
    return base


@pytest.mark.parametrize("name", sorted(CASES))
def test_terminal_output_matches_the_golden_file(name: str, base: Path) -> None:
    result = run_cli("--dir", str(base), *CASES[name], env=cli_env())
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    golden = GOLDEN / f"{name}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(result.stdout, encoding="utf-8")
    assert result.stdout == golden.read_text(encoding="utf-8")
