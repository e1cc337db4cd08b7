"""``spanline replay``: send stored runs through the real exporters, resuming where it stopped."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import orjson

from spanline._runs._store import Run, list_runs
from spanline.cli._app import DIR_HELP, FINDING, CliError, base_dir, cli, find_run

__all__ = ["replay_command"]

#: The run file that remembers, per destination, the log offset delivered up to.
STATE_FILE = "replay_state.json"
_DESTINATIONS = ("otlp", "logfire")


class _Positive(click.FloatRange):
    """A number above 0, never NaN (Click's range lets NaN through: no comparison refuses
    it), and with ``finite`` never infinity."""

    name = "positive number"

    def __init__(self, *, finite: bool = False) -> None:
        super().__init__(min=0, min_open=True)
        self.finite = finite

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        number = super().convert(value, param, ctx)
        if math.isnan(number) or (self.finite and math.isinf(number)):
            self.fail(f"{value!r} is not a {'finite ' if self.finite else ''}number above 0")
        return number


def _endpoint(destination: str, url: str | None, protocol: str | None) -> str | None:
    """The exporter's endpoint for ``url`` (a receiver's base URL, as
    OTEL_EXPORTER_OTLP_ENDPOINT takes it), or None to let the environment decide."""
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CliError(f"--endpoint {url!r} is not an http:// or https:// URL")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise CliError(f"--endpoint {url!r} has a bad port") from None
    if destination == "otlp" and protocol != "grpc" and parts.path in ("", "/"):
        return url.rstrip("/") + "/v1/traces"
    return url


def _exporter(destination: str, endpoint: str | None, protocol: str | None, timeout: float) -> Any:
    from spanline.exceptions import ConfigurationError
    from spanline.exporters._registry import build_exporter

    settings: dict[str, Any] = {"timeout": timeout}
    if endpoint is not None:  # Logfire's exporter names its URL base_url
        settings["base_url" if destination == "logfire" else "endpoint"] = endpoint
    if protocol is not None and destination == "otlp":
        settings["protocol"] = protocol
    try:
        exporter = build_exporter(destination, **settings)
    except (ConfigurationError, TypeError, ValueError) as exc:
        raise CliError(f"cannot send to {destination}: {exc}") from None
    if exporter is None:  # its extra is missing: the registry said which to install
        raise CliError(f"cannot send to {destination}: its extra is not installed")
    return exporter


@cli.command(name="replay")
@click.argument("run", required=False)
@click.option("--to", "destination", type=click.Choice(_DESTINATIONS), default="otlp",
              show_default=True, help="the exporter to send through")  # fmt: skip
@click.option("--endpoint", metavar="URL", help="the receiver (default: the OTEL_* variables)")
@click.option("--protocol", type=click.Choice(["http/protobuf", "grpc"]), help="OTLP protocol")
@click.option("--all-runs", is_flag=True, help="every run under --dir, oldest first")
@click.option(
    "--session", "session_id", metavar="ID", help="every run of this session, oldest first"
)
@click.option("--rate", type=_Positive(finite=True), help="at most N spans a second")
@click.option("--force", is_flag=True, help="send everything again, not only what is new")
@click.option("--timeout", type=_Positive(finite=True), default=10.0,
              show_default=True, help="seconds for each request")  # fmt: skip
@click.option("--dir", "directory", type=click.Path(path_type=Path), help=DIR_HELP)
def replay_command(
    run: str | None,
    destination: str,
    endpoint: str | None,
    protocol: str | None,
    all_runs: bool,
    session_id: str | None,
    rate: float | None,
    force: bool,
    timeout: float,
    directory: Path | None,
) -> None:
    """Send a stored run (default: the latest; --all-runs, or --session ID for every run
    of a session) to an OTLP receiver or Logfire.

    Trace ids, span ids and times are kept; each span is redacted again with the
    current rules. The run remembers what each destination received, so a second
    replay sends only what is new (--force sends everything). Status 1 when some
    spans were not delivered (run it again to resume), 2 when the endpoint is
    unreachable or bad.
    """
    if (run is not None) + all_runs + (session_id is not None) > 1:
        raise CliError("give one of a run, --all-runs or --session")
    from spanline.cli._redacted import use_environment_rules

    use_environment_rules()  # spans are redacted again with the rules of now
    url = _endpoint(destination, endpoint, protocol)
    runs = _runs(run, all_runs, session_id, directory)
    exporter = _exporter(destination, url, protocol, timeout)
    from spanline.exporters._replay import state_key

    key = state_key(destination, endpoint)
    undelivered = invalid = 0
    try:
        for each in runs:
            failed, bad = _replay_run(each, exporter, key, rate=rate, force=force)
            undelivered, invalid = undelivered + failed, invalid + bad
    finally:
        _close(exporter, timeout)
    findings = []
    if undelivered:
        findings.append(f"{undelivered} span(s) not delivered; run replay again to resume")
    if invalid:  # never deliverable: said again by every later replay, which fails again
        findings.append(f"{invalid} span(s) cannot be sent: their trace or span id is not valid")
    if findings:
        raise CliError("; ".join(findings), FINDING)


def _runs(
    run: str | None, all_runs: bool, session_id: str | None, directory: Path | None
) -> list[Run]:
    """The runs to replay, oldest first."""
    if all_runs:
        return list_runs(base_dir(directory))[::-1]
    if session_id is None:
        return [find_run(run, directory)]
    from spanline.cli._sessions import session_runs

    runs = session_runs(base_dir(directory), session_id)[::-1]
    if not runs:
        raise CliError(f"no run of session {session_id!r} under {base_dir(directory) / 'runs'}")
    return runs


def _replay_run(
    run: Run, exporter: Any, key: str, *, rate: float | None, force: bool
) -> tuple[int, int]:
    """Replay one run from where the last replay to ``key`` stopped.

    Returns:
        The spans not delivered, and those that never can be (invalid ids; they are
        counted in the run's replay state, so that every later replay says so again).
    """
    from spanline._lines._fileio import write_atomic
    from spanline.exporters._replay import count_spans, read_state, replay

    state_path = run.directory / STATE_FILE
    state = read_state(state_path.read_bytes()) if state_path.is_file() else {}
    since = 0 if force else int(state.get(key, {}).get("offset", 0))
    invalid_before = 0 if force else int(state.get(key, {}).get("invalid_ids", 0))
    total = count_spans(run.telemetry_path, since)

    def remember(spans: int, offset: int) -> None:
        entry = {"offset": offset, "at": time.time(), "invalid_ids": invalid_before}
        state[key] = entry
        write_atomic(state_path, orjson.dumps(state, option=orjson.OPT_INDENT_2))
        progress(spans)

    with _progress(run.run_id, total) as progress:
        outcome = replay(run.telemetry_path, exporter, since=since, rate=rate, delivered=remember)
    if outcome.invalid_ids and key in state:  # the offset moved past them: keep their count
        state[key] = {**state[key], "invalid_ids": invalid_before + outcome.invalid_ids}
        write_atomic(state_path, orjson.dumps(state, option=orjson.OPT_INDENT_2))
    if outcome.sent == 0 and outcome.failed:
        raise CliError(f"cannot deliver to the endpoint: {outcome.error}")
    done = f"{run.run_id}: sent {outcome.sent} span(s)"
    if since and not force:
        done += " (new since the last replay)"
    if outcome.failed:
        done += f", {outcome.failed} not delivered ({outcome.error})"
    if outcome.invalid_ids:
        done += (
            f", {outcome.invalid_ids} not delivered (their trace or span id is not valid: "
            "all zeros or not hex, which receivers drop)"
        )
    elif invalid_before:
        done += f" ({invalid_before} earlier span(s) cannot be sent: their ids are not valid)"
    if outcome.skipped_lines:
        done += f", {outcome.skipped_lines} line(s) were not JSON and were skipped"
    click.echo(done)
    return outcome.failed, invalid_before + outcome.invalid_ids


class _progress:
    """A Rich progress bar on a terminal; nothing otherwise (a line follows each run)."""

    def __init__(self, run_id: str, total: int) -> None:
        self._bar: Any = None
        self._task: Any = None
        if sys.stderr.isatty() and total:
            from rich.progress import Progress

            self._bar = Progress(transient=True)
            self._task = self._bar.add_task(f"replay {run_id[:40]}", total=total)

    def __enter__(self) -> Any:
        if self._bar is not None:
            self._bar.start()
        return self._advance

    def _advance(self, spans: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, spans)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def _close(exporter: Any, timeout: float) -> None:
    for method in ("flush", "shutdown"):
        call = getattr(exporter, method, None)
        if call is None:
            continue
        try:
            call(timeout)
        except TypeError:
            call()
        except Exception:  # the spans were delivered or counted already
            pass
