"""A session's turn and attempt numbers, taken from its counter file.

Each session has ``<base>/sessions/<id>/numbers.jsonl``: one line per run that
took a number, ``{"turn": N, "attempt": M, "run_id": ...}``. A number is read and
recorded under one file lock, so two processes starting turns at once get
different numbers, and pruning runs never hands a number out again (the file,
not the runs present, remembers them).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spanline._lines._fileio import append_locked_after
from spanline._runs._store import list_runs, validate_run_id

if TYPE_CHECKING:
    from spanline.folds.sessions import Attempt

__all__ = [
    "collect_attempts",
    "numbers_path",
    "read_numbers",
    "take_numbers",
    "validate_session_id",
]


def validate_session_id(session_id: object) -> str:
    """A session id is a safe name, by the rule of run ids' characters.

    Raises:
        ValueError: not letters, digits, ``.``, ``_`` and ``-`` (at most 128, starting
            with a letter or digit, no ``..``).
    """
    try:
        return validate_run_id(session_id)
    except ValueError:
        raise ValueError(
            f"invalid session id {session_id!r}: expected letters, digits, '.', '_' and '-'"
            " (at most 128, starting with a letter or digit, no '..')"
        ) from None


def numbers_path(base: Path, session_id: str) -> Path:
    """The session's counter file under the base directory."""
    return base / "sessions" / validate_session_id(session_id) / "numbers.jsonl"


def read_numbers(base: Path, session_id: str) -> list[dict[str, Any]]:
    """The numbers a session handed out, in order (unreadable lines skipped)."""
    try:
        text = numbers_path(base, session_id).read_bytes()
    except OSError:
        return []
    return _entries(text)


def _entries(text: bytes) -> list[dict[str, Any]]:
    entries = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and _whole(entry.get("turn")) and _whole(entry.get("attempt")):
            entries.append(entry)
    return entries


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def take_numbers(
    base: Path, session_id: str, turn: int | None, attempt: int | None, run_id: str
) -> tuple[int, int]:
    """The run's turn and attempt: the given ones, or the next of the session's counter.

    A turn without a number is the session's next turn (its first attempt); an
    attempt without a number is the next attempt of its turn. The numbers are
    recorded either way, so later runs count on from them.

    Args:
        base: the base directory.
        session_id: the session.
        turn: the turn, or None for the next one.
        attempt: the attempt, or None for the next one of the turn.
        run_id: the run taking the numbers (recorded with them).

    Returns:
        ``(turn, attempt)``.

    Raises:
        OSError: the counter file cannot be written.
    """
    path = numbers_path(base, session_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    taken: list[tuple[int, int]] = []

    def compose(existing: bytes) -> bytes:
        entries = _entries(existing)
        chosen = turn if turn is not None else max((e["turn"] for e in entries), default=0) + 1
        if attempt is not None:
            tried = attempt
        else:
            tried = 1 + max((e["attempt"] for e in entries if e["turn"] == chosen), default=0)
        taken.append((chosen, tried))
        entry = {"turn": chosen, "attempt": tried, "run_id": run_id}
        # A line cut short by a crash must not swallow this one.
        lead = b"\n" if existing and not existing.endswith(b"\n") else b""
        return lead + json.dumps(entry).encode() + b"\n"

    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        append_locked_after(fd, compose)
    finally:
        os.close(fd)
    return taken[-1]


def collect_attempts(base: Path, only: str | None = None) -> list[Attempt]:
    """Every run's part in every session (or in ``only``), newest run first.

    Each run's log is folded by :class:`~spanline.folds.sessions.SessionsFold`; a
    run whose log cannot be read has no part. For the ``spanline`` command and the
    dashboard alike.
    """
    from spanline.folds.events import JsonlTail
    from spanline.folds.sessions import SessionsFold

    attempts: list[Attempt] = []
    for run in list_runs(base):
        fold = SessionsFold(run.run_id, only=only)
        try:
            for batch in JsonlTail(run.telemetry_path).batches(final=True):
                fold.extend(batch)
        except OSError:
            continue
        attempts.extend(fold.attempts())
    return attempts
