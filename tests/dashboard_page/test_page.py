"""The dashboard page in a real browser (Debian chromium + Playwright).

Served by spanline's dashboard server (``spanline.dashboard.start_in_thread``),
and as a static report (``spanline export --format html``) opened from disk.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from spanline.dashboard.page import build_page, report_data
from tests._browser import assert_final_eigenda_page, distinct_colours
from tests.dashboard_page.conftest import XSS_NAME, Watched, eigenda_run, serve


def assert_final_state(page: Any, run_dir: Path) -> None:
    """35 lanes as 9 parallel + 15 sequential + 10 parallel + 1; cards = run_summary.json."""
    summary = json.loads((run_dir / "run_summary.json").read_text())
    # A live page may take a few seconds to see the end (the server's refetch on process_end).
    expect(page.locator("#mode")).to_have_text("report", timeout=20_000)
    # The page's CSP forbids eval, so no wait_for_function: expect() polls instead.
    expect(page.locator("#cards .card")).to_have_count(35)
    expect(page.locator("#mode")).to_have_text("report")
    expect(page.locator("#lane-count")).to_have_text("35 agent lanes, 0 queued")
    assert_final_eigenda_page(page, summary)
    assert page.text_content("#current-phase") == "finished"
    assert page.text_content("#complete") == "100%"


def screenshot_ok(watched: Watched, browser: Any, path: Path) -> None:
    png = watched.page.screenshot(path=str(path), full_page=True)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert distinct_colours(browser, png) > 64, "the screenshot looks blank"


def test_served_page_shows_the_finished_run(
    runs_base: Path, watched: Watched, browser: Any, tmp_path: Path
) -> None:
    page = watched.page
    with serve(runs_base) as url:
        page.goto(url + "/")
        # The newest run is the default: the hostile names render as text only.
        page.wait_for_selector("#cards .card")
        assert page.text_content("#cards .card .name") == XSS_NAME
        assert page.text_content("#gantt g.lane text.lane-label") == XSS_NAME
        assert "<script>alert(2)</script>" in page.text_content("#errors li .msg")
        assert page.locator("img").count() == 0
        assert page.locator("#errors script").count() == 0
        screenshot_ok(watched, browser, tmp_path / "hostile.png")

        # The run picker switches runs without a reload.
        run_dir = eigenda_run(runs_base)
        page.evaluate("window.__same_document = true")
        page.select_option("#run-picker", run_dir.name)
        assert_final_state(page, run_dir)
        assert page.evaluate("window.__same_document") is True
        page.click(f'g.lane[data-span-id="{_first_agent(run_dir)}"] rect.bar')
        page.wait_for_selector("#ticks line.tick.llm", state="attached")
        assert page.locator("#ticks line.tick.tool").count() >= 3
        screenshot_ok(watched, browser, tmp_path / "served.png")
    assert watched.dialogs == []
    assert watched.errors == []


#: ``spanline export`` with the server's libraries made unimportable: no [dashboard] extra.
EXPORT_WITHOUT_EXTRA = (
    "import sys\n"
    "for name in ('starlette', 'sse_starlette', 'uvicorn', 'anyio'):\n"
    "    sys.modules[name] = None\n"
    "from spanline.cli import main\n"
    "status = main(sys.argv[1:])\n"
    "loaded = {m.split('.')[0] for m in sys.modules if sys.modules[m]}\n"
    "assert not {'starlette', 'uvicorn'} & loaded\n"
    "sys.exit(status)\n"
)


def test_static_report_opens_from_disk(
    runs_base: Path, watched: Watched, browser: Any, tmp_path: Path
) -> None:
    run_dir = eigenda_run(runs_base)
    report = tmp_path / "report.html"
    args = ["export", run_dir.name, "--dir", str(runs_base), "--format", "html"]
    done = subprocess.run(
        [sys.executable, "-c", EXPORT_WITHOUT_EXTRA, *args, "--out", str(report)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{report}\n"
    assert report.read_text(encoding="utf-8") == build_page(report_data(run_dir))
    page = watched.page
    page.goto(report.as_uri())
    assert_final_state(page, run_dir)
    assert page.text_content("#mode") == "report"
    screenshot_ok(watched, browser, tmp_path / "report.png")
    assert all(url.startswith("file://") for url in watched.requests), watched.requests
    assert watched.dialogs == []
    assert watched.errors == []


def test_static_report_escapes_hostile_names(
    runs_base: Path, watched: Watched, tmp_path: Path
) -> None:
    (hostile,) = (runs_base / "runs").glob("hostile-*")
    html = build_page(report_data(hostile))
    assert XSS_NAME not in html and "<script>alert" not in html  # escaped inside the JSON
    report = tmp_path / "hostile.html"
    report.write_text(html, encoding="utf-8")
    watched.page.goto(report.as_uri())
    watched.page.wait_for_selector("#cards .card")
    assert watched.page.text_content("#cards .card .name") == XSS_NAME
    assert watched.page.locator("img").count() == 0
    assert watched.dialogs == []
    assert watched.errors == []


def _first_agent(run_dir: Path) -> str:
    summary = json.loads((run_dir / "run_summary.json").read_text())
    return str(summary["agents"][0]["span_id"])


KILLED_PROGRAM = """
import sys, time
import spanline

spanline.configure_observability(enabled=True, run_dir=sys.argv[1], service_name="killed")
tracer = spanline.get_tracer()
with tracer.span("done-agent", kind="agent"):
    pass
tracer.start_span("crawler", kind="agent")  # never ends: the process is killed
spanline.flush()
print("ready", flush=True)
time.sleep(60)
"""


def test_a_killed_runs_open_agents_show_as_abandoned(watched: Watched, tmp_path: Path) -> None:
    """Every process of the run is gone: what never ended is abandoned, not running."""
    base = tmp_path / "base"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_PROGRAM, str(base)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    try:
        assert child.stdout.readline().strip() == "ready"
        with serve(base) as url:
            page = watched.page
            page.goto(url)  # while the process lives, the agent is running
            crawler = page.locator("#cards .card").filter(
                has=page.locator(".name", has_text="crawler")
            )
            expect(crawler).to_have_attribute("data-status", "running")
            expect(page.locator("#mode")).to_have_text("live")
            child.send_signal(signal.SIGKILL)
            child.wait(10)
            page.reload()
            expect(crawler).to_have_attribute("data-status", "abandoned")
            expect(page.locator("#mode")).to_have_text("ended (processes gone)")
            # Neither a plan nor a phase: progress is unknown, not "0/0 = 100%".
            expect(page.locator("#complete")).to_have_text("-")
            expect(page.locator("#run-status")).to_have_text("incomplete")
            done = page.locator("#cards .card").filter(
                has=page.locator(".name", has_text="done-agent")
            )
            expect(done).to_have_attribute("data-status", "done")
    finally:
        child.kill()
        child.wait(10)
        child.stdout.close()
    assert watched.errors == []


def test_the_run_page_links_its_analysis_report(
    runs_base: Path, watched: Watched, tmp_path: Path
) -> None:
    """A run analysed with ``spanline analyze`` shows a link to its report, which the
    server serves; a run without one shows none."""
    import shutil

    from tests._helpers import run_cli

    base = tmp_path / "base"
    shutil.copytree(runs_base, base, symlinks=True)
    analysed = eigenda_run(base)
    result = run_cli("analyze", str(analysed))
    assert result.returncode == 0, result.stderr
    page = watched.page
    with serve(base) as url:
        page.goto(url + "/")
        page.wait_for_selector("#cards .card")
        # Another run, not analysed (whichever the page opened first): no link.
        names = page.eval_on_selector_all("#run-picker option", "els => els.map(e => e.value)")
        other = next(name for name in names if name and name != analysed.name)
        page.select_option("#run-picker", other)
        expect(page.locator("#report-link")).to_be_hidden()
        page.select_option("#run-picker", analysed.name)
        link = page.locator("#report-link")
        expect(link).to_be_visible()
        expect(link).to_have_text("analysis report")
        href = link.get_attribute("href")
        assert href == f"/api/runs/{analysed.name}/report"
        with page.context.expect_page() as opened:
            link.click()
        report = opened.value
        report.wait_for_load_state()
        assert report.url == url + href
        text = report.locator("body").inner_text()
        assert text.startswith(f"# Analysis of run {analysed.name}")
        assert text.rstrip("\n") == (analysed / "ANALYSIS_REPORT.md").read_text().rstrip("\n")
        report.close()
    assert watched.errors == []
