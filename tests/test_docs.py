"""Every ```python block in README.md and docs/ runs, in a fresh interpreter."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests._helpers import ROOT, run_python

BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCKS = [
    pytest.param(
        code, id=f"{page.name}:{ROOT.joinpath(page).read_text()[: m.start()].count(chr(10)) + 1}"
    )
    for page in PAGES
    for m in BLOCK.finditer(page.read_text())
    for code in [m.group(1)]
]


@pytest.mark.parametrize("code", BLOCKS)
def test_doc_block_runs(code: str, tmp_path: Path) -> None:
    result = run_python(code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_docs_have_blocks() -> None:
    assert len(BLOCKS) >= 6


def test_user_facing_text_says_what_it_means_not_internal_numbers() -> None:
    """Docs, examples, messages, docstrings, tests and benchmarks never cite internal design
    numbers (numbered contracts, references or issues): they say what is meant."""
    import re

    pattern = re.compile(
        r"\bcontracts? \d+|\breference 00\d|\bissues? #?\d+|\bthe platform issue", re.IGNORECASE
    )
    places = [ROOT / "README.md", ROOT / "CHANGELOG.md"]
    for folder, suffix in (
        ("docs", "*.md"),
        ("examples", "*.py"),
        ("src", "*.py"),
        ("src", "*.js"),
        ("src", "*.html"),
        ("tests", "*.py"),
        ("benchmarks", "*.py"),
        ("scripts", "*.py"),
        ("scripts", "*.sh"),
    ):
        places += sorted((ROOT / folder).rglob(suffix))
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in places
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if pattern.search(line)
    ]
    assert found == []
