"""Reading a run for a command: one pass over its telemetry.jsonl, a progress bar when slow.

Every read command folds the file through :func:`fold_run`: bad lines are
skipped and reported on stderr in one line (``file:line: why``), a file with no
event at all is an error, and a read that takes over a second shows a
transient Rich progress bar on stderr when stderr is a terminal.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TextIO

from spanline._runs._store import Run
from spanline.cli._app import CliError
from spanline.folds import JsonlTail, LineProblem, SummaryFold

__all__ = [
    "PROGRESS_AFTER_S",
    "Fold",
    "fold_run",
    "garbage_collector_paused",
    "read_file",
    "sweep_blobs",
    "warn_skipped",
]

#: A read shows a progress bar once it has taken this long.
PROGRESS_AFTER_S = 1.0


def sweep_blobs(directory: os.PathLike[str] | str) -> None:
    """Remove the half-written blob files that killed processes left in the run."""
    from spanline._lines._blobs import sweep_temporaries
    from spanline._runs._liveness import process_alive

    sweep_temporaries(directory, process_alive)


@contextmanager
def garbage_collector_paused() -> Iterator[None]:
    """Pause the garbage collector for a command's read of a large run, then restore it.

    A fold that keeps a small record per span makes many objects and no cycles: the
    collector's passes over them find nothing and, on a 100k-span run, took about a third
    of the read. Only for a process that runs the command (the console script).
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


class Fold(Protocol):
    """Anything fed with batches of events."""

    def extend(self, events: Any, /) -> None:
        """Fold a batch of events."""


def fold_run(run: Run, *folds: Fold) -> list[LineProblem]:
    """Feed every event of ``run`` to ``folds`` in one pass; report the skipped lines,
    and, in one more line, those kept with NaN or infinities read as null.

    Args:
        run: the run.
        folds: the reducers to feed.

    Returns:
        The skipped lines (already reported on stderr).

    Raises:
        CliError: the file holds no event (missing, empty, or only bad lines).
    """
    nonfinite: list[int] = []
    problems, lines = read_file(run.telemetry_path, folds, nonfinite=nonfinite)
    path = run.telemetry_path
    if lines == 0:
        raise CliError(f"no events in {path}: the file is empty or missing")
    if len(problems) == lines:
        raise CliError(f"no events in {path}: {_problem_line(problems)}")
    warn_skipped(problems)
    if nonfinite:
        sys.stderr.write(f"spanline: warning: {nonfinite_line(path, nonfinite)}\n")
    return problems


def nonfinite_line(path: os.PathLike[str] | str, numbers: Sequence[int]) -> str:
    """The one warning about the lines kept with NaN or infinities read as null."""
    shown = ", ".join(f"{path}:{number}" for number in numbers[:3])
    more = f" (and {len(numbers) - 3} more)" if len(numbers) > 3 else ""
    return f"read NaN or infinity as null in {len(numbers)} line(s), kept: {shown}{more}"


def warn_skipped(problems: Sequence[LineProblem]) -> None:
    """Say on stderr, in one warning line, which lines were skipped (the first three, and
    how many more): a log of a million bad lines is one line, not a million."""
    if problems:
        sys.stderr.write(f"spanline: warning: {_problem_line(problems)}\n")


def _problem_line(problems: Sequence[LineProblem]) -> str:
    shown = "; ".join(str(problem) for problem in problems[:3])
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return f"skipped {len(problems)} malformed line(s): {shown}{more}"


def read_file(
    path: os.PathLike[str] | str,
    folds: Sequence[Fold],
    *,
    stderr: TextIO | None = None,
    after_s: float = PROGRESS_AFTER_S,
    nonfinite: list[int] | None = None,
) -> tuple[list[LineProblem], int]:
    """Stream a JSONL file into ``folds``, with a progress bar once the read is slow.

    Args:
        path: the file.
        folds: the reducers to feed.
        stderr: where the bar goes (default: ``sys.stderr``); never drawn unless a TTY.
        after_s: seconds before the bar appears.
        nonfinite: where to put the number of each line kept with NaN or an
            infinity read as null.

    Returns:
        The skipped lines (the reader's, and those a summary fold could not use) and
        the number of lines read.
    """
    stream = sys.stderr if stderr is None else stderr
    tail = JsonlTail(path)
    name = str(path)
    summaries = [fold for fold in folds if isinstance(fold, SummaryFold)]
    started = time.monotonic()
    progress: Any = None
    task: Any = None
    try:
        for batch in tail.batches(final=True):
            for fold in folds:
                if isinstance(fold, SummaryFold):  # it names the lines it skips
                    fold.extend(batch, file=name, lines=tail.batch_lines)
                else:
                    fold.extend(batch)
            if progress is not None:
                progress.update(task, completed=tail.offset)
            elif time.monotonic() - started >= after_s and _is_tty(stream):
                progress, task = _start_progress(stream, path, tail.offset)
    finally:
        if progress is not None:
            progress.stop()
    if nonfinite is not None:
        nonfinite.extend(tail.nonfinite)
    for fold in summaries:
        fold.cover(tail.offset)
    skipped = {(p.line, p.error): p for fold in summaries for p in fold.problems}
    problems = sorted([*tail.problems, *skipped.values()], key=lambda problem: problem.line)
    return problems, tail.lines


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _start_progress(stream: TextIO, path: os.PathLike[str] | str, done: int) -> tuple[Any, Any]:
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    try:
        total = os.path.getsize(path)
    except OSError:
        total = None
    progress = Progress(
        TextColumn("reading"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=Console(file=stream, no_color="NO_COLOR" in os.environ),
        transient=True,
    )
    progress.start()
    task = progress.add_task("read", total=total, completed=done)
    return progress, task
