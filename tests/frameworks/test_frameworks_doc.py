"""docs/frameworks.md shows code the test suite runs: each ```python program=NAME block is
taken, line by line, from tests/frameworks/programs/NAME.py (a program the
framework tests run), and each screenshot it shows exists and is small."""

from __future__ import annotations

import re
from pathlib import Path

from tests.frameworks._run import PROGRAMS, ROOT

PAGE = ROOT / "docs" / "frameworks.md"
BLOCK = re.compile(r"^```python program=(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)]+\.png)\)")


def test_every_example_is_code_of_a_tested_program() -> None:
    blocks = BLOCK.findall(PAGE.read_text())
    names = {name for name, _ in blocks}
    assert {"openai_agents", "langgraph_agents", "crewai_crew", "pydantic_ai_agents"} <= names
    assert {"google_adk_agents", "beside_logfire"} <= names
    tested = {path.stem for path in Path(__file__).parent.glob("test_*.py")}
    assert tested  # the programs are run by these modules
    for name, code in blocks:
        source = (PROGRAMS / f"{name}.py").read_text()
        assert any(name in (Path(__file__).parent / f"{t}.py").read_text() for t in tested), name
        program = [line.strip() for line in source.splitlines()]
        shown = [line.strip() for line in code.splitlines() if line.strip()]
        assert [line for line in shown if line not in program] == [], name


def test_every_screenshot_exists_and_is_small() -> None:
    images = IMAGE.findall(PAGE.read_text())
    assert len(images) == 5
    for image in images:
        png = (PAGE.parent / image).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n", image
        assert len(png) < 120_000, (image, len(png))
