"""Saying how to reopen a run's dashboard once the program is done with it."""

from __future__ import annotations

import atexit
import os
import sys
from typing import Any

__all__ = ["exiting", "expect", "print_reopen", "say_at_exit"]

#: Set while the interpreter runs its exit hooks (by the session's own exit hook).
exiting = False
_hint: tuple[int, str] | None = None  # (pid, line) said at exit: the last run's
_registered = False
_said = False  # the exit hook that says it has run


def expect() -> None:
    """A run's own dashboard started: register the exit hook that will say the command.

    Registered now rather than when the run ends: a run ended from an exit hook (the
    program's own, or spanline's) is too late for the interpreter to run another.
    """
    global _registered
    if not _registered:
        atexit.register(_say)
        _registered = True


def print_reopen(server: Any) -> None:
    """The run's own dashboard stopped with it: say, at exit, how to serve the run again.

    Said when the interpreter exits rather than when ``shutdown()`` is called, so that
    it is the last thing the program shows, after whatever the program printed itself.
    A later run's command replaces an earlier one's: the command is said once.
    """
    global _hint
    reopen = server.config.reopen
    if not reopen or os.getpid() != server.pid:
        return
    line = f"spanline: run ended, dashboard stopped; reopen with: {reopen}\n"
    if exiting and _said:  # the exit hook that says it is past: say it now
        _write(line)
        return
    _hint = (server.pid, line)
    expect()


def say_at_exit() -> None:
    """The session's exit hook has ended the last run: say the command now if it is due.

    The exit hook this module registers may run before the session's (exit hooks run
    in the reverse order of registration, and a run's dashboard starts after the
    session registers its own): it then leaves the saying to this call.
    """
    if _registered:
        _say()


def _say() -> None:
    global _hint, _said
    if not exiting or _said:  # the session's exit hook is still to come, or said already
        return
    _said = True
    hint, _hint = _hint, None
    if hint is not None and hint[0] == os.getpid():  # not in a forked child
        _write(hint[1])


def _write(line: str) -> None:
    try:
        sys.stderr.write(line)
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed: nobody to tell
        pass
