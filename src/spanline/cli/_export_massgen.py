"""``spanline export --format massgen``: a run's MassGen-style artifacts, re-folded from its log."""

from __future__ import annotations

from pathlib import Path

from spanline._runs._store import Run
from spanline.folds.events import LineProblem, iter_events
from spanline.folds.massgen import MassgenFold, write_artifacts

__all__ = ["export_massgen", "export_massgen_session"]


def export_massgen(run: Run, out: Path | None = None) -> list[Path]:
    """Fold ``run``'s telemetry.jsonl and write its MassGen-style artifacts.

    The files are written even when the run has no coordination events (then
    the lists are empty and there is no winner), so an explicit export always
    leaves its files; ``vote.json`` only when some agent voted. Malformed lines
    are skipped and reported as ``file:line``.

    Args:
        run: the run (from the run store, e.g. ``resolve_run``).
        out: the directory to write into; default: the run directory.

    Returns:
        The paths written.
    """
    from spanline.folds.summary import report_skipped

    problems: list[LineProblem] = []
    fold = MassgenFold()
    fold.extend(iter_events(run.telemetry_path, problems))
    report_skipped(problems)
    return write_artifacts(fold.result(), run.directory if out is None else Path(out))


def export_massgen_session(session_id: str, directory: Path | None, out: Path | None) -> list[Path]:
    """A session's runs in MassGen's layout: ``turn_N/attempt_M/`` for every attempt
    (its artifacts and ``execution_metadata.yaml``), ``turn_N/final/`` for the turn's
    accepted attempt (its last ok one; none when every attempt failed).

    Args:
        session_id: the session.
        directory: the base directory (``--dir``).
        out: where to write; default ``<base>/sessions/<id>/massgen``.

    Returns:
        The paths written.
    """
    from spanline._lines._fileio import write_atomic
    from spanline._runs._sessions import collect_attempts
    from spanline._runs._store import find_run
    from spanline.cli._app import CliError, base_dir
    from spanline.cli._sessions import checked_session
    from spanline.folds.sessions import accepted_attempts

    session_id = checked_session(session_id)
    base = base_dir(directory)
    attempts = [a for a in collect_attempts(base, session_id) if a.turn and a.attempt]
    if not attempts:
        raise CliError(f"no numbered turns of session {session_id!r} under {base / 'runs'}")
    target = base / "sessions" / session_id / "massgen" if out is None else Path(out)
    accepted = {id(a) for a in accepted_attempts(attempts).values()}
    written: list[Path] = []
    for attempt in attempts:
        run = find_run(base, attempt.run_id)
        if run is None:
            continue
        places = [f"turn_{attempt.turn}/attempt_{attempt.attempt}"]
        if id(attempt) in accepted:
            places.append(f"turn_{attempt.turn}/final")
        for place in places:
            written += export_massgen(run, target / place)
            if run.metadata_path.is_file():
                copy = target / place / run.metadata_path.name
                write_atomic(copy, run.metadata_path.read_bytes())
                written.append(copy)
    return written
