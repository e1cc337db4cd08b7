"""Rotation, the session's part: opening the next run of a long-lived process.

The writer decides when to rotate and routes each record to its run (see
:mod:`spanline._writer._rotate`); at the rotation, on the writer's thread, it asks
the session for the next run. The session
creates it in the same base directory and the same session (its next turn, so
``spanline sessions`` lists every run of the process in order), moves
``latest`` to it, points the run's children at it (``SPANLINE_RUN_ID``), starts
its live summary and its metadata, and finishes the old run's summary on a
thread of its own once every process has left it, so the writer never waits for
a fold.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from spanline._capture._report import report
from spanline._hotpath import _tracer
from spanline._runs._store import Run, create_run
from spanline._session import _header, _parts

if TYPE_CHECKING:
    from pathlib import Path

    from spanline._session._configure import _Session
    from spanline._session._settings import Settings

__all__ = ["Closing", "follow_dashboard", "in_own_session", "install"]

#: Held while the session's own dashboard is told which run the session writes: the
#: rotation (writer thread) and configure (which starts the server) may both tell it.
_DASHBOARD_LOCK = threading.Lock()


def in_own_session(settings: Settings, run: Run, created: bool) -> Settings:
    """With rotation on, the run's session: the one given, else one named after the first
    run (so the runs that follow it are found together)."""
    rotating = settings.max_run_bytes is not None or settings.rotate_every is not None
    if not rotating or settings.session_id is not None or not created:
        return settings
    return settings._replace(session_id=run.run_id)


def install(session: _Session) -> None:
    """Give the session's pipeline its rotation, when a limit is set."""
    settings, pipeline = session.settings, session.pipeline
    if pipeline is None or (settings.max_run_bytes is None and settings.rotate_every is None):
        return
    from spanline._writer._rotate import Rotation

    def open_next(follow: dict[str, str] | None) -> tuple[Path, str]:
        if follow is not None:
            return _follow(session, follow)
        return _open_next(session)

    session.closing = Closing()
    pipeline.rotation = Rotation(
        max_bytes=settings.max_run_bytes,
        every=settings.rotate_every,
        open_next=open_next,
        owner=session.owner,
    )


def _open_next(session: _Session) -> tuple[Path, str]:
    """Create the next run of the session (on the writer thread, at the rotation)."""
    old = session.run
    settings = session.settings._replace(turn=None, attempt=None)
    run = create_run(old.base, settings.service_name)  # latest moves to it
    settings = _parts.number_turn(settings, run, True)
    trace_id, _ = _parts.trace_context(settings, run.run_id)
    old_live, old_blobs = session.live, session.blobs
    session.settings, session.run, session.trace_id = settings, run, trace_id
    session.rotated_from = old.run_id
    session.start_ts = _tracer.wall_time()
    if old_blobs is not None:
        session.blobs = _parts.blob_store(session)
        if session.pipeline is not None:
            session.pipeline.blobs = session.blobs
    _point_children(session)
    follow_dashboard(session)
    _header.start_metadata(session)
    _move_log_file(session)
    if old_live is not None:
        session.live = _parts.start_live_summary(session)
    session.closing.close(old, old_live, old_blobs)
    return run.telemetry_path, trace_id


def follow_dashboard(session: _Session) -> None:
    """The session's own dashboard serves the run the session writes now (after a
    rotation): the page that follows the program opens it, and the command said at exit
    reopens it."""
    with _DASHBOARD_LOCK:  # whoever comes last reads the newest run
        server = session.dashboard
        if server is None or server.default_run == session.run.run_id:
            return
        try:
            server.follow(session.run.run_id)
        except Exception as exc:  # the dashboard goes on showing the run it showed
            report("the dashboard could not follow to the next run", exc=exc)


def _follow(session: _Session, follow: dict[str, str]) -> tuple[Path, str]:
    """Join the run the owner rotated to (a fork child or a process handed the run)."""
    from pathlib import Path

    telemetry = Path(follow["telemetry"])
    session.run = Run(follow["run_id"], telemetry.parent)
    session.trace_id = follow["trace_id"]
    if session.blobs is not None:
        session.blobs = _parts.blob_store(session)
        if session.pipeline is not None:
            session.pipeline.blobs = session.blobs
    return telemetry, follow["trace_id"]


def _point_children(session: _Session) -> None:
    """Child processes started from now on join the new run (and its turn)."""
    from spanline._session._parts import handover_variables

    run = session.run
    for name, value in handover_variables(session.settings, run.base, run.run_id).items():
        if name not in session.saved_env:
            session.saved_env[name] = os.environ.get(name)
        os.environ[name] = value


def _move_log_file(session: _Session) -> None:
    """spanline's own messages go to the new run's ``spanline.log``."""
    from spanline._capture._report import add_log_file, remove_log_file

    remove_log_file(session.log_handler)
    session.log_handler = add_log_file(session.run.log_path)


class Closing:
    """The rotated runs being finished, each on a thread of its own (``spanline-rotate``)."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []
        #: Set at shutdown: stop waiting for other processes to leave a rotated run.
        self.ending = threading.Event()

    def close(self, run: Run, live: Any, blobs: Any) -> None:
        """Finish ``run``: its blobs on disk, then (once no other process writes to it)
        its final summary."""
        closer = threading.Thread(
            target=self._close, args=(run, live, blobs), name="spanline-rotate", daemon=True
        )
        self.threads = [thread for thread in self.threads if thread.is_alive()]
        self.threads.append(closer)
        closer.start()

    def _close(self, run: Run, live: Any, blobs: Any) -> None:
        from spanline._hotpath._runtime import mark_internal_thread

        mark_internal_thread()
        try:
            if blobs is not None:
                blobs.close(30.0)
            self._wait_for_named_next(run)
            self._wait_for_writers(run)
            if blobs is not None:  # those of the trees that finished in the run meanwhile
                blobs.close(30.0)
            if live is not None:
                live.finish()
        except Exception as exc:  # the run's readers fold it again
            report("could not write the rotated run's summary", exc=exc)

    def _wait_for_named_next(self, run: Run) -> None:
        """Until the writer has named the next run in ``run``'s directory: a process that
        wrote its first line in ``run`` did so before (see ``_rotate``)."""
        from spanline._writer._rotate import NEXT_RUN

        while not (run.directory / NEXT_RUN).exists():
            if self.ending.wait(0.05):
                return

    def _wait_for_writers(self, run: Run) -> None:
        """Until every other process writing to ``run`` (a fork child) has followed to
        the next run or ended, or the session ends: its summary then covers them."""
        from spanline._runs._liveness import track_writers, writers_alive

        hosts: dict[int, Any] = {}
        offset = 0
        while True:
            offset = track_writers(hosts, run.telemetry_path, offset)  # whole lines only
            if not writers_alive(hosts, run.telemetry_path) or self.ending.wait(0.2):
                return

    def wait(self, timeout: float) -> None:
        """At shutdown: the rotated runs' summaries are written before the session ends."""
        self.ending.set()
        for closer in self.threads:
            if closer.ident is not None:
                closer.join(timeout)
        self.threads.clear()
