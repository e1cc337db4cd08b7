"""A tool's 95th-percentile duration, kept up to date as its calls arrive.

The percentile is the k-th largest duration, ``k = n - ceil(0.95 n) + 1``. Taking
it afresh from all ``n`` durations (a heap of ``k``) cost 0.6 s for 3.6M calls of one
tool, and a live summary takes it at every pass and once more at the end. Here only
the durations that arrived since the last look are visited: the ``k`` largest are
kept in a min-heap (``top``, its root is the percentile), and the next largest below
them in a max-heap (``spare``), so that as ``k`` grows the next one moves up. Only
when ``spare`` runs dry are all durations visited again, and it is then refilled
with twice ``k`` more, so that happens each time ``n`` about triples. (``spare``
also takes every new value above the lowest it was refilled with: memory, not time.)
"""

from __future__ import annotations

import heapq
import math
from array import array

__all__ = ["KthLargest"]

#: Durations kept in ``spare`` at a rebuild beyond twice ``k`` (small runs never rebuild).
_SPARE_EXTRA = 1024
#: Values sampled to bound the largest ones at a rebuild.
_SAMPLE = 4096


class KthLargest:
    """The 95th percentile (the k-th largest value) of a growing array, exact.

    Each :meth:`update` costs in proportion to the values appended since the last
    one; the answer is exactly ``heapq.nlargest(k, values)[-1]``.
    """

    __slots__ = ("_floor", "_seen", "_spare", "_top")

    def __init__(self) -> None:
        self._seen = 0
        self._top: list[float] = []  # min-heap of the k largest
        self._spare: list[float] = []  # max-heap (negated) of the next ones
        # Every value not in ``top`` and at least ``floor`` is in ``spare``.
        self._floor = math.inf

    def update(self, values: array[float]) -> float:
        """The 95th percentile of ``values``, which only ever grows at its end.

        Args:
            values: every duration so far (non-empty), the same array each call.

        Returns:
            The k-th largest of them.
        """
        count = len(values)
        k = count - math.ceil(0.95 * count) + 1
        if count != self._seen:
            top, spare, floor = self._top, self._spare, self._floor
            push, replace = heapq.heappush, heapq.heapreplace
            for value in values[self._seen : count]:
                if top and value > top[0]:
                    push(spare, -replace(top, value))  # the top's smallest steps down
                elif value >= floor:
                    push(spare, -value)
            self._seen = count
        top, spare = self._top, self._spare
        while len(top) < k:
            if not spare:
                self._rebuild(values, k)
                break
            heapq.heappush(top, -heapq.heappop(spare))
        return self._top[0]

    def _rebuild(self, values: array[float], k: int) -> None:
        """Take the k largest, and as many again twice over, from every value."""
        kept = min(len(values), 3 * k + _SPARE_EXTRA)
        largest = _largest(values, kept)
        self._top = largest[:k][::-1]  # ascending: already a min-heap
        self._spare = [-value for value in largest[k:]]  # ascending negatives: a heap
        self._floor = largest[-1] if kept < len(values) else -math.inf


def _largest(values: array[float], kept: int) -> list[float]:
    """The ``kept`` largest values, in descending order.

    A heap over millions of values costs a Python step each; instead a sample of a
    few thousand gives a bound that the wanted values clear with room to spare, C
    code keeps the values above it, and only those are sorted.
    """
    count = len(values)
    step = count // _SAMPLE
    if step < 4:  # a few thousand values: sorting them all is as quick
        return sorted(values, reverse=True)[:kept]
    sample = sorted(values[::step], reverse=True)
    # Where the kept-th largest should fall in the sample, doubled, plus a margin.
    bound = sample[min(len(sample) - 1, 2 * kept // step + 16)]
    above = list(filter(bound.__le__, values))  # every value >= bound
    if len(above) < kept:  # an unlucky sample: no bound, then
        return heapq.nlargest(kept, values)
    above.sort(reverse=True)
    return above[:kept]
