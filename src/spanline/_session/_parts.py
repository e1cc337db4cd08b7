"""What a session is made of, started by ``configure_observability()``: the price table,
the trace context, the run (created or joined), its pipeline, executor propagation,
the live summary and the dashboard, and the environment put back as it was."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from spanline._capture._report import report
from spanline._hotpath import _runtime
from spanline._runs._store import Run

if TYPE_CHECKING:
    from pathlib import Path

    from spanline._hotpath._runtime import Pipeline
    from spanline._lines._encode import Event
    from spanline._session._configure import _Session
    from spanline._session._settings import Settings
    from spanline._session._sidecar import SummarySidecar
    from spanline._writer._pipeline import Pipeline as WriterPipeline

__all__ = [
    "abandon_open_spans",
    "blob_store",
    "environment_before",
    "hand_over",
    "handover_variables",
    "in_session",
    "install_rotation",
    "new_pipeline",
    "number_turn",
    "open_run",
    "price_table",
    "propagate_executors",
    "restore_environment",
    "rotation_session",
    "start_dashboard",
    "start_live_summary",
    "trace_context",
]


def price_table(override: Any, *, explicit: bool) -> Any:
    """The shipped price table merged with the user's file or mapping (None: default)."""
    if override is None:
        return None
    from spanline._capture._prices import PriceTable

    try:
        extra = (
            PriceTable.from_mapping(override)
            if isinstance(override, dict)
            else PriceTable.from_file(override)
        )
        return PriceTable.default().merged(extra)
    except (OSError, ValueError, ImportError) as exc:
        if explicit:
            from spanline.exceptions import ConfigurationError

            raise ConfigurationError(f"invalid prices: {exc}") from None
        import warnings

        from spanline.exceptions import SpanlineWarning

        warnings.warn(
            f"SPANLINE_PRICES: {exc}; using the shipped price table", SpanlineWarning, stacklevel=3
        )
        return None


def trace_context(settings: Settings, run_id: str) -> tuple[str, int | None]:
    """The run's trace id and remote parent: from TRACEPARENT, else derived from the run id.

    Deriving it from the run id gives every process of one run the same trace id
    without handing anything else over.
    """
    if settings.traceparent is not None:
        return settings.traceparent
    return _sha256_hex(run_id.encode())[:32], None


def _sha256_hex(data: bytes) -> str:
    """SHA-256 of ``data`` in hex, from the interpreter's built-in module when it has one:
    ``hashlib`` starts OpenSSL's bindings first (about 2 ms), for one short digest."""
    try:
        from _sha2 import sha256  # type: ignore[import-not-found]  # Python 3.12+
    except ImportError:
        try:
            from _sha256 import sha256  # type: ignore[import-not-found]
        except ImportError:
            from hashlib import sha256
    return str(sha256(data).hexdigest())


def open_run(settings: Settings, overrides: dict[str, Any]) -> tuple[Run, bool]:
    """The run to write to, and whether this process created it."""
    from spanline._runs._store import create_run, find_run

    base = settings.base_dir.expanduser().resolve()
    joining = overrides["join"]
    if joining:
        joined = find_run(base, joining)
        if joined is not None:
            return joined, False
        report(f"SPANLINE_RUN_ID={joining!r} is not a run under {base}; starting a new run")
    chosen = settings.run_id if not joining else None
    try:
        return create_run(base, settings.service_name, chosen), True
    except FileExistsError as exc:
        from spanline.exceptions import ConfigurationError

        raise ConfigurationError(str(exc)) from None


def number_turn(settings: Settings, run: Run, created: bool) -> Settings:
    """The settings with the run's turn and attempt numbered, when it is in a session.

    Only a new run takes numbers from the session's counter file; a process joining
    a run keeps the numbers its parent handed over.
    """
    if settings.session_id is None or not created:
        return settings
    from spanline._runs._sessions import take_numbers

    turn, attempt = take_numbers(
        run.base, settings.session_id, settings.turn, settings.attempt, run.run_id
    )
    return settings._replace(turn=turn, attempt=attempt)


def in_session(session_id: str, transform: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The writer's transform, also giving each span of the run its session.

    Applied on the writer thread, so the hot path pays nothing for it. A span opened
    under ``spanline.session(id)`` keeps its own ``session.id``; a span that carries a
    framework's ``gen_ai.conversation.id`` keeps that.
    """

    def add_session(event: Any) -> Any:
        attributes = event.get("attributes")
        if event.get("event") == "span_start" and isinstance(attributes, dict):
            own = attributes.setdefault("session.id", session_id)
            attributes.setdefault("gen_ai.conversation.id", own)
        return transform(event)

    return add_session


def propagate_executors(on: bool) -> None:
    """Patch the executors' ``submit`` (or give it back): the setting of the latest run wins."""
    from spanline._decorators import _propagate

    if on:
        _propagate.patch_executors()
    else:
        _propagate.unpatch_executors()


def start_live_summary(session: _Session) -> SummarySidecar:
    """The run's live summary, folded by a helper process started off the caller's path
    (the folds load on the starter's thread: see :meth:`SummarySidecar.wait_loaded`)."""
    from spanline._session._sidecar import SummarySidecar

    override = session.settings.prices
    live = SummarySidecar(
        session.run,
        interval=session.settings.summary_interval_ms / 1000.0,
        prices=session.prices,
        price_override=os.fspath(override) if isinstance(override, os.PathLike) else override,
    )
    live.start()
    return live


def start_dashboard(session: _Session) -> None:
    """Serve the run's dashboard from a thread of its own (``session.dashboard``) and
    print where; with rotation on, the page printed follows the next runs.

    The dashboard sits below the session and never imports the tracer: the
    session hands it the marker that makes its thread one of spanline's own.
    """

    from spanline.dashboard import DEFAULT_PORT, DashboardUnavailable, start_in_thread

    run, rotating = session.run, _rotating(session.settings)
    try:
        server = start_in_thread(
            run.base,
            default_run=run.run_id,
            thread_init=_runtime.mark_internal_thread,
            stops_with_run=True,
            follows=rotating,
        )
    except DashboardUnavailable as exc:
        import warnings

        from spanline.exceptions import SpanlineWarning

        warnings.warn(f"the dashboard is off: {exc}", SpanlineWarning, stacklevel=4)
        return
    except OSError as exc:  # tracing goes on without it
        report("could not start the dashboard", exc=exc)
        return
    busy = f" (port {DEFAULT_PORT} is busy)" if server.fell_back else ""
    sys.stderr.write(f"spanline: dashboard at {server.url}{busy}\n")
    from spanline._session._reopen import expect

    expect()  # the reopen command is said at exit, however the run ends
    session.dashboard = server
    if rotating:  # a rotation while the server started was not told to it
        from spanline._session._rotation import follow_dashboard

        follow_dashboard(session)


def handover_variables(settings: Settings, base_dir: Path, run_id: str) -> dict[str, str]:
    """Variables that make a child process trace into this run.

    The session writes them into ``os.environ`` (and restores them at shutdown);
    a child that reads them through :func:`resolve_settings` joins the run.

    Args:
        settings: the session's settings (its conversation, turn and attempt, as
            numbered); a setting children should share is added here, not elsewhere.
        base_dir: the resolved base directory of the run.
        run_id: the run to join.

    Returns:
        ``SPANLINE_ENABLED``, ``SPANLINE_DIR``, ``SPANLINE_RUN_ID``, the redaction settings
        that are not the defaults (a child redacts as its parent does), the rotation limits
        (a child follows), in a session ``SPANLINE_SESSION_ID``, ``_TURN``, ``_ATTEMPT``.
    """
    variables = {
        "SPANLINE_ENABLED": "1",
        "SPANLINE_DIR": os.fspath(base_dir),
        "SPANLINE_RUN_ID": run_id,
    }
    if settings.redact_patterns:
        import json  # loaded only for patterns to hand over

        patterns = [pattern.pattern for pattern in settings.redact_patterns]
        variables["SPANLINE_REDACT_PATTERNS"] = json.dumps(patterns)
    if settings.redact_exempt_keys:
        variables["SPANLINE_REDACT_EXEMPT_KEYS"] = ",".join(sorted(settings.redact_exempt_keys))
    if settings.redact_entropy:
        variables["SPANLINE_REDACT_ENTROPY"] = "1"
    for name, limit in (("SPANLINE_MAX_RUN_BYTES", settings.max_run_bytes),
                        ("SPANLINE_ROTATE_EVERY", settings.rotate_every)):  # fmt: skip
        if limit is not None:  # a child follows the rotations
            variables[name] = repr(limit)
    if settings.session_id is not None:
        variables["SPANLINE_SESSION_ID"] = settings.session_id
        for name, value in (
            ("SPANLINE_TURN", settings.turn),
            ("SPANLINE_ATTEMPT", settings.attempt),
        ):
            if value is not None:
                variables[name] = str(value)
    return variables


def hand_over(session: _Session) -> None:
    """Export the run to child processes (SPANLINE_ENABLED, _DIR, _RUN_ID...), keeping
    what was there to put back at shutdown."""
    run = session.run
    for name, value in handover_variables(session.settings, run.base, run.run_id).items():
        session.saved_env[name] = os.environ.get(name)
        os.environ[name] = value


def abandon_open_spans(pipeline: Pipeline) -> None:
    """Every span still open gets its span_end now, with the reason it was left open."""
    from spanline._session._signals import exit_signal

    by_signal = exit_signal()
    main = threading.main_thread().ident
    running = {thread.ident for thread in threading.enumerate()}

    def reason(owner: Any) -> str:
        if by_signal is not None:
            return f"signal {by_signal}"
        if isinstance(owner, str):
            return owner  # a generator or stream not consumed to its end
        if owner != main and owner in running:
            return "thread not finished"
        return "process exit"

    from spanline._hotpath._abandon import abandon_open_spans as end_abandoned

    end_abandoned(pipeline, reason)


def environment_before(session: _Session | None) -> dict[str, str]:
    """os.environ as it was before ``session`` exported its run to its children.

    Re-configuring must not read back SPANLINE_DIR/ENABLED that we set ourselves.
    """
    environ = dict(os.environ)
    if session is not None:
        restore_environment(environ, session.saved_env)
    return environ


def restore_environment(environ: Any, saved: dict[str, str | None]) -> None:
    """Put back the variables ``saved`` recorded (None: the variable was unset)."""
    for name, value in saved.items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value


def _rules_compiled() -> None:
    """Before every fork of a traced process: redaction's rules compiled, at once or once
    the thread compiling them is done. The metadata thread, the writer and its helper
    compile them on first use while the program runs on; a child forked meanwhile would
    inherit their lock (or the import of their text) held, and hang on its first
    redaction, its exit's report among them."""
    from spanline._capture._redact import redact_text

    redact_text("")  # compiles the rules first, or waits for the thread compiling them


def new_pipeline(
    session: _Session, exporters: list[tuple[str, Any]], *, on_child_exit: Callable[[], object]
) -> WriterPipeline:
    """The session's pipeline, with the id and clock sources set for the hot path.

    Args:
        session: the session starting.
        exporters: its exporters, by name.
        on_child_exit: what a child process of the run calls as it exits (shutdown).
    """
    from spanline._capture import _redact
    from spanline._capture._scrub import redact_event
    from spanline._hotpath import _tracer
    from spanline._session import _header
    from spanline._writer._fork import before_fork
    from spanline._writer._pipeline import Pipeline

    before_fork(_rules_compiled)

    settings, clock = session.settings, session.settings.clock
    _tracer.set_sources(settings.id_generator, clock, clock)
    # Read here, not on the writer thread: with an injected clock, the order of
    # readings (and so every timestamp) must not depend on thread scheduling.
    session.start_ts = _tracer.wall_time()
    # Each span of a session carries it (the writer adds it, off the caller's path).
    redact = (
        redact_event
        if settings.session_id is None
        else in_session(settings.session_id, redact_event)
    )
    transform, blobs = _event_transform(session, redact)
    try:
        return Pipeline(
            telemetry_path=session.run.telemetry_path,
            trace_id=session.trace_id,
            flush_interval=settings.flush_ms / 1000.0,
            max_queue=settings.max_queue,
            exporters=exporters,
            header=lambda: _header.header(session),
            transform=transform,
            # Redaction's rules are replaced whole when one is added: their identity
            # tells the writer when what it learnt from redacting names is stale.
            transform_key=lambda: _redact.registry,
            blobs=blobs,
            on_child_exit=on_child_exit,
            synchronous=settings.synchronous,
            record_pid=session.record_pid,
        )
    except BaseException:
        _tracer.set_sources()  # nothing started: leave no injected clock behind
        raise


def _event_transform(
    session: _Session, redact: Callable[[Event], Event]
) -> tuple[Callable[[Event], Event], Any]:
    """Redaction, then (in full capture) large values moved out of line, and their store."""
    settings = session.settings
    if settings.capture != "full":
        return redact, None
    from spanline._lines._blobs import externalize

    store = session.blobs = blob_store(session)
    threshold = settings.blob_threshold

    def put(digest: str, data: bytes | Sequence[bytes]) -> None:
        # The store of the run the line goes to: a rotation replaces it, and a tree still
        # open in the run rotated from writes to that run's store meanwhile.
        pipeline = session.pipeline
        store = pipeline.blobs if pipeline is not None else None
        (store if store is not None else session.blobs).put(digest, data)

    def transform(event: Event) -> Event:
        return externalize(redact(event), threshold, put)

    return transform, store


def blob_store(session: _Session) -> Any:
    """A store of out-of-line values for the session's current run."""
    from spanline._hotpath._runtime import mark_internal_thread
    from spanline._lines._blobs import BlobStore
    from spanline._runs._liveness import process_alive

    store = BlobStore(
        session.run.telemetry_path.parent,
        synchronous=session.settings.synchronous,
        on_thread_start=mark_internal_thread,
        alive=process_alive,  # the first blob removes what killed processes half-wrote
    )
    store.activate()  # capture hands it long texts to hash while redacting them
    return store


def load_integrations(names: tuple[str, ...]) -> dict[str, str]:
    """Load ``SPANLINE_INSTRUMENT``'s integrations; all loaded now, with their versions.

    Called before the pipeline goes live: these are listed in the header, and those
    loaded later each write an ``integration`` line.
    """
    if names:
        from spanline._instrument import instrument_from_environment

        instrument_from_environment(names)
    loaded = sys.modules.get("spanline._instrument")  # nothing was loaded without it
    return dict(loaded.loaded_versions()) if loaded is not None else {}


def _rotating(settings: Settings) -> bool:
    return settings.max_run_bytes is not None or settings.rotate_every is not None


def rotation_session(settings: Settings, run: Run, created: bool) -> Settings:
    """The settings with the session rotated runs share (loaded only with rotation on)."""
    if not _rotating(settings):
        return settings
    from spanline._session._rotation import in_own_session

    return in_own_session(settings, run, created)


def install_rotation(session: _Session) -> None:
    """The pipeline's rotation, when a limit is set (loaded only then)."""
    if _rotating(session.settings):
        from spanline._session._rotation import install

        install(session)


def install_budgets(settings: Settings) -> None:
    """The run's and the session's budgets, when a limit is set (loaded only then)."""
    if not _has_budget(settings) and not _runtime.RUNTIME.budgets:
        return
    from spanline._session._budgets import install

    install(settings, settings.base_dir)


def uninstall_budgets() -> None:
    """The run ended: its budgets stop counting."""
    if _runtime.RUNTIME.budgets:
        from spanline._session._budgets import uninstall

        uninstall()


def budget_header(settings: Settings) -> dict[str, Any]:
    """The run header's ``budget`` field, or nothing without limits."""
    if not _has_budget(settings):
        return {}
    from spanline._session._budgets import header_field

    return header_field(settings)


def _has_budget(settings: Settings) -> bool:
    limits = (settings.budget, settings.max_usd, settings.max_tokens, settings.session_max_usd)
    return any(limit is not None for limit in limits)
