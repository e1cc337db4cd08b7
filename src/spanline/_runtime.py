"""configure_observability(), shutdown(), flush(): the session around one pipeline."""

from __future__ import annotations

import atexit
import hashlib
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from spanline._pipeline import Pipeline, on_fork
from spanline._redact import redact, redact_event, redact_text
from spanline._report import add_log_file, remove_log_file, report
from spanline._run import Run, create_run, execution_metadata, find_run, git_info, write_metadata
from spanline._tracer import RUNTIME, current_span
from spanline._version import __version__
from spanline.schema import SCHEMA_VERSION

if TYPE_CHECKING:
    from spanline._config import Settings
    from spanline.folds.summary import RunSummary

__all__ = ["child_env", "configure_observability", "current_run", "flush", "shutdown"]

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")
#: Variables a configured process hands to its child processes.
_HANDOVER = ("SPANLINE_ENABLED", "SPANLINE_DIR", "SPANLINE_RUN_ID")


@dataclass
class _Session:
    settings: Settings
    run: Run
    pipeline: Pipeline
    owner: bool
    trace_id: str
    overrides: dict[str, Any]
    saved_env: dict[str, str | None] = field(default_factory=dict)
    log_handler: int | None = None
    prices: Any = None


_session: _Session | None = None
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
    prices: Any = None,
    agent_kinds: list[str] | set[str] | None = None,
    query: str | None = None,
    config: Any = None,
    config_path: str | None = None,
    cli_args: Any = None,
    source_repo: str | None = None,
    source_commit: str | None = None,
) -> Run | None:
    """Turn tracing on (or off) for this process.

    Each argument left as None falls back to its ``SPANLINE_*`` variable, then to
    the default. Calling it again ends the current run (writing its summary) first.

    Args:
        enabled: trace at all (``SPANLINE_ENABLED``; default off).
        service_name: prefix of the run id (``SPANLINE_SERVICE_NAME``; "spanline").
        environment: e.g. "dev", "prod" (``SPANLINE_ENVIRONMENT``).
        run_dir: base directory; runs go to ``<run_dir>/runs/<run_id>/``
            (``SPANLINE_DIR``; ".spanline").
        exporters: exporter names ("console", "memory") or exporter objects,
            besides telemetry.jsonl (``SPANLINE_EXPORTERS``, comma-separated).
        flush_ms: longest time between writes (``SPANLINE_FLUSH_MS``; 250).
        max_queue: events that may wait before new ones are dropped and counted
            (``SPANLINE_MAX_QUEUE``; 2,000,000).
        capture: "off", "preview" or "full" capture of arguments and results by the
            decorators (``SPANLINE_CAPTURE``; "preview").
        preview_chars: length of previews (``SPANLINE_PREVIEW_CHARS``; 200).
        prices: price table override: a JSON/YAML file path or a mapping
            ``{model: {input, output, cached_input}}`` in USD per million tokens,
            merged over the shipped table (``SPANLINE_PRICES``: a path).
        agent_kinds: span kinds counted as agents (default: ``AGENT_KINDS``).
        query: the task or question of this run (execution metadata).
        config: the application's configuration (execution metadata).
        config_path: where that configuration came from.
        cli_args: the command-line arguments (default ``sys.argv``).
        source_repo: repository analysed/served (default: this repo's remote).
        source_commit: its commit (default: this repo's HEAD).

    Returns:
        The run, or None when tracing is off.

    Raises:
        ConfigurationError: an explicit argument is invalid.
    """
    from spanline._config import resolve_settings

    arguments = {
        "enabled": enabled,
        "service_name": service_name,
        "environment": environment,
        "base_dir": run_dir,
        "exporters": tuple(exporters) if isinstance(exporters, list) else exporters,
        "flush_ms": flush_ms,
        "max_queue": max_queue,
        "capture": capture,
        "preview_chars": preview_chars,
        "prices": prices,
        "agent_kinds": frozenset(agent_kinds) if agent_kinds is not None else None,
    }
    settings = resolve_settings(arguments, _environment_without_our_exports())
    try:
        table = _price_table(settings.prices)
    except (OSError, ValueError, ImportError) as exc:
        if prices is not None:
            from spanline.exceptions import ConfigurationError

            raise ConfigurationError(f"invalid prices: {exc}") from None
        import warnings

        from spanline.exceptions import SpanlineWarning

        warnings.warn(
            f"SPANLINE_PRICES: {exc}; using the shipped price table", SpanlineWarning, stacklevel=2
        )
        table = None
    exporter_objects = _build_exporters(settings.exporters, explicit=exporters is not None)
    overrides = {
        "query": query,
        "config": config,
        "config_path": config_path,
        "cli_args": cli_args,
        "source_repo": source_repo,
        "source_commit": source_commit,
    }
    with _lock:
        _end_session()
        RUNTIME.resolved = True
        if not settings.enabled:
            return None
        return _start_session(settings, exporter_objects, overrides, table).run


def _environment_without_our_exports() -> dict[str, str]:
    """os.environ as it was before this process exported its run to its children.

    Re-configuring must not read back SPANLINE_DIR/ENABLED that we set ourselves.
    """
    environ = dict(os.environ)
    if _session is not None:
        _restore(environ, _session.saved_env)
    return environ


def _restore(environ: Any, saved: dict[str, str | None]) -> None:
    """Put back the variables ``saved`` recorded (None: the variable was unset)."""
    for name, value in saved.items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value


def configure_from_environment() -> None:
    """First span of an unconfigured process with ``SPANLINE_ENABLED`` set.

    Threads that open their first spans together all wait here for the one
    configuration (none gets a no-op span meanwhile).
    """
    with _lock:
        if RUNTIME.resolved:
            return
        try:
            configure_observability()
        except Exception as exc:  # a bad environment must not break the host program
            report("tracing stays off: the SPANLINE_* environment is invalid", exc=exc)
        finally:
            RUNTIME.resolved = True


def _price_table(override: Any) -> Any:
    """The shipped price table, merged with the user's file or mapping (None: default)."""
    if override is None:
        return None
    from spanline._prices import PriceTable

    extra = (
        PriceTable.from_mapping(override)
        if isinstance(override, dict)
        else PriceTable.from_file(override)
    )
    return PriceTable.default().merged(extra)


def capture_mode() -> str:
    """The capture mode of the current session ("preview" when none)."""
    session = _session
    return session.settings.capture if session is not None else "preview"


def preview_limit() -> int:
    """Characters kept in previews."""
    session = _session
    return session.settings.preview_chars if session is not None else 200


def cost_of(usage: Any, model: str) -> float | None:
    """USD cost of ``usage`` on ``model`` with the session's price table; None if unpriced."""
    from spanline._prices import compute_cost

    session = _session
    return compute_cost(usage, model, session.prices if session is not None else None)


def _build_exporters(items: tuple[Any, ...], *, explicit: bool) -> list[Any]:
    from spanline.exceptions import ConfigurationError, SpanlineWarning
    from spanline.exporters import NAMED_EXPORTERS, Exporter, exporter_from_name

    built = []
    for item in items:
        if isinstance(item, str):
            if item == "jsonl":
                continue  # telemetry.jsonl is always written
            if item in NAMED_EXPORTERS:
                built.append(exporter_from_name(item))
                continue
            accepted = ", ".join(["jsonl", *sorted(NAMED_EXPORTERS)])
            message = f"unknown exporter {item!r}; accepted names: {accepted}"
            if explicit:
                raise ConfigurationError(message)
            import warnings

            warnings.warn(f"SPANLINE_EXPORTERS: {message}", SpanlineWarning, stacklevel=4)
        elif isinstance(item, Exporter):
            built.append(item)
        else:
            raise ConfigurationError(
                f"exporter {item!r} lacks export(batch), flush() and shutdown()"
            )
    return built


def _trace_context(run_id: str) -> tuple[str, int | None]:
    """The run's trace id and remote parent: from TRACEPARENT, else derived from the run id.

    Deriving it from the run id gives every process of one run the same trace id
    without handing anything else over.
    """
    match = _TRACEPARENT.match(os.environ.get("TRACEPARENT", "").strip().lower())
    if match and int(match.group(1), 16) and int(match.group(2), 16):
        return match.group(1), int(match.group(2), 16)
    return hashlib.sha256(run_id.encode()).hexdigest()[:32], None


def _start_session(
    settings: Settings, exporters: list[Any], overrides: dict[str, Any], prices: Any
) -> _Session:
    base = settings.base_dir.expanduser().resolve()
    joined = None
    run_id = os.environ.get("SPANLINE_RUN_ID")
    if run_id:
        joined = find_run(base, run_id)
        if joined is None:
            report(f"SPANLINE_RUN_ID={run_id!r} is not a run under {base}; starting a new run")
    run = joined or create_run(base, settings.service_name)
    trace_id, remote_parent = _trace_context(run.run_id)
    pipeline = Pipeline(
        telemetry_path=run.telemetry_path,
        trace_id=trace_id,
        flush_interval=settings.flush_ms / 1000.0,
        max_queue=settings.max_queue,
        exporters=exporters,
        # Called on the writer thread after start(), when ``session`` is bound.
        header=lambda: _header(session),
        transform=redact_event,
    )
    session = _Session(settings, run, pipeline, joined is None, trace_id, overrides, prices=prices)
    global _session
    _session = session
    if session.owner:
        session.log_handler = add_log_file(run.log_path)
    pipeline.start()
    RUNTIME.remote_parent = remote_parent
    RUNTIME.pipeline = pipeline
    for name, value in zip(_HANDOVER, ("1", str(base), run.run_id), strict=True):
        session.saved_env[name] = os.environ.get(name)
        os.environ[name] = value
    _register_atexit()
    return session


def _header(session: _Session) -> dict[str, Any]:
    """First line of a process: run_start (owner, also writes metadata) or process_start."""
    run, settings = session.run, session.settings
    common = {
        "ts": time.time(),
        "run_id": run.run_id,
        "pid": os.getpid(),
        "trace_id": session.trace_id,
    }
    if not session.owner:
        return {"event": "process_start", **common, "ppid": os.getppid()}
    git = git_info()
    overrides = session.overrides
    metadata = execution_metadata(
        run_id=run.run_id,
        service_name=settings.service_name,
        environment=settings.environment,
        query=overrides["query"],
        config=overrides["config"],
        config_path=overrides["config_path"],
        cli_args=overrides["cli_args"],
        git=git,
    )
    write_metadata(run, redact_metadata(metadata))
    query = overrides["query"]
    return {
        "event": "run_start",
        **common,
        "schema_version": SCHEMA_VERSION,
        "service_name": settings.service_name,
        "environment": settings.environment,
        "source_repo": overrides["source_repo"] or git["remote"],
        "source_commit": overrides["source_commit"] or git["commit"],
        "git_branch": git["branch"],
        "spanline_version": __version__,
        "agent_kinds": sorted(settings.agent_kinds),
        "query": redact_text(str(query)) if query is not None else None,
    }


def redact_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Execution metadata with secrets removed (query, config and cli args may hold keys)."""
    cleaned = redact(metadata)
    if isinstance(cleaned, dict):
        return cleaned
    # redact() fails closed with a marker string; never fall back to the original.
    return {"run_id": metadata.get("run_id"), "redaction_failed": True}


def _register_atexit() -> None:
    global _atexit_registered
    if not _atexit_registered:
        atexit.register(shutdown)
        _atexit_registered = True


def _end_session(timeout: float = 30.0) -> RunSummary | None:
    global _session
    session = _session
    if session is None:
        return None
    _session = None
    RUNTIME.pipeline = None
    RUNTIME.remote_parent = None
    try:
        session.pipeline.shutdown(timeout)
    except Exception as exc:  # finish the session anyway: env, summary, log file
        report("shutting the pipeline down failed", exc=exc)
    _restore(os.environ, session.saved_env)
    summary = _write_summary(session) if session.owner else None
    remove_log_file(session.log_handler)
    return summary


def _write_summary(session: _Session) -> RunSummary | None:
    try:
        from spanline.folds.summary import summarize_file, write_summary

        summary = summarize_file(session.run.telemetry_path, prices=session.prices)
        write_summary(summary, session.run.summary_path)
        return summary
    except Exception as exc:  # the events are safe on disk; the summary can be re-folded
        report("could not write run_summary.json", exc=exc)
        return None


def shutdown(timeout: float = 30.0) -> RunSummary | None:
    """Flush everything, stop the writer, write run_summary.json. Idempotent.

    Also runs at interpreter exit. Tracing stays off until configured again.

    Returns:
        The run summary (in the process that created the run), else None.
    """
    with _lock:
        RUNTIME.resolved = True
        return _end_session(timeout)


def flush(timeout: float = 10.0) -> bool:
    """Block until every event recorded so far is in telemetry.jsonl and exported.

    Returns:
        True if done within ``timeout`` seconds (False when tracing is off).
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


def _after_fork(pipeline: Pipeline) -> None:
    global _lock
    _lock = threading.RLock()  # another thread of the parent may have held it
    session = _session
    if session is None or session.pipeline is not pipeline:
        return
    session.owner = False  # the parent writes metadata and the summary
    session.log_handler = None
    pipeline.after_fork_in_child(lambda: _header(session))


on_fork(_after_fork)
