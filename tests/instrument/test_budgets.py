"""Budgets stop real SDK calls before their request: a loop, and eight agents at once."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import spanline
from spanline.testing import capture_spans
from tests.instrument._providers import ProviderServer
from tests.instrument.conftest import openai_client

pytestmark = pytest.mark.usefixtures("instrumented")

MESSAGES = [{"role": "user", "content": "hi"}]
#: One call's cost, worked out by hand from the server's usage (120 input tokens, 20 of
#: them cached; 30 output tokens, reasoning included) and gpt-4o's prices per million
#: tokens (input 2.5, cached input 1.25, output 10).
CALL_USD = (100 * 2.5 + 20 * 1.25 + 30 * 10.0) / 1_000_000


def test_a_loop_stops_before_the_request_that_would_cross_the_limit(
    server: ProviderServer,
) -> None:
    client = openai_client(server)
    limit = 3.5 * CALL_USD  # three calls stay under it, the fourth crosses it
    answered = 0
    with capture_spans(), spanline.budget(max_usd=limit, action="raise") as budget:
        before = len(server.requests)
        with pytest.raises(spanline.BudgetExceeded) as stopped:
            for _ in range(50):
                client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
                answered += 1
        received = len(server.requests) - before
        with pytest.raises(spanline.BudgetExceeded):  # and again: still nothing sent
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        after = len(server.requests) - before
    assert answered == 4
    assert received == after == 4  # the stopped calls sent no request
    assert budget.spent_usd == pytest.approx(4 * CALL_USD)
    assert budget.spent_usd <= limit + CALL_USD
    assert budget.spent_tokens == 4 * 150
    assert stopped.value.budget == "budget" and stopped.value.spent_usd == budget.spent_usd


def test_eight_agents_under_one_budget_overshoot_by_the_calls_in_flight_at_most(
    server: ProviderServer,
) -> None:
    """The test counts the calls in flight itself: each agent's call is counted from
    before it is made until it returns. A budget with the same limit and a callback
    reads that count, and the server's, when the limit is crossed."""
    client = openai_client(server)
    limit = 10.5 * CALL_USD
    lock = threading.Lock()
    in_flight = 0
    seen: dict[str, int] = {}

    def crossed(_: Any) -> None:
        with lock:
            seen.update(in_flight=in_flight, requests=len(server.requests))

    @spanline.traced_agent(name="worker")
    def agent(_: int) -> int:
        nonlocal in_flight
        calls = 0
        while True:
            with lock:
                in_flight += 1
            try:
                client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            except spanline.BudgetExceeded:
                return calls
            finally:
                with lock:
                    in_flight -= 1
            calls += 1

    with capture_spans():
        start = len(server.requests)
        with spanline.budget(max_usd=limit, action=crossed, name="watch"):
            with spanline.budget(max_usd=limit, action="raise") as budget:
                with spanline.ThreadPoolExecutor(8) as pool:
                    answered = sum(pool.map(agent, range(8)))
        received = len(server.requests) - start
    assert seen, "the limit was never crossed"
    assert 1 <= seen["in_flight"] <= 8
    assert received == answered  # every request sent was answered and counted
    assert budget.spent_usd == pytest.approx(answered * CALL_USD)
    # Past the limit by the calls in flight when it was crossed, at most ...
    assert budget.spent_usd <= limit + seen["in_flight"] * CALL_USD + 1e-12
    # ... and no request was sent after that but theirs.
    assert len(server.requests) - seen["requests"] <= seen["in_flight"] - 1
