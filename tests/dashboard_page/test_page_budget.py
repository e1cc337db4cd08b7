"""The budget bar in Chromium: limit, spent and remaining, amber from 80% of the limit,
red at it, and no bar in a run without a budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests._helpers import run_python
from tests.dashboard_page.conftest import Watched, serve

#: 1,500 tokens a call; the limit is 10,000 tokens.
PROGRAM = """
import spanline
@spanline.traced_llm(model="gpt-4o-mini")
def ask():
    return {{"model": "gpt-4o-mini", "usage": {{"prompt_tokens": 1000, "completion_tokens": 500}}}}
run = spanline.configure_observability(enabled=True, service_name="budget{calls}", {budget})
for _ in range({calls}):
    ask()
print(run.run_id)
"""
LIMIT = "budget={'max_tokens': 10000, 'action': 'warn'}"


def _run(base: Path, calls: int, budget: str = LIMIT) -> str:
    done = run_python(PROGRAM.format(calls=calls, budget=budget), env={"SPANLINE_DIR": str(base)})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _bar(page: Any) -> tuple[str | None, str]:
    bar = page.locator("#budget-bar")
    color = bar.evaluate("el => getComputedStyle(el).backgroundColor")
    return bar.get_attribute("data-level"), color


def test_the_budget_bar_turns_amber_at_80_percent_and_red_at_the_limit(
    tmp_path: Path, watched: Watched
) -> None:
    runs = {calls: _run(tmp_path, calls) for calls in (2, 6, 7)}
    plain = _run(tmp_path, 1, budget="capture='off'")
    page = watched.page
    colors = {}
    with serve(tmp_path) as url:
        for calls, label, text, level in (
            (2, "budget (remaining 7,000 tokens)", "3,000 of 10,000 tokens", "ok"),
            (6, "budget (remaining 1,000 tokens)", "9,000 of 10,000 tokens", "amber"),
            (7, "budget (remaining 0 tokens)", "10,500 of 10,000 tokens", "red"),
        ):
            page.goto(f"{url}/?run={runs[calls]}")
            expect(page.locator("#mode")).to_have_text("report")
            expect(page.locator("#budget-stat")).to_be_visible()
            expect(page.locator("#budget-label")).to_have_text(label)
            expect(page.locator("#budget-text")).to_have_text(text)
            found, colors[level] = _bar(page)
            assert found == level
        page.goto(f"{url}/?run={plain}")
        expect(page.locator("#mode")).to_have_text("report")
        expect(page.locator("#budget-stat")).to_be_hidden()
    assert colors["amber"] == "rgb(230, 159, 0)"
    assert colors["red"] == "rgb(214, 39, 40)"
    assert len(set(colors.values())) == 3
    assert watched.errors == []
