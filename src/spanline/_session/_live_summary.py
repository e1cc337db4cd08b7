"""run_summary.json for a live run: folded from telemetry.jsonl on a thread of its own.

The thread tails the file from its last offset, so it sees the lines of every
process writing into the run, not only this one's; it never slows the writer.
At shutdown only the lines written since its last pass are left to fold, so
writing the summary costs about the same for a run of any size.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from spanline._capture._report import report
from spanline._hotpath._runtime import mark_internal_thread
from spanline._runs._store import Run

if TYPE_CHECKING:
    from spanline.folds import JsonlTail, RunSummary, SummaryFold
    from spanline.folds.massgen import MassgenFold

__all__ = ["LiveSummary"]

#: Queued events above which the writer is considered busy (a few of its batches).
_BUSY = 50_000
#: Seconds before the first pass: a run killed before its first interval still leaves
#: a summary of what it did (a pass over a young run's few lines costs next to nothing).
_FIRST_PASS_S = 1.0


class LiveSummary:
    """Keeps a run's summary up to date and writes it atomically.

    Args:
        run: the run whose telemetry.jsonl is folded.
        interval: seconds between rewrites of run_summary.json while live
            (0: only at the end).
        prices: the session's price table (None: the shipped one).
        backlog: events still queued for the writer; a pass is skipped while
            it is large, so the summary never competes with writing the log.
    """

    def __init__(
        self,
        run: Run,
        *,
        interval: float,
        prices: Any,
        backlog: Callable[[], int] | None = None,
    ) -> None:
        self.run = run
        self.interval = interval
        self._backlog = backlog
        self._prices = prices
        # The folds load on the summary's own thread as it starts: loading them here
        # cost every configure about 46 ms before the first span could be traced. Never
        # at the end, nor after a KeyboardInterrupt is raised: the classes they build
        # then make an interpreter that dies of it exit with 1 instead of by SIGINT
        # (see wait_loaded).
        self._loaded = threading.Event()
        self._tail: JsonlTail | None = None
        self._fold: SummaryFold | None = None
        # MassGen-style artifacts, fed the same batches; written at the end if the
        # run has coordination events.
        self._massgen: MassgenFold | None = None
        self._massgen_failed = False
        self._problems_seen = 0
        self._written_offset = -1
        self._step_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Begin folding in the background (when the interval is 0, only load the folds)."""
        if self.interval <= 0:
            with self._step_lock:
                self._folds()
            self._loaded.set()
            return
        self._thread = threading.Thread(target=self._run, name="spanline-summary", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        mark_internal_thread()
        try:
            with self._step_lock:
                self._folds()
        except Exception as exc:  # the final pass tries again, and reports
            report("could not load the summary's folds", exc=exc)
        finally:
            self._loaded.set()
        wait = min(self.interval, _FIRST_PASS_S)  # until a first pass has run
        while not self._stop.wait(wait):
            if self._backlog is not None and self._backlog() > _BUSY:
                continue  # the writer is behind: the file comes first, the summary later
            wait = self.interval
            try:
                self._step(final=False)
            except Exception as exc:  # keep folding; the final pass reports again if it must
                report("could not update run_summary.json", exc=exc)

    def wait_loaded(self, timeout: float) -> bool:
        """Wait until the folds are loaded (a signal handler does, before a
        KeyboardInterrupt is raised).

        Returns:
            True once they are (or failed to load), False on timeout.
        """
        return self._loaded.wait(timeout)

    def _folds(self) -> tuple[JsonlTail, SummaryFold, MassgenFold]:
        """The reader and the folds, built on first use (under the step lock)."""
        if self._tail is None or self._fold is None or self._massgen is None:
            from spanline.folds import JsonlTail, SummaryFold
            from spanline.folds.massgen import MassgenFold

            self._tail = JsonlTail(self.run.telemetry_path)
            # Agent kinds come from the run_start line, as for any re-fold of the file.
            self._fold = SummaryFold(prices=self._prices, run_id=self.run.run_id)
            self._massgen = MassgenFold()
        return self._tail, self._fold, self._massgen

    def _step(self, *, final: bool) -> RunSummary | None:
        """Fold the new lines; write the summary if anything changed (always when final)."""
        with self._step_lock:
            self._fold_new(final=final)
            if not final and self._folds()[0].offset == self._written_offset:
                return None
            return self._write()

    def fold_new(self, limit: int | None = None) -> int:
        """Fold the lines appended since the last call, without writing anything.

        Args:
            limit: stop once about this many bytes of the log are folded (None: all).

        Returns:
            The offset in telemetry.jsonl folded so far.
        """
        with self._step_lock:
            self._fold_new(final=False, limit=limit)
            return self._folds()[0].offset

    def folded(self) -> int:
        """The offset in telemetry.jsonl folded so far."""
        with self._step_lock:
            return self._folds()[0].offset

    def write(self) -> None:
        """Write run_summary.json if lines were folded since it was last written."""
        with self._step_lock:
            if self._folds()[0].offset != self._written_offset:
                self._write()

    def _fold_new(self, *, final: bool, limit: int | None = None) -> None:
        tail, fold, massgen = self._folds()
        path = str(tail.path)
        stop_at = None if limit is None else tail.offset + limit
        for batch in tail.batches(final=final):
            fold.extend(batch, file=path, lines=tail.batch_lines)
            self._extend_massgen(massgen, batch)
            if stop_at is not None and tail.offset >= stop_at:
                break  # the tail's offset is past this batch: the next call goes on from it
        problems = tail.problems
        if len(problems) > self._problems_seen:
            fold.note_problems(problems[self._problems_seen :])
            self._problems_seen = len(problems)

    def _write(self) -> RunSummary:
        from spanline.folds import write_summary

        tail, fold, _ = self._folds()
        fold.cover(tail.offset)  # the summary says how much of the log it covers
        summary = fold.result()
        write_summary(summary, self.run.summary_path)
        self._written_offset = tail.offset
        return summary

    def _extend_massgen(self, massgen: MassgenFold, batch: list[dict[str, Any]]) -> None:
        """The artifacts are extras: a failure there never costs the summary."""
        if self._massgen_failed:
            return
        try:
            massgen.extend(batch)
        except Exception as exc:
            self._massgen_failed = True
            report("the MassGen-style artifacts are skipped for this run", exc=exc)

    def finish(self, timeout: float = 10.0) -> RunSummary | None:
        """Stop the thread, fold what is left, write run_summary.json, return the summary.

        A run with coordination events also gets its MassGen-style artifacts.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        # Never wait forever on a pass that cannot end (the host's exit hangs on it).
        if not self._step_lock.acquire(timeout=timeout):
            report(f"the summary was still being folded after {timeout:g} s; not written")
            return None
        self._step_lock.release()
        try:
            summary = self._step(final=True)
        except Exception as exc:  # the events are safe on disk; the summary can be re-folded
            report("could not write run_summary.json", exc=exc)
            return None
        from spanline.folds.massgen import write_artifacts
        from spanline.folds.summary import report_skipped

        tail, fold, massgen = self._folds()
        skipped = [*tail.problems, *fold.problems]  # the reader's, the fold's
        report_skipped(sorted(skipped, key=lambda problem: problem.line))
        if massgen.has_events and not self._massgen_failed:
            try:
                write_artifacts(massgen.result(), self.run.directory)
            except Exception as exc:  # the events are on disk: `export --format massgen` redoes it
                report("could not write the MassGen-style artifacts", exc=exc)
        return summary
