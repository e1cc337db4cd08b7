"""configure_observability(), shutdown(), flush(): the session around one pipeline.

The top layer of the tracing core. It reads the settings, creates or joins the
run through the run store, builds the writer and its exporters, and hands the
lower layers what they need (callbacks, capture settings, id and clock
sources) instead of being imported by them. Heavy parts are imported here on
first configuration, so ``import spanline`` stays light.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from spanline._capture._redact import configure_redaction, forget_marks
from spanline._capture._report import report
from spanline._hotpath import _tracer
from spanline._hotpath._runtime import RUNTIME
from spanline._hotpath._tracer import current_span
from spanline._runs._store import Run

# Loaded with the session (as when they were part of it), not at the first configure.
from spanline._session import _header, _parts

if TYPE_CHECKING:
    from spanline._session._settings import Settings
    from spanline._session._sidecar import SummarySidecar
    from spanline._writer._pipeline import Pipeline
    from spanline.folds.summary import RunSummary

__all__ = ["child_env", "configure_observability", "current_run", "flush", "shutdown"]


class _Session:  # a plain class: dataclasses (with inspect) would cost the first configure
    start_ts: float = 0.0
    pipeline: Pipeline | None = None
    live: SummarySidecar | None = None
    log_handler: int | None = None
    signals: Any = None
    dashboard: Any = None  # a spanline.dashboard DashboardServer, in the owner only
    #: The owner's git facts, read on the metadata thread; run_start waits for them only.
    git: dict[str, str | None] | None = None
    metadata_thread: threading.Thread | None = None
    blobs: Any = None  # the current run's store of out-of-line values (full capture)
    rotated_from: str | None = None  # the run this one was rotated from
    closing: Any = None  # the rotated runs being finished (``_rotation.Closing``)

    def __init__(  # owner_pid: the process that created the run (None: joined one)
        self, settings: Settings, run: Run, owner_pid: int | None, trace_id: str,
        overrides: dict[str, Any], record_pid: int | None = None, prices: Any = None,
    ) -> None:  # fmt: skip
        self.settings, self.run, self.owner_pid, self.trace_id = settings, run, owner_pid, trace_id
        self.overrides, self.record_pid, self.prices = overrides, record_pid, prices
        self.saved_env: dict[str, str | None] = {}
        self.git_known = threading.Event()
        #: Integrations loaded when the session started, with versions (the header lists them).
        self.integrations: dict[str, str] = {}

    @property
    def owner(self) -> bool:
        """True in the process that created the run: it writes metadata and the summary."""
        return self.owner_pid == os.getpid()

    def _mp_child(self) -> None:
        """In a multiprocessing fork child (a pool worker): watch for a lost SIGTERM."""
        from spanline._session._signals import watch_lost_signals

        if self.signals is None:
            return
        try:
            watch_lost_signals(self.signals)
        except Exception as exc:  # the worker runs on without the safeguard
            report("could not watch for SIGTERM in this worker", exc=exc)

    def _after_fork_in_child(self) -> None:
        global _lock
        _lock = threading.RLock()  # another thread of the parent may have held it
        self.log_handler = None  # the parent's spanline.log handler stays the parent's
        if self.live is not None:
            self.live.forget()  # the parent folds the run: its pipe stays the parent's only
        self.live = None
        self.dashboard = None  # and serves it
        self.git_known = threading.Event()  # and writes the run's metadata
        self.git_known.set()
        self.metadata_thread = None
        self.closing = None  # the parent finishes the runs it rotated


#: Arguments that are not settings: what the run is about (its metadata, run_start).
METADATA_ARGUMENTS = ("query", "config", "config_path", "cli_args", "source_repo", "source_commit")

_session: _Session | None = None
_early_signals: Any = None  # handlers installed at import (see below)
_lock = threading.RLock()
_atexit_registered = False


def configure_observability(
    enabled: bool | None = None,
    service_name: str | None = None,
    environment: str | None = None,
    run_dir: str | os.PathLike[str] | None = None,
    exporters: list[Any] | str | None = None,
    *,
    flush_ms: int | None = None,
    max_queue: int | None = None,
    capture: str | None = None,
    preview_chars: int | None = None,
    blob_threshold: int | None = None,
    prices: Any = None,
    agent_kinds: list[str] | set[str] | None = None,
    query: str | None = None,
    config: Any = None,
    config_path: str | None = None,
    cli_args: Any = None,
    source_repo: str | None = None,
    source_commit: str | None = None,
    run_id: str | None = None,
    id_generator: Callable[[], int] | None = None,
    clock: Callable[[], float] | None = None,
    synchronous: bool | None = None,
    summary_interval_ms: int | None = None,
    handle_signals: bool | None = None,
    stall_s: float | None = None,
    dashboard: bool | None = None,
    propagate_executors: bool | None = None,
    logfire: bool | None = None,
    redact_patterns: Any = None,
    redact_exempt_keys: Any = None,
    redact_entropy: bool | None = None,
    session_id: str | None = None,
    turn: int | None = None,
    attempt: int | None = None,
    budget: Any = None,
    max_run_bytes: int | str | None = None,
    rotate_every: float | str | None = None,
) -> Run | None:
    """Turn tracing on (or off) for this process.

    Each setting left as None falls back to its ``SPANLINE_*`` variable, then to
    its default: the settings table (:data:`spanline._session._settings.SETTINGS`,
    shown in ``docs/configuration.md``) names each one's variable, default and
    accepted values. Calling it again ends the current run (writing its summary) first.

    Args:
        enabled: trace at all.
        service_name: names the service and prefixes the run id (characters outside
            ``[A-Za-z0-9._-]`` become ``-`` in the run id only).
        environment: e.g. "dev", "prod".
        run_dir: base directory; runs go to ``<run_dir>/runs/<run_id>/``.
        exporters: exporter names (built-in or ``spanline.exporters`` entry points) or
            exporter objects, besides telemetry.jsonl.
        flush_ms: the period of the writer, fixed however long a write takes.
        max_queue: events that may wait before new ones are dropped and counted.
        capture: "off", "preview" or "full" capture of arguments and results.
        preview_chars: length of previews.
        blob_threshold: in full capture, bytes past which a value is stored in ``blobs/``.
        prices: price table override: a JSON/YAML file path or a mapping
            ``{model: {input, output, cached_input, cache_write}}`` in USD per
            million tokens, merged over the shipped table.
        agent_kinds: span kinds counted as agents.
        query: the task or question of this run (execution metadata).
        config: the application's configuration (execution metadata).
        config_path: where that configuration came from.
        cli_args: the command-line arguments (default ``sys.argv``).
        source_repo: repository analysed/served (default: this repo's remote).
        source_commit: its commit (default: this repo's HEAD).
        run_id: the id of the new run; it must not exist yet.
        id_generator: returns span ids as non-zero 64-bit integers. With ``clock``
            and ``run_id``, runs are byte-for-byte reproducible, for snapshot tests.
        clock: returns the time in seconds, for timestamps and durations alike.
            When given, lines record pid 1.
        synchronous: write every span start and end at once (for tests; slow).
        summary_interval_ms: how often run_summary.json is rewritten while the
            run is live, the first time after one second at most (0: only at the end).
        handle_signals: on SIGTERM and SIGINT, flush, then call the previous handler.
        stall_s: seconds without a line in a running agent's subtree before the
            summary lists it under ``stalls``. Recorded in ``run_start``.
        dashboard: serve this run's live dashboard from a thread and print its address;
            only the process that created the run serves (needs ``[dashboard]``).
        propagate_executors: make the current span, with its agent id, follow work
            handed to ``ThreadPoolExecutor.submit``, ``loop.run_in_executor`` and
            ``ProcessPoolExecutor.submit``.
        logfire: True adds the ``logfire`` exporter, False removes it (needs
            ``[logfire]`` and a write token, else one warning and tracing goes on).
        redact_patterns: more regexes to redact (a group named ``secret`` limits the part).
        redact_exempt_keys: key names whose values are not redacted for their name.
        redact_entropy: also redact random-looking tokens that no rule names (off).
        session_id: the conversation this run is a turn of (``session.id`` on every span).
        turn: the run's turn of the session (default: the session's next turn).
        attempt: the attempt of that turn (default: the turn's next attempt).
        budget: limits on spending, for the run and the session (``docs/budgets.md``).
        max_run_bytes: rotate once the run's log passes this size (``"500MB"`` or bytes).
        rotate_every: rotate once the run is this old (``"1h"`` or seconds). A rotation
            closes the run and opens the next in the same session (``docs/retention.md``).

    Returns:
        The run, or None when tracing is off.

    Raises:
        ConfigurationError: an explicit argument is invalid. A run directory
            that cannot be written is not an error: it gives one warning on
            stderr and tracing stays off (None is returned).
    """
    given = locals()  # the parameters only, read before any other name is bound
    from spanline._session._settings import ARGUMENTS, resolve_settings

    arguments = {name: given[name] for name in ARGUMENTS}
    if isinstance(exporters, list):
        arguments["exporters"] = tuple(exporters)
    if agent_kinds is not None:
        arguments["agent_kinds"] = frozenset(agent_kinds)
    settings = resolve_settings(arguments, _parts.environment_before(_session))
    configure_redaction(
        settings.redact_patterns, settings.redact_exempt_keys, entropy=settings.redact_entropy
    )
    table = _parts.price_table(settings.prices, explicit=prices is not None)
    exporter_objects: list[tuple[str, Any]] = []
    if settings.exporters or settings.logfire:  # the exporter platform loads only for exporters
        from spanline.exporters._registry import build_exporters

        exporter_objects = build_exporters(
            settings.exporters, logfire=settings.logfire, explicit=exporters is not None
        )
    overrides = {name: given[name] for name in METADATA_ARGUMENTS}
    # An explicit run_id creates that run; SPANLINE_RUN_ID joins an existing one.
    overrides["join"] = settings.run_id if run_id is None else None
    with _lock:
        _end_session()
        try:
            if not settings.enabled:
                return None
            return _start_session(settings, exporter_objects, overrides, table).run
        except OSError as exc:
            # An unwritable directory, whether given as run_dir or SPANLINE_DIR, is a
            # state of the machine, not a misuse of the API: warn once, never raise.
            report(f"tracing stays off: cannot write runs under {settings.base_dir}: {exc}")
            return None
        finally:
            # Only now: threads whose first span arrives meanwhile wait on the lock for
            # the pipeline instead of reading "resolved, off" and losing their spans.
            RUNTIME.resolved = True


def configure_from_environment() -> None:
    """First span of an unconfigured process with ``SPANLINE_ENABLED`` set.

    Threads that open their first spans together all wait here for the one
    configuration (none gets a no-op span meanwhile).
    """
    from spanline._session._parse import switched_on
    from spanline._session._settings import read_environment

    with _lock:
        if RUNTIME.resolved:
            return
        try:
            raw = read_environment().get("SPANLINE_ENABLED")
            if raw is None or not switched_on(raw):
                return  # off: nothing else is read, nothing warns
            configure_observability()
        except Exception as exc:  # a bad environment must not break the host program
            report("tracing stays off: the SPANLINE_* environment is invalid", exc=exc)
        finally:
            RUNTIME.resolved = True


RUNTIME.configure_hook = configure_from_environment


def _start_session(
    settings: Settings, exporters: list[tuple[str, Any]], overrides: dict[str, Any], prices: Any
) -> _Session:
    from spanline._capture._report import add_log_file
    from spanline._writer._fork import at_fork

    run, created = _parts.open_run(settings, overrides)
    settings = _parts.rotation_session(settings, run, created)
    settings = _parts.number_turn(settings, run, created)
    trace_id, remote_parent = _parts.trace_context(settings, run.run_id)
    clock = settings.clock
    session = _Session(
        settings,
        run,
        os.getpid() if created else None,
        trace_id,
        overrides,
        record_pid=1 if clock is not None else None,
        prices=prices,
    )
    if not created:
        session.git_known.set()
    session.pipeline = _parts.new_pipeline(session, exporters, on_child_exit=shutdown)
    _parts.install_rotation(session)
    global _session
    _session = session
    at_fork(session._after_fork_in_child, in_multiprocessing_child=session._mp_child)
    if session.owner:
        session.log_handler = add_log_file(run.log_path)
    RUNTIME.capture = settings.capture
    RUNTIME.preview_chars = settings.preview_chars
    RUNTIME.prices = prices
    _parts.install_budgets(settings)
    session.integrations = _parts.load_integrations(settings.instrument)
    _parts.hand_over(session)
    _parts.propagate_executors(settings.propagate_executors)
    session.signals = _signal_handlers(settings.handle_signals)
    _register_atexit()
    # The session's threads start last: each takes turns with this thread while it runs.
    if created:  # just before the writer, which waits for git
        _header.start_metadata(session)
    session.pipeline.start()
    RUNTIME.remote_parent = remote_parent
    RUNTIME.pipeline = session.pipeline
    if session.owner and settings.dashboard:
        _parts.start_dashboard(session)
    if session.owner:  # last: its thread starts by loading the folds, off this one
        session.live = _parts.start_live_summary(session)
    return session


def _signal_handlers(wanted: bool) -> Any:
    """The session's signal handlers: those installed at import when they are still
    in place, else new ones (possible on the main thread only)."""
    global _early_signals
    early, _early_signals = _early_signals, None
    if early is None and not wanted:
        return None
    from spanline._session._signals import session_handlers

    return session_handlers(early, wanted, _on_signal, shutdown)


def _install_early_signal_handlers() -> Any:
    """With ``SPANLINE_ENABLED`` set, signal handlers are installed at import (see
    :func:`spanline._session._signals.install_early`)."""
    if "SPANLINE_ENABLED" not in os.environ:
        return None  # the usual import: the settings table is not loaded for nothing
    from spanline._session._signals import install_early

    return install_early(_on_signal, shutdown)


def _register_atexit() -> None:
    global _atexit_registered
    if not _atexit_registered:
        atexit.register(_shutdown_at_exit)
        _atexit_registered = True


def _shutdown_at_exit() -> None:
    from spanline._session import _reopen

    _reopen.exiting = True
    shutdown()
    _reopen.say_at_exit()


def _end_session(timeout: float = 5.0) -> RunSummary | None:
    global _session
    session = _session
    if session is None:
        return None
    signals = session.signals
    if signals is not None:
        # Before the session is let go: a signal landing in between would find no
        # session to finish and end the process before its process_end is written.
        signals.hold()  # restored, and a held signal delivered, once all is written
    _session = None
    try:
        return _finish_session(session, timeout)
    finally:
        if signals is not None:
            signals.restore()


def _finish_session(session: _Session, timeout: float) -> RunSummary | None:
    # Closing first: spanline's own threads never see tracing plainly off meanwhile
    # (their spans are counted as suppressed until the pipeline is shut down).
    RUNTIME.closing = session.pipeline
    _parts.uninstall_budgets()
    RUNTIME.pipeline = None
    RUNTIME.remote_parent = None
    try:
        if session.pipeline is not None:
            _parts.abandon_open_spans(session.pipeline)
            session.pipeline.shutdown(timeout)
        forget_marks()  # long texts captured and never written (a dropped event's) let go
    except Exception as exc:  # finish the session anyway: env, summary, log file
        report("shutting the pipeline down failed", exc=exc)
    finally:
        RUNTIME.closing = None
    _tracer.set_sources()
    thread = session.metadata_thread
    if session.owner and thread is not None and thread.ident is not None:
        thread.join(timeout)  # the metadata is written, and its thread gone, before the end
    _parts.restore_environment(os.environ, session.saved_env)
    if session.closing is not None:  # the runs it rotated from: their summaries written
        session.closing.wait(timeout)
    summary = None
    if session.live is not None:
        summary = session.live.finish()
    # The pipeline's header callback refers to the session: drop both links so the
    # fold's memory goes now, not at some later garbage collection.
    if session.dashboard is not None:
        # After the final summary: a page still open sees the run's end first.
        try:
            session.dashboard.stop()
            from spanline._session._reopen import print_reopen

            print_reopen(session.dashboard)
        except Exception as exc:
            report("stopping the dashboard failed", exc=exc)
    session.live = None
    session.pipeline = None
    session.dashboard = None
    from spanline._capture._report import remove_log_file

    remove_log_file(session.log_handler)
    return summary


def _on_signal() -> None:
    """A termination signal arrived: get what is queued onto disk first.

    And let the summary's thread finish loading the folds: classes built after a
    KeyboardInterrupt is raised make the interpreter exit with 1 instead of by SIGINT.
    """
    flush(timeout=5.0)
    session = _session
    live = session.live if session is not None else None
    if live is not None:
        live.wait_loaded(5.0)


def shutdown(timeout: float = 5.0) -> RunSummary | None:
    """Flush everything, stop the writer, write run_summary.json. Idempotent.

    Also runs at interpreter exit. Tracing stays off until configured again.

    Args:
        timeout: what exporters may cost, in seconds: once everything queued
            is in telemetry.jsonl, the exporters together get this long,
            however they behave (sleeping, blocking, raising); what one has not
            taken by then is counted as dropped and reported. Writing the queue
            to the file is not cut short while it makes progress. Then
            run_summary.json is written.

    Returns:
        The run summary (in the process that created the run), else None; None
        too when much of the log was still to be summarised (a runaway): the
        summary's helper process then writes run_summary.json after the
        program has gone, and readers fold the log until it has.
    """
    with _lock:
        RUNTIME.resolved = True
        return _end_session(timeout)


def flush(timeout: float = 10.0) -> bool:
    """Block until every event recorded so far is in telemetry.jsonl and exported.

    Returns:
        True if done within ``timeout`` seconds and every exporter confirmed;
        False when one raised, lost events since the previous flush, did not
        answer in time, or when tracing is off.
    """
    pipeline = RUNTIME.pipeline
    return pipeline.flush(timeout) if pipeline is not None else False


def current_run() -> Run | None:
    """The run this process is writing to, or None when tracing is off."""
    session = _session
    return session.run if session is not None else None


def child_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a child process that should trace into this run.

    Adds a W3C ``TRACEPARENT`` naming the current span, so the child's root
    spans become its children.

    Args:
        base: the environment to extend (default: a copy of ``os.environ``).
    """
    env = dict(os.environ if base is None else base)
    session = _session
    span = current_span()
    if session is not None and span.span_id:
        env["TRACEPARENT"] = f"00-{session.trace_id}-{span.span_id}-01"
    return env


_early_signals = _install_early_signal_handlers()
