"""A session budget set with the session's own setting holds across the session's runs."""

from __future__ import annotations

from pathlib import Path

from tests._helpers import run_python

PROGRAM = """
import spanline
from spanline.exceptions import BudgetExceeded

@spanline.traced_llm(provider="anthropic", model="claude-sonnet-4-5")
def think(prompt):
    usage = {{"input_tokens": 900, "output_tokens": 100}}
    return {{"type": "message", "model": "claude-sonnet-4-5", "usage": usage}}

for run in range(2):
    spanline.configure_observability(
        enabled=True, run_dir={base!r}, session_id="talk",
        budget={{"session_max_tokens": 2500, "action": "raise"}},
    )
    calls = 0
    try:
        for _ in range(5):
            think("hi")
            calls += 1
    except BudgetExceeded:
        pass
    print(calls)
    spanline.shutdown()
"""


def test_the_second_run_of_a_session_starts_with_what_the_first_spent(tmp_path: Path) -> None:
    result = run_python(PROGRAM.format(base=str(tmp_path)))
    assert result.returncode == 0, result.stderr
    # 1,000 tokens a call: the third call crosses 2,500; the next run's first call is stopped.
    assert result.stdout.split() == ["3", "0"]
    assert (tmp_path / "sessions" / "talk" / "spend.jsonl").is_file()
