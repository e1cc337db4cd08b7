"""``spanline export --format massgen``: a run's MassGen-style artifacts, re-folded from its log."""

from __future__ import annotations

from pathlib import Path

from spanline._runs._store import Run
from spanline.folds.events import LineProblem, iter_events
from spanline.folds.massgen import MassgenFold, write_artifacts

__all__ = ["export_massgen"]


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
