"""Saying how to reopen a run's dashboard once the program is done with it."""

from __future__ import annotations

import atexit
import os
import sys
from typing import Any

__all__ = ["exiting", "print_reopen"]

#: Set while the interpreter runs its exit hooks (by the session's own exit hook).
exiting = False
_hint: tuple[int, str] | None = None  # (pid, line) said at exit


def print_reopen(server: Any) -> None:
    """The run's own dashboard stopped with it: say, at exit, how to serve the run again.

    Said when the interpreter exits rather than when ``shutdown()`` is called, so that
    it is the last thing the program shows, after whatever the program printed itself.
    """
    global _hint
    reopen = server.config.reopen
    if not reopen or os.getpid() != server.pid:
        return
    line = f"spanline: run ended, dashboard stopped; reopen with: {reopen}\n"
    if exiting:
        sys.stderr.write(line)
        return
    if _hint is None:
        atexit.register(_say)
    _hint = (server.pid, line)


def _say() -> None:
    global _hint
    hint, _hint = _hint, None
    if hint is not None and hint[0] == os.getpid():  # not in a forked child
        try:
            sys.stderr.write(hint[1])
            sys.stderr.flush()
        except (OSError, ValueError):  # stderr closed: nobody to tell
            pass
