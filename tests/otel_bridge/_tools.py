"""Tools at module level, so a process pool can pickle them by reference."""

from __future__ import annotations

import os

import spanline


@spanline.traced_tool
def lookup(key: str) -> str:
    """A tool that reports the process it ran in."""
    return f"{key}@{os.getpid()}"
