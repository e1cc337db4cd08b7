"""The summary's budget is read from a run header that may be hostile: what is not a
limit is left out, never raised on, and the result is plain JSON."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from spanline.folds._summary_model import budget_summary


@pytest.mark.parametrize(
    "limits",
    [
        None,
        [],
        "max_usd",
        {},
        {"max_usd": float("inf")},
        {"max_usd": float("nan"), "max_tokens": True},
        {"max_usd": -1, "max_tokens": "9", "action": {"x": 1}},
        {"max_tokens": 1e308, "action": "raise" * 10_000},
        {"session_max_usd": "lots", "session_max_tokens": -3},
    ],
)
def test_a_hostile_budget_field_gives_a_plain_summary_or_none(limits: Any) -> None:
    found = budget_summary(limits, 1.5, 10)
    if found is None:
        return
    text = json.dumps(found, allow_nan=False)  # finite numbers, plain values only
    assert len(text) < 1000
    assert found["action"] in (None, "warn", "raise", "callback")
    for key in ("max_usd", "max_tokens", "remaining_usd", "remaining_tokens"):
        value = found[key]
        assert value is None or (math.isfinite(value) and 0 <= value <= 2**63 - 1)


def test_the_remaining_amount_never_goes_below_zero() -> None:
    found = budget_summary({"max_usd": 1.0, "max_tokens": 5, "action": "warn"}, 2.0, 9)
    assert found is not None
    assert found["remaining_usd"] == 0.0 and found["remaining_tokens"] == 0
    assert found["exceeded"] is True
