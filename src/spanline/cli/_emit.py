"""``spanline emit``: append one schema-valid line to a run's telemetry.jsonl.

Shell hooks and orchestrators in other languages take part in a run this way.
Each line is built by the line format's own functions (``spanline._lines``, as the
writer's are) and goes through what the writer does to its own: redaction
(:func:`spanline._capture._scrub.redact_event`), encoding
(:func:`spanline._lines._encode.encode`) and the locked append
(:func:`spanline._lines._fileio.append_locked`), so lines of several processes never
interleave. Each is checked against the published schema before it is written.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

from spanline._lines._encode import event_line, phase_line, span_end_line, span_start_line
from spanline._lines._read import lines
from spanline._runs._store import Run, read_run_start
from spanline.cli._app import BAD_INPUT, DIR_HELP, CliError, cli, find_run
from spanline.schema import traceparent_ids

__all__ = ["emit"]

F = TypeVar("F", bound=Callable[..., Any])

_SPAN_ID = re.compile(r"^[0-9a-f]{16}$")


_RUN_HELP = "run id or path (default: $SPANLINE_RUN_ID, else the latest run)"


def _run_options(func: F) -> F:
    """``--run`` and ``--dir``, taken after the subcommand as well as before it."""
    func = click.option("--run", "target", help=_RUN_HELP)(func)
    func = click.option("--dir", "directory", type=click.Path(path_type=Path), help=DIR_HELP)(func)
    return func


def _emit_run(target: str | None, directory: Path | None) -> Run:
    """The run to append to: ``--run`` / ``--dir`` after the subcommand, else before it
    (``spanline [--dir D] emit [--run R] [--dir D] ...``), else the ``SPANLINE_RUN_ID`` and
    ``SPANLINE_DIR`` that a traced process exports to the hooks it starts (the base
    directory's default, as for every command)."""
    given = click.get_current_context().find_object(dict) or {}
    target = target or given.get("run") or os.environ.get("SPANLINE_RUN_ID") or None
    return find_run(target, directory)


def _attrs_option(func: F) -> F:
    return click.option(
        "--attr",
        "attrs",
        multiple=True,
        metavar="KEY=VALUE",
        help="an attribute (repeatable); VALUE is read as JSON when it parses, else text",
    )(func)


@cli.group()
@_run_options
@click.pass_context
def emit(ctx: click.Context, target: str | None, directory: Path | None) -> None:
    """Append a span_start, span_end, phase or event line to a run's telemetry.jsonl.

    --run and --dir may come before or after the subcommand.
    """
    ctx.ensure_object(dict)
    if target is not None:
        ctx.obj["run"] = target
    if directory is not None:
        ctx.obj["dir"] = directory


@emit.command("span_start")
@click.argument("name")
@click.option("--kind", default=None, help="span kind (e.g. tool, agent, phase)")
@click.option("--component", default=None, help="component name")
@click.option("--parent", default=None, help="parent span id (default: from $TRACEPARENT)")
@_attrs_option
@_run_options
def span_start(
    name: str,
    kind: str | None,
    component: str | None,
    parent: str | None,
    attrs: tuple[str, ...],
    target: str | None,
    directory: Path | None,
) -> None:
    """Open span NAME; prints its span id, for the matching 'spanline emit span_end'."""
    run = _emit_run(target, directory)
    trace_id = _trace_id(run)
    if parent is not None:
        _check_span_id(parent, "--parent")
    else:
        parent = _parent_from_environment(trace_id)
    span_id = os.urandom(8).hex()
    attributes = _parse_attrs(attrs)
    line = span_start_line(
        span_id, parent, trace_id, name, component, kind, time.time(), attributes
    )
    _append(run, line)
    click.echo(span_id)


@emit.command("span_end")
@click.argument("span_id")
@click.option("--status", type=click.Choice(["ok", "error"]), default="ok", show_default=True)
@click.option("--duration-ms", type=float, default=None, help="default: since its span_start")
@click.option("--tokens", type=int, default=0, show_default=True)
@click.option("--tool-uses", type=int, default=0, show_default=True)
@click.option("--error-type", default=None, help="error type (with --status error)")
@click.option("--message", default=None, help="error message (with --status error)")
@_attrs_option
@_run_options
def span_end(
    span_id: str,
    status: str,
    duration_ms: float | None,
    tokens: int,
    tool_uses: int,
    error_type: str | None,
    message: str | None,
    attrs: tuple[str, ...],
    target: str | None,
    directory: Path | None,
) -> None:
    """End span SPAN_ID (opened by 'spanline emit span_start' or by any other producer)."""
    _check_span_id(span_id, "SPAN_ID")
    run = _emit_run(target, directory)
    started, ended = _find_span(run, span_id)
    if ended:
        raise CliError(f"span {span_id} has already ended in {run.telemetry_path}", BAD_INPUT)
    now = time.time()
    if duration_ms is None:
        if started is None:
            raise CliError(
                f"no span_start for {span_id} in {run.telemetry_path}: give --duration-ms",
                BAD_INPUT,
            )
        duration_ms = max(0.0, (now - started) * 1000.0)
    error = None
    if status == "error" or error_type is not None or message is not None:
        error = {"type": error_type or "error", "message": message or ""}
    counters = {"tokens": tokens, "tool_uses": tool_uses}
    line = span_end_line(span_id, status, duration_ms, now, _parse_attrs(attrs), counters, error)
    _append(run, line)


@emit.command("phase")
@click.argument("name")
@click.option("--wall-ms", type=float, default=None, help="default: since the previous phase")
@click.option("--count", "counts", multiple=True, metavar="KEY=N", help="a count (repeatable)")
@_run_options
def phase(
    name: str,
    wall_ms: float | None,
    counts: tuple[str, ...],
    target: str | None,
    directory: Path | None,
) -> None:
    """A milestone NAME: wall time since the run's previous phase line (or its start)."""
    run = _emit_run(target, directory)
    extra = _parse_attrs(counts, option="--count")
    taken = sorted(extra.keys() & {"event", "name", "wall_ms", "ts"})
    if taken:
        raise CliError(f"--count may not set {', '.join(taken)}", BAD_INPUT)
    now = time.time()
    if wall_ms is None:
        previous = _previous_milestone(run)
        wall_ms = max(0.0, (now - previous) * 1000.0) if previous is not None else 0.0
    _append(run, phase_line(name, wall_ms, now, extra))


@emit.command("event")
@click.argument("name")
@click.option("--span", "span_id", default=None, help="the span it belongs to")
@_attrs_option
@_run_options
def event(
    name: str,
    span_id: str | None,
    attrs: tuple[str, ...],
    target: str | None,
    directory: Path | None,
) -> None:
    """An event NAME (e.g. a coordination event: vote, new_answer...)."""
    if span_id is not None:
        _check_span_id(span_id, "--span")
    run = _emit_run(target, directory)
    _append(run, event_line(name, span_id, time.time(), _parse_attrs(attrs)))


# -- helpers ---------------------------------------------------------------------------------


def _check_span_id(value: str, what: str) -> None:
    if not _SPAN_ID.fullmatch(value):
        raise CliError(f"bad {what} {value!r}: a span id is 16 lowercase hex digits", BAD_INPUT)


def _parse_attrs(items: tuple[str, ...], option: str = "--attr") -> dict[str, Any]:
    """``KEY=VALUE`` pairs; a VALUE that parses as JSON (``3``, ``true``, ``[1]``) is kept
    as that value, anything else as text."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise CliError(f"bad {option} {item!r}: expected KEY=VALUE", BAD_INPUT)
        try:
            out[key] = orjson.loads(raw)
        except orjson.JSONDecodeError:
            out[key] = raw
    if option == "--count":
        for key, value in out.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise CliError(f"bad --count {key}={value!r}: expected a number", BAD_INPUT)
    return out


def _trace_id(run: Run) -> str:
    header = read_run_start(run)
    trace_id = header.get("trace_id") if header else None
    if not isinstance(trace_id, str):
        raise CliError(f"run {run.run_id} has no run_start line with a trace id")
    return trace_id


def _parent_from_environment(trace_id: str) -> str | None:
    """The span named by ``$TRACEPARENT`` when it belongs to this run's trace."""
    parsed = traceparent_ids(os.environ.get("TRACEPARENT"))
    return parsed[1] if parsed is not None and parsed[0] == trace_id else None


def _lines(run: Run, *needles: bytes) -> Iterator[dict[str, Any]]:
    """Decoded lines of the run's log that contain one of ``needles`` (others are not
    parsed: a run may have millions of lines)."""
    for raw, _ in lines(run.telemetry_path, final=True):
        if any(needle in raw for needle in needles):
            try:
                decoded = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue  # a torn or malformed line: readers skip it too
            if isinstance(decoded, dict):
                yield decoded


def _find_span(run: Run, span_id: str) -> tuple[float | None, bool]:
    """The start time of ``span_id`` (None if no span_start) and whether it has ended."""
    started, ended = None, False
    for line in _lines(run, span_id.encode()):
        if line.get("span_id") != span_id:
            continue
        if line.get("event") == "span_start" and isinstance(line.get("ts"), (int, float)):
            started = float(line["ts"])
        elif line.get("event") == "span_end":
            ended = True
    return started, ended


def _previous_milestone(run: Run) -> float | None:
    """The time of the run's last phase line, else of its run_start."""
    last = None
    for line in _lines(run, b"phase", b"run_start"):
        tag, ts = line.get("event"), line.get("ts")
        if isinstance(ts, (int, float)) and (
            tag == "phase" or (tag == "run_start" and last is None)
        ):
            last = float(ts)
    return last


def _append(run: Run, event: dict[str, Any]) -> None:
    """Redact, check against the schema, encode and append one line, as the writer does."""
    from spanline._capture._scrub import redact_event
    from spanline._lines._encode import encode
    from spanline._lines._fileio import append_locked, open_append
    from spanline.cli._validate import schema_errors
    from spanline.schema import schema

    event = redact_event(event)
    published = schema()
    errors = schema_errors(event, published)
    if errors:
        shape = published.get("$defs", {}).get(event["event"])
        precise = schema_errors(event, shape, published) if shape else []
        reason = (precise or errors)[0]
        raise CliError(f"the {event['event']} line does not match the schema: {reason}", BAD_INPUT)
    fd = open_append(run.telemetry_path)
    try:
        append_locked(fd, encode(event))
    finally:
        os.close(fd)
