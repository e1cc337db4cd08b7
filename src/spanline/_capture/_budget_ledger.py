"""A session's spend ledger: the spending of every run of one session, in every process,
so that a session budget holds across them.

Each process appends one line per LLM call it counted (``{"p": <process key>, "usd":
..., "tokens": ...}``) with the locked append, and reads the other processes' lines
when an LLM call starts, at most every :data:`REFRESH_S` seconds, from where it
stopped. Its own calls are counted in memory at once. So a process sees another
process's spending at most ``REFRESH_S`` late, plus the time that process's calls were
in flight: across processes the overshoot is at most the calls all processes start
in that window.

Nothing is opened or read before the first LLM call.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Final

import orjson

from spanline._capture._budget import Budget, cross_if_spent
from spanline._capture._report import report
from spanline._lines._fileio import append_locked, open_append
from spanline._lines._read import lines

__all__ = ["REFRESH_S", "SessionLedger"]

#: How often, at most, a process reads the other processes' spending.
REFRESH_S: Final = 0.25


class SessionLedger:
    """The session budget of one process, and the ledger it shares with the others."""

    def __init__(self, path: Path, budget: Budget) -> None:
        self.path = path
        self.budget = budget
        self._key = uuid.uuid4().hex[:16]  # this process's lines (a fork gets a new key)
        self._pid = os.getpid()
        self._fd: int | None = None
        self._offset = 0
        self._read_at = -REFRESH_S
        self._lock = threading.Lock()
        self._broken = False

    def refresh(self, force: bool = False) -> None:
        """Add the other processes' new lines, unless read less than ``REFRESH_S`` ago."""
        now = time.monotonic()
        if self._broken or (not force and now - self._read_at < REFRESH_S):
            return
        if not self._lock.acquire(blocking=False):
            return  # another thread is reading: its answer will do
        try:
            self._read_at = now
            self._read()
        finally:
            self._lock.release()

    def _read(self) -> None:
        usd, tokens = 0.0, 0
        try:
            for line, offset in lines(self.path, self._offset):
                self._offset = offset  # a line still being written is read next time
                entry = _entry(line)
                if entry is not None and entry["p"] != self._key:
                    usd += entry["usd"]
                    tokens += entry["tokens"]
        except OSError as exc:
            self._fail("could not read the session's spend ledger", exc)
        if usd or tokens:
            from spanline._capture._budget import _lock

            with _lock:
                self.budget.spent_usd += usd
                self.budget.spent_tokens += tokens
                cross_if_spent(self.budget)

    def spend(self, usd: float, tokens: int) -> None:
        """Count one call of this process, in memory and in the ledger."""
        self.budget.spent_usd += usd
        self.budget.spent_tokens += tokens
        if self._broken:
            return
        if os.getpid() != self._pid:  # a forked child: its own key and descriptor
            self._pid, self._key, self._fd = os.getpid(), uuid.uuid4().hex[:16], None
        line = orjson.dumps({"p": self._key, "usd": usd, "tokens": tokens}) + b"\n"
        try:
            if self._fd is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = open_append(self.path)
            append_locked(self._fd, line)
        except OSError as exc:
            self._fail("could not append to the session's spend ledger", exc)

    def _fail(self, what: str, exc: OSError) -> None:
        self._broken = True
        report(f"{what} {self.path}: {exc}; the session budget counts this process only")


def _entry(line: bytes) -> dict[str, Any] | None:
    try:
        entry = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("p"), str):
        return None
    usd, tokens = entry.get("usd"), entry.get("tokens")
    if not isinstance(usd, (int, float)) or isinstance(usd, bool) or not usd >= 0:
        return None
    if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 0:
        return None
    if usd == float("inf"):
        return None
    return entry
