"""The page folds spans classified when they ended (a framework's OpenTelemetry spans,
read through the bridge) into the lanes of the Python fold: agents known only at their
end get their lanes, named and counted as the summary has them."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

import spanline
import spanline.otel
from spanline.dashboard.page import build_page, report_data
from tests._helpers import configure
from tests.dashboard_page.conftest import Watched
from tests.dashboard_page.test_page_fold_parity import JS_LANES, python_fold
from tests.otel_bridge.conftest import Host
from tests.otel_bridge.test_classify_at_end import _lead_researcher


def test_the_page_gives_agents_classified_at_their_end_their_lanes(
    watched: Watched, tmp_path: Path
) -> None:
    host = Host()
    run = configure(tmp_path)
    spanline.otel.install(host.provider)
    try:
        _lead_researcher(host)
    finally:
        spanline.shutdown()
        spanline.otel.uninstall()
        host.provider.shutdown()
    run_dir = run.telemetry_path.parent
    lanes, _, _ = python_fold(run_dir)
    data = report_data(run_dir)
    data["snapshot"]["summary"] = None  # the page's own fold alone
    report = tmp_path / "report.html"
    report.write_text(build_page(data), encoding="utf-8")
    watched.page.goto(report.as_uri())
    expect(watched.page.locator("#mode")).to_have_text("report")
    # In start order (the page's lanes are listed so; it learns of these at their end).
    folded = sorted(watched.page.evaluate(JS_LANES)["lanes"], key=lambda lane: lane["start_ts"])
    fields = ("span_id", "name", "kind", "agent_id", "start_ts", "end_ts", "tokens", "tool_uses")
    assert [{k: lane[k] for k in fields} for lane in folded] == [
        {k: lane[k] for k in fields} for lane in lanes
    ]
    assert [lane["name"] for lane in folded] == ["lead", "researcher"]
    assert [(lane["tokens"], lane["tool_uses"]) for lane in folded] == [(550, 2), (550, 1)]
    assert watched.errors == []
