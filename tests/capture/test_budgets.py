"""Budgets: bad input, the actions, the run's budget from arguments and variables, and
agents' budgets, with ``@traced_llm`` functions that answer like OpenAI."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

import spanline
from spanline.testing import capture_spans
from tests._helpers import by_kind, configure, read_lines, run_cli, run_python

#: gpt-4o-mini: 0.15 USD per million input tokens, 0.6 per million output tokens.
USAGE = {"prompt_tokens": 1000, "completion_tokens": 500}
CALL_USD = (1000 * 0.15 + 500 * 0.6) / 1_000_000
ANSWER = {"id": "x", "model": "gpt-4o-mini", "choices": [], "usage": USAGE}


@spanline.traced_llm(model="gpt-4o-mini")
def ask() -> dict[str, Any]:
    return ANSWER


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"max_usd": -1}, "0 or more"),
        ({"max_tokens": -5}, "0 or more"),
        ({"max_usd": float("nan")}, "finite"),
        ({"max_usd": "lots"}, "number"),
        ({"max_usd": 1, "action": "explode"}, "unknown budget action"),
        ({}, "give max_usd, max_tokens or both"),
    ],
)
def test_bad_budgets_given_as_arguments_raise(keywords: dict[str, Any], message: str) -> None:
    with pytest.raises(spanline.ConfigurationError, match=message):
        spanline.budget(**keywords)
    with pytest.raises(spanline.ConfigurationError):
        spanline.traced_agent(budget=keywords)
    if keywords:
        with pytest.raises(spanline.ConfigurationError, match="budget"):
            spanline.configure_observability(enabled=False, budget=keywords)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SPANLINE_MAX_USD", "-1"),
        ("SPANLINE_MAX_TOKENS", "many"),
        ("SPANLINE_SESSION_MAX_USD", "-0.5"),
        ("SPANLINE_BUDGET_ACTION", "explode"),
    ],
)
def test_bad_budget_variables_warn_and_are_skipped(
    variable: str, value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = spanline.configure_observability(enabled=True, run_dir=tmp_path)
    try:
        messages = [str(w.message) for w in caught if w.category is spanline.SpanlineWarning]
        assert len(messages) == 1 and variable in messages[0]
        for _ in range(3):
            ask()  # no budget stops anything
    finally:
        spanline.shutdown()
    assert run is not None
    header = read_lines(run.telemetry_path)[0]
    assert "budget" not in header


def test_the_run_budget_from_the_variables_stops_calls_and_the_header_records_it(
    tmp_path: Path,
) -> None:
    code = (
        "import spanline\n"
        "@spanline.traced_llm(model='gpt-4o-mini')\n"
        f"def ask(): return {ANSWER!r}\n"
        "run = spanline.configure_observability(enabled=True)\n"
        "print(run.telemetry_path)\n"
        "done = 0\n"
        "try:\n"
        "    for _ in range(10):\n"
        "        ask(); done += 1\n"
        "except spanline.BudgetExceeded as exc:\n"
        "    print(done, exc.budget)\n"
    )
    env = {"SPANLINE_DIR": str(tmp_path), "SPANLINE_MAX_TOKENS": "4000"}
    result = run_python(code, env=env)
    assert result.returncode == 0, result.stderr
    path, stopped = result.stdout.splitlines()
    assert stopped == "3 run"  # 1,500 tokens a call: the third reaches 4,000
    header = read_lines(Path(path))[0]
    assert header["budget"] == {"max_tokens": 4000, "action": "raise"}


def test_warn_writes_one_event_and_one_line_and_lets_calls_go_on(tmp_path: Path) -> None:
    code = (
        "import spanline\n"
        "@spanline.traced_llm(model='gpt-4o-mini')\n"
        f"def ask(): return {ANSWER!r}\n"
        "run = spanline.configure_observability(enabled=True,"
        f" budget={{'max_usd': {1.5 * CALL_USD!r}, 'action': 'warn'}})\n"
        "print(run.telemetry_path)\n"
        "for _ in range(5): ask()\n"
    )
    result = run_python(code, env={"SPANLINE_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "exceeded" in line]
    assert len(lines) == 1 and "budget 'run' exceeded (max_usd=" in lines[0]
    events = read_lines(Path(result.stdout.strip()))
    crossed = [e for e in by_kind(events, "event") if e["name"] == "budget.exceeded"]
    assert len(crossed) == 1
    assert crossed[0]["attributes"]["budget.action"] == "warn"
    assert len([e for e in by_kind(events, "span_end")]) == 5


def test_a_callback_is_called_once_with_the_budget() -> None:
    called: list[tuple[str, int]] = []
    with capture_spans():
        with spanline.budget(
            max_tokens=2000, action=lambda b: called.append((b.name, b.spent_tokens)), name="cb"
        ):
            for _ in range(4):
                ask()
    assert called == [("cb", 3000)]


def test_nested_scopes_count_toward_every_enclosing_budget() -> None:
    with capture_spans():
        with spanline.budget(max_usd=1.0) as outer:
            ask()
            with spanline.budget(max_tokens=1500) as inner:
                ask()
                with pytest.raises(spanline.BudgetExceeded) as stopped:
                    ask()
            ask()  # the inner limit binds inside its block only
    assert stopped.value.budget == "budget"
    assert inner.spent_tokens == 1500 and inner.remaining_tokens == 0 and inner.exceeded
    assert outer.spent_tokens == 4500 and not outer.exceeded
    assert outer.remaining_usd == pytest.approx(1.0 - 3 * CALL_USD)


def test_an_agent_budget_limits_the_agent_and_its_sub_agents_only() -> None:
    @spanline.traced_agent(name="helper")
    def helper() -> None:
        ask()

    @spanline.traced_agent(name="lead", budget={"max_tokens": 3000})
    def lead() -> int:
        done = 0
        try:
            for _ in range(10):
                helper()  # a sub-agent's calls count toward the lead's budget
                done += 1
        except spanline.BudgetExceeded as exc:
            assert exc.budget == "lead"
        return done

    @spanline.traced_agent(name="free")
    def free() -> int:
        for _ in range(5):
            ask()
        return 5

    with capture_spans():
        assert lead() == 2
        assert free() == 5  # outside the lead's budget: nothing stops it
        assert lead() == 2  # each call of the agent has a budget of its own


def test_the_summary_shows_limit_spent_and_remaining(tmp_path: Path) -> None:
    run = configure(tmp_path, budget=spanline.budget(max_usd=1.0, max_tokens=100_000))
    for _ in range(3):
        ask()
    summary = spanline.shutdown()
    assert summary is not None
    budget = summary.to_dict()["budget"]
    assert budget == {
        "max_usd": 1.0,
        "max_tokens": 100_000,
        "action": "raise",
        "spent_usd": round(3 * CALL_USD, 8),
        "spent_tokens": 4500,
        "remaining_usd": round(1.0 - 3 * CALL_USD, 8),
        "remaining_tokens": 95_500,
        "exceeded": False,
    }
    assert list(summary.to_dict())[-1] == "budget"
    stored = json.loads(run.summary_path.read_text())
    assert stored["budget"] == budget
    shown = run_cli("summary", str(run.summary_path.parent))
    assert shown.returncode == 0, shown.stderr
    assert "Budget: limit $1.00, 100,000 tokens | spent $0.0014, 4,500 tokens" in shown.stdout


def test_an_async_agent_budget_counts_the_calls_it_awaits() -> None:
    import asyncio

    @spanline.traced_llm(model="gpt-4o-mini")
    async def ask_async() -> dict[str, Any]:
        return ANSWER

    @spanline.traced_agent(name="async-lead", budget=spanline.budget(max_tokens=1500))
    async def lead() -> int:
        done = 0
        try:
            for _ in range(5):
                await ask_async()
                done += 1
        except spanline.BudgetExceeded as exc:
            assert exc.budget == "async-lead"
        return done

    with capture_spans():
        assert asyncio.run(lead()) == 1


def test_a_generator_agent_with_a_budget_is_refused() -> None:
    with pytest.raises(spanline.ConfigurationError, match="not generators"):

        @spanline.traced_agent(budget={"max_usd": 1})
        def stream() -> Any:
            yield 1


def test_budget_exceeded_crosses_process_boundaries_whole() -> None:
    import pickle

    error = spanline.BudgetExceeded("run", "max_usd=0.5", 0.51, 1200)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.budget, copy.limit, copy.spent_usd, copy.spent_tokens) == (
        "run",
        "max_usd=0.5",
        0.51,
        1200,
    )
    assert str(copy) == str(error)
    assert isinstance(copy, RuntimeError) and isinstance(copy, spanline.SpanlineError)
