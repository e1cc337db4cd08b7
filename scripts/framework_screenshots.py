"""Make docs/frameworks/*.png: each framework's lead -> researcher program, run for real
against the loopback agent server (tests/frameworks), exported as the dashboard's static
report and photographed in headless Chromium (Debian's ``chromium``, never a downloaded
one).

Usage (from the checkout, with the dev extra installed)::

    python scripts/framework_screenshots.py [FRAMEWORK ...]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.frameworks._agent_server import agent_server  # noqa: E402
from tests.frameworks._run import only_run, run_program  # noqa: E402

#: Framework -> (venv, program, its arguments, SPANLINE_INSTRUMENT).
RUNS = {
    "openai-agents": ("agents", "openai_agents", ("as_tool",), "openai,openai-agents"),
    "langchain": ("agents", "langgraph_agents", (), "openai,langchain"),
    "pydantic-ai": ("agents", "pydantic_ai_agents", (), "openai,pydantic-ai"),
    "google-adk": ("agents", "google_adk_agents", ("agent_tool",), "google-genai,google-adk"),
    "crewai": ("crewai", "crewai_crew", (), "openai,crewai"),
}
OUT = ROOT / "docs" / "frameworks"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def report(framework: str, base: Path) -> Path:
    """Run the framework's program and export its run as the static report."""
    venv, program, args, instrument = RUNS[framework]
    with agent_server() as server:
        run_program(venv, program, server, base, *args, env={"SPANLINE_INSTRUMENT": instrument})
    page = base / "report.html"
    run = only_run(base)
    subprocess.run(
        [sys.executable, "-m", "spanline", "export", run.name, "--dir", str(base),
         "--format", "html", "--out", str(page)],
        check=True,
    )  # fmt: skip
    return page


def main(frameworks: list[str]) -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        for framework in frameworks or list(RUNS):
            with tempfile.TemporaryDirectory() as tmp:
                page_path = report(framework, Path(tmp))
                page = browser.new_page(viewport={"width": 1000, "height": 620})
                page.goto(page_path.as_uri())
                page.wait_for_selector("#gantt g.lane")
                page.screenshot(path=str(OUT / f"{framework}.png"))
                page.close()
            print(OUT / f"{framework}.png")
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1:])
