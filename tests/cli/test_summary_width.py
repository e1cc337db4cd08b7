"""``spanline summary`` on a narrow terminal: a line breaks between two figures,
never between a label and its value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cli._entry import spanline
from tests.cli._runs import make_golden_run

LABELS = [
    "Status", "Agents", "Spans", "Duration", "Cost",
    "Input", "Output", "Reasoning", "Cached", "Total",
]  # fmt: skip


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("summary-width")
    make_golden_run(base)
    return base


@pytest.mark.parametrize("columns", [60, 80, 100])
def test_every_label_keeps_its_value_on_its_line(base: Path, columns: int) -> None:
    result = spanline("--dir", str(base), "summary", env={"COLUMNS": str(columns)})
    assert result.returncode == 0, result.stderr
    # The panel's borders are not part of the text.
    lines = [line.strip("│ ") for line in result.stdout.splitlines()]
    assert max(len(line) for line in result.stdout.splitlines()) <= columns
    for label in LABELS:
        (line,) = [line for line in lines if re.search(rf"\b{label}:", line)]
        assert re.search(rf"\b{label}: \S", line), result.stdout
    for line in lines:
        assert not line.startswith("|") and not line.endswith("|"), result.stdout
