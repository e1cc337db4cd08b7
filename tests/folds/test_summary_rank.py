"""A tool's 95th percentile, kept as its calls arrive, equals the one taken afresh."""

from __future__ import annotations

import heapq
import math
import random
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spanline.folds._summary_rank import KthLargest


def _afresh(values: array) -> float:
    return heapq.nlargest(len(values) - math.ceil(0.95 * len(values)) + 1, values)[-1]


# Few distinct values (ties everywhere) as well as many.
_durations = st.one_of(
    st.lists(st.sampled_from([0.0, 1.0, 2.5, 7.0]), min_size=1, max_size=400),
    st.lists(st.floats(0.0, 1e6, allow_nan=False), min_size=1, max_size=400),
)


@settings(max_examples=300, deadline=None)
@given(_durations, st.lists(st.integers(1, 60), min_size=1, max_size=40))
def test_the_kept_percentile_equals_the_fresh_one_after_every_step(
    durations: list[float], steps: list[int]
) -> None:
    rank, values, taken = KthLargest(), array("d"), 0
    for step in [*steps, len(durations)]:
        values.extend(durations[taken : taken + step])
        taken += step
        if values:
            assert rank.update(values) == _afresh(values)
        if taken >= len(durations):
            break


def test_a_long_rising_run_rebuilds_only_as_it_grows_manyfold() -> None:
    """Rising durations are the worst case (each new one enters the top); one call at a
    time over 200,000 calls, the answer stays exact and the spare is refilled rarely."""
    rebuilds: list[int] = []

    class Counted(KthLargest):
        __slots__ = ()

        def _rebuild(self, values: array, k: int) -> None:
            rebuilds.append(len(values))
            super()._rebuild(values, k)

    rank, values = Counted(), array("d")
    for number in range(200_000):
        values.append(float(number % 9_973) + number / 1e6)
        if number % 997 == 0 or number == 199_999:
            assert rank.update(values) == _afresh(values)
    assert len(rebuilds) <= 12  # about one each time the calls triple, not one per look


@pytest.mark.parametrize("shape", ["random", "ties", "rising", "falling", "spikes"])
@pytest.mark.parametrize("seed", range(4))
def test_a_rebuild_over_many_values_takes_the_same_largest_as_a_heap(shape: str, seed: int) -> None:
    """Past a few thousand values a rebuild bounds them with a sample first."""
    rng = random.Random(seed)
    count = rng.randrange(20_000, 120_000)
    make = {
        "random": lambda n: rng.random() * 1e4,
        "ties": lambda n: float(rng.choice((1, 2, 3))),
        "rising": lambda n: float(n),
        "falling": lambda n: float(-n),
        "spikes": lambda n: 1e6 * rng.random() if rng.random() < 0.01 else rng.random(),
    }[shape]
    values = array("d", (make(n) for n in range(count)))
    rank = KthLargest()
    assert rank.update(values) == _afresh(values)
    values.extend(make(n) for n in range(count, count + rng.randrange(1, 50_000)))
    assert rank.update(values) == _afresh(values)


def test_a_sample_that_misses_the_bulk_still_gives_the_exact_answer() -> None:
    """The sampled positions hold the only large values: the bound keeps too few, and
    the rebuild falls back to a heap over everything."""
    count, step = 200_000, 200_000 // 4096
    values = array("d", (1e9 if n % step == 0 else float(n % 1000) for n in range(count)))
    assert KthLargest().update(values) == _afresh(values)
