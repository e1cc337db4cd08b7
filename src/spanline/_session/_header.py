"""A run's first lines and its metadata: run_start or process_start, and git and
``execution_metadata.yaml`` read and written on a thread of their own."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from spanline._capture._report import report
from spanline._hotpath import _runtime, _tracer
from spanline._runs import _metadata
from spanline._session import _parts
from spanline.schema import INTEGRATIONS

if TYPE_CHECKING:
    from spanline._session._configure import _Session

__all__ = ["header", "redact_metadata", "start_metadata"]

# How long the run_start line waits for git's answers. git answers in milliseconds;
# one that hangs (a stalled network filesystem, a wrapper script) must not hold back
# every line of the run until a shutdown gives up on the writer and loses them all.
GIT_WAIT_S = 2.0


def start_metadata(session: _Session) -> None:
    """Read git and write ``execution_metadata.yaml`` on a thread of their own: git costs
    a few milliseconds a call, which neither configure nor the writer waits for (only
    the run_start line, which names the commit, does)."""
    thread = threading.Thread(
        target=_write_metadata, args=(session,), name="spanline-metadata", daemon=True
    )
    session.metadata_thread = thread
    try:
        thread.start()
    except RuntimeError as exc:  # no thread to be had (interpreter shutting down)
        session.git_known.set()
        report("could not start the metadata thread", exc=exc)


def _write_metadata(session: _Session) -> None:
    try:
        _runtime.mark_internal_thread()
        git = session.git = _metadata.git_info()
        # run_start names only these: it does not wait for what follows, which runs the
        # program's own code (its configuration's text form, however slow).
        session.git_known.set()
        run, settings, overrides = session.run, session.settings, session.overrides
        metadata = _metadata.execution_metadata(
            run_id=run.run_id,
            service_name=settings.service_name,
            environment=settings.environment,
            query=overrides["query"],
            config=overrides["config"],
            config_path=overrides["config_path"],
            cli_args=overrides["cli_args"],
            git=git,
            session=(settings.session_id, settings.turn, settings.attempt),
        )
        _metadata.write_metadata(run, redact_metadata(metadata))
    except Exception as exc:  # the run goes on without its metadata file
        report("could not write execution_metadata.yaml", exc=exc)
    finally:
        session.git_known.set()  # whatever happened above: run_start must not wait forever


def header(session: _Session) -> dict[str, Any]:
    """First line of a process: run_start (owner) or process_start."""
    from spanline._capture._redact import redact_text
    from spanline._lines._encode import process_start_line, run_start_line
    from spanline._runs._store import this_host
    from spanline._version import __version__

    run, settings = session.run, session.settings
    ts = session.start_ts if session.owner else _tracer.wall_time()
    pid = session.record_pid or os.getpid()
    # A deterministic run records no real pid, so no host to check it on.
    host = this_host() if session.record_pid is None else None
    if not session.owner:
        line = process_start_line(ts, run.run_id, pid, session.trace_id, host, os.getppid())
        if session.integrations:
            line[INTEGRATIONS] = session.integrations
        return line
    # Set by the metadata thread, whatever happens there; a git that does not answer
    # in time leaves the commit out of run_start (execution_metadata.yaml still gets it).
    if not session.git_known.wait(GIT_WAIT_S):
        report(f"git did not answer within {GIT_WAIT_S:g} s: the run_start line names no commit")
    git = session.git or {"commit": None, "branch": None, "remote": None}
    overrides = session.overrides
    query = overrides["query"]
    # Listed only when there are some: a run without integrations keeps its bytes.
    integrations = {INTEGRATIONS: session.integrations} if session.integrations else {}
    return run_start_line(
        ts,
        run.run_id,
        pid,
        session.trace_id,
        host,
        service_name=settings.service_name,
        environment=settings.environment,
        source_repo=overrides["source_repo"] or git["remote"],
        source_commit=overrides["source_commit"] or git["commit"],
        git_branch=git["branch"],
        spanline_version=__version__,
        agent_kinds=sorted(settings.agent_kinds),
        stall_s=settings.stall_s,
        query=redact_text(str(query)) if query is not None else None,
        **integrations,
        # MassGen's names, only in a session (a run outside one keeps its header as it was).
        **(
            {}
            if settings.session_id is None
            else {
                "session_id": settings.session_id,
                "turn": settings.turn,
                "attempt": settings.attempt,
            }
        ),
        **_parts.budget_header(settings),
    )


def redact_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Execution metadata with secrets removed (query, config and cli args may hold keys)."""
    from spanline._capture._scrub import redact

    cleaned = redact(metadata)
    if isinstance(cleaned, dict):
        return cleaned
    # redact() fails closed with a marker string; never fall back to the original.
    return {"run_id": metadata.get("run_id"), "redaction_failed": True}
