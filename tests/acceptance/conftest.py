"""The acceptance suite relies on tests/conftest.py (clean SPANLINE_* state per test) and adds
one guard: no test may leave a span current in the main thread's context."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import spanline


@pytest.fixture(autouse=True)
def _no_leaked_current_span() -> Iterator[None]:
    assert spanline.current_span().span_id == "", "a previous test left a span current"
    yield
    assert spanline.current_span().span_id == "", "this test left a span current"
