"""What the endpoints return, as plain data: read through the run store and the folds.

Nothing here knows about HTTP; :mod:`spanline.dashboard._app` turns the
exceptions into status codes (``InvalidRunIdError`` → 400, ``RunNotFoundError``
→ 404, ``BadOffset`` → 400).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import orjson

from spanline._lines._read import byte_before, lines, parse_line
from spanline._runs._liveness import WRITER_EVENTS, run_is_live, track_writer, writers_alive
from spanline._runs._store import (
    Run,
    find_run,
    latest_run,
    list_runs,
    read_run_start,
    read_summary_if_current,
    summary_or_fold,
    validate_run_id,
)
from spanline.exceptions import InvalidRunIdError, RunNotFoundError
from spanline.folds import LineProblem, SummaryFold
from spanline.folds.display import bounded
from spanline.folds.lanes import LanesFold

__all__ = [
    "BadOffset",
    "check_offset",
    "event_page",
    "get_run",
    "latest_run",
    "report",
    "run_list",
    "session_view",
    "snapshot",
    "summary",
]

_BATCH = 512
#: Most events one /api/runs/{id}/events call returns.
MAX_LIMIT = 10_000


class BadOffset(ValueError):
    """A byte offset that is not the start of a line of the log."""


def get_run(base: Path, run_id: str) -> Run:
    """The run ``run_id`` under ``base``: the id is checked before any file is touched.

    Raises:
        InvalidRunIdError: a malformed id (a path, ``..``, odd characters).
        RunNotFoundError: no such run.
    """
    validate_run_id(run_id)
    run = find_run(base, run_id)
    if run is None:
        raise RunNotFoundError(f"no run {run_id!r}")
    return run


def run_info(run: Run) -> dict[str, Any]:
    """One row of ``/api/runs``.

    ``status`` is the stored summary's (``ok``/``error``) when it covers the
    whole log, with its ``failed_agents`` (0 for a summary written before that
    key); otherwise ``running`` while a process of the run may still write (the
    run store's :func:`~spanline._runs._liveness.run_is_live`, as in the
    snapshot), else ``incomplete``, and ``failed_agents`` is None.
    """
    start = read_run_start(run) or {}
    stored = read_summary_if_current(run)
    failed = None
    if stored is not None:
        status = stored.get("status")
        failed = stored.get("failed_agents") or 0
    else:
        status = "running" if run_is_live(run) else "incomplete"
    return {
        "run_id": run.run_id,
        "created": start.get("ts"),
        "status": status,
        "service_name": start.get("service_name"),
        "query": start.get("query"),
        "has_summary": run.summary_path.is_file(),
        "analyzed": run.report_path.is_file(),
        "failed_agents": failed,
        # The session this run is a turn of (the run picker groups by it), else None.
        "session_id": _text(start.get("session_id")),
        "turn": _number(start.get("turn")),
        "attempt": _number(start.get("attempt")),
    }


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def session_view(base: Path, session_id: str) -> dict[str, Any]:
    """``/api/sessions/{id}``: the session's totals and every attempt of its turns.

    Raises:
        InvalidRunIdError: the id is not a safe name (answered 400).
        RunNotFoundError: no span under ``base`` carries it (answered 404).
    """
    from spanline._runs._sessions import collect_attempts, validate_session_id
    from spanline.folds.sessions import summarize_session

    try:
        validate_session_id(session_id)
    except ValueError as exc:
        raise InvalidRunIdError(str(exc)) from None
    attempts = collect_attempts(base, session_id)
    if not attempts:
        raise RunNotFoundError(f"no session {session_id!r}")
    return summarize_session(attempts)


def run_list(base: Path) -> list[dict[str, Any]]:
    """Every run under ``base``, newest first (see :func:`run_info`)."""
    return [run_info(run) for run in list_runs(base)]


def report(run: Run) -> bytes:
    """The run's ANALYSIS_REPORT.md (``spanline analyze`` writes it).

    Raises:
        RunNotFoundError: the run has no report (404).
    """
    try:
        return run.report_path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise RunNotFoundError(f"run {run.run_id!r} has no analysis report") from None


def check_offset(path: Path, offset: int) -> None:
    """Accept only offsets where a line starts: 0, or just past a newline.

    Raises:
        BadOffset: negative, beyond the end of the file, or inside a line.
    """
    if offset < 0:
        raise BadOffset("offset must be a byte offset >= 0")
    if offset == 0:
        return
    try:
        before, size = byte_before(path, offset)
    except FileNotFoundError:
        raise BadOffset(f"offset {offset} is beyond the end of the log (0 bytes)") from None
    if offset > size:
        raise BadOffset(f"offset {offset} is beyond the end of the log ({size} bytes)")
    if before != b"\n":
        raise BadOffset(f"offset {offset} is not the start of a line")


def _decode(line: bytes, nonfinite: list[int] | None = None) -> dict[str, Any] | None:
    """An event, or None; a line with NaN or an infinity is kept with null there, and
    counted in ``nonfinite`` (one item a line)."""
    try:
        event = orjson.loads(line)  # the usual line: one call, as before
    except orjson.JSONDecodeError:
        try:
            event, odd = parse_line(line)
        except orjson.JSONDecodeError:
            return None
        if odd and nonfinite is not None:
            nonfinite.append(1)
    return event if isinstance(event, dict) and isinstance(event.get("event"), str) else None


#: The logs this server has warned about: once each.
_WARNED: set[str] = set()


def _warn_nonfinite(path: Path, count: int) -> None:
    if count and str(path) not in _WARNED:
        _WARNED.add(str(path))
        sys.stderr.write(
            f"spanline: warning: read NaN or infinity as null in {count} line(s) of {path}, kept\n"
        )


def summary(run: Run) -> dict[str, Any]:
    """The run's summary: the stored one when it covers the whole log, else a fold of it.

    Every string in it is cut to the display length (:func:`~spanline.folds.display.bounded`);
    the whole values are in the log (``/api/runs/{id}/events``).
    """
    result: dict[str, Any] = bounded(summary_or_fold(run, _fold))
    return result


def _fold(run: Run) -> dict[str, Any]:
    folded: dict[str, Any] = _folds(run, None, with_lanes=False)["summary"]
    return folded


def snapshot(run: Run, offset: int | None, *, with_lanes: bool = True) -> dict[str, Any]:
    """The folds of the log up to ``offset`` (default: every complete line now).

    Returns:
        ``{run_id, offset, nonfinite_lines, summary, lanes, open_spans, run_start,
        live}``; ``offset`` is where a stream should continue: just past the last
        line folded; ``nonfinite_lines`` the lines kept with NaN or infinities read
        as null.
        ``lanes`` are the agents in start order, then the planned ones not
        started yet (queued); ``open_spans`` the spans open at ``offset``
        (see :class:`~spanline.folds.lanes.LanesFold`); ``run_start`` the run's
        ``run_start`` line, or None; ``live`` whether a process of the run that wrote
        no ``process_end`` still runs on this host; ``error_lanes`` the lane (agent
        span) of each span in the summary's ``errors``; ``burn`` the token burn rate
        (:meth:`~spanline.folds.lanes.LanesFold.burn`), at this moment while the
        run is live, else at its last line.

        Every string in it is cut to the display length
        (:func:`~spanline.folds.display.bounded`): a page draws names, never megabytes;
        the whole values are in the log (``/api/runs/{id}/events``).

    Raises:
        BadOffset: ``offset`` is not the start of a line.
    """
    result: dict[str, Any] = bounded(_folds(run, offset, with_lanes=with_lanes))
    return result


def _folds(run: Run, offset: int | None, *, with_lanes: bool) -> dict[str, Any]:
    path = run.telemetry_path
    if offset is not None:
        check_offset(path, offset)
    fold = SummaryFold(run_id=run.run_id)
    lanes = LanesFold() if with_lanes else None
    problems: list[LineProblem] = []
    batch: list[dict[str, Any]] = []
    numbers: list[int] = []  # each event's line, for the lines the fold skips
    reached, number = 0, 0
    writers: dict[int, Any] = {}  # pid -> (host, header ts) of those with no process_end
    nonfinite: list[int] = []
    for line, reached in lines(path, 0, offset):  # noqa: B007 - reached is used after the loop
        number += 1
        event = _decode(line, nonfinite)
        if event is None:
            problems.append(LineProblem(str(path), number, "not a JSON object with an event"))
            continue
        batch.append(event)
        numbers.append(number)
        if event["event"] in WRITER_EVENTS:
            track_writer(writers, event)  # who may still write: read here, not again
        if len(batch) >= _BATCH:
            _feed(fold, lanes, batch, str(path), numbers)
            batch, numbers = [], []
    _feed(fold, lanes, batch, str(path), numbers)
    fold.note_problems(problems)
    _warn_nonfinite(path, len(nonfinite))
    fold.cover(reached)
    result = fold.result()
    summary_dict = result.to_dict()
    # Spans with no end are in flight while a process of the run still runs,
    # abandoned once none does (its processes were killed).
    live = summary_dict.get("status") == "incomplete" and writers_alive(writers, path)
    return {
        "run_id": run.run_id,
        "offset": reached,
        "nonfinite_lines": len(nonfinite),
        "summary": summary_dict,
        "lanes": lanes.result(result) if lanes is not None else [],
        "open_spans": lanes.open_spans() if lanes is not None else [],
        "run_start": lanes.run_start if lanes is not None else None,
        "live": live,
        "error_lanes": (
            lanes.agent_of([str(e.get("span_id")) for e in summary_dict["errors"]], result)
            if lanes is not None
            else {}
        ),
        "burn": (lanes if lanes is not None else LanesFold()).burn(time.time() if live else None),
    }


def _feed(
    fold: SummaryFold,
    lanes: LanesFold | None,
    batch: list[dict[str, Any]],
    file: str,
    numbers: list[int],
) -> None:
    fold.extend(batch, file=file, lines=numbers)
    if lanes is not None:
        lanes.extend(batch)


def event_page(run: Run, start: int, limit: int) -> dict[str, Any]:
    """Up to ``limit`` events from byte offset ``start``.

    Returns:
        ``{events, next}``: the decoded events (lines that are not JSON objects are
        skipped) and the offset to ask for next.

    Raises:
        BadOffset: ``start`` is not the start of a line.
    """
    check_offset(run.telemetry_path, start)
    events: list[dict[str, Any]] = []
    following = start
    if limit > 0:
        for line, following in lines(run.telemetry_path, start):  # noqa: B007
            event = _decode(line)
            if event is not None:
                events.append(event)
                if len(events) >= limit:
                    break
    return {"events": events, "next": following}
