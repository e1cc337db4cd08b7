"""What a reader accepts as plausible: a line outside these bounds is skipped and reported.

Timestamps are seconds since the epoch; up to the year 5138, so that no difference
of two of them (and no duration in milliseconds) can overflow a double. A counter
given as a float must be finite and within 64 bits (integers are exact at any
size); sums past 64 bits are written as floats.
"""

from __future__ import annotations

from typing import Final

from spanline.schema import COUNT_MAX

__all__ = ["COUNT_MAX", "MS_MAX", "TS_MAX", "TS_MIN"]

TS_MIN: Final = 0.0
TS_MAX: Final = 1e11
#: The longest plausible duration (ms): the whole range of timestamps.
MS_MAX: Final = TS_MAX * 1000.0
