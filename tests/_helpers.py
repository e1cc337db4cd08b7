"""Helpers shared by both suites (tests/ and tests/acceptance/): read what spanline
wrote, from the outside, and run fresh interpreters with a clean environment."""

from __future__ import annotations

import ast
import contextlib
import importlib.resources
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

import spanline

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "eigenda_profile.py"
#: What a bare user shell gives a child: only a PATH (no PYTHONPATH, no SPANLINE_*).
BARE_PATH = "/usr/bin:/bin"

_VALIDATOR = None


# --- Reading telemetry files ---------------------------------------------------------------


def validator() -> Any:
    """The published schema, compiled once (jsonschema-rs: the concurrency tests write
    800,000 lines; the pure-Python validator needs minutes for them, this one seconds)."""
    global _VALIDATOR
    if _VALIDATOR is None:
        import jsonschema_rs

        from spanline.schema import schema

        _VALIDATOR = jsonschema_rs.validator_for(schema())
    return _VALIDATOR


def iter_lines(path: Path) -> Iterator[dict[str, Any]]:
    """Every line of a JSONL file, parsed; fails loudly on a bad line or a torn end."""
    raw = path.read_bytes()
    assert raw == b"" or raw.endswith(b"\n"), f"{path} does not end with a newline"
    for number, line in enumerate(raw.splitlines(), start=1):
        try:
            yield orjson.loads(line)
        except orjson.JSONDecodeError as exc:  # pragma: no cover - reported as a failure
            raise AssertionError(f"{path}:{number} is not JSON: {exc}: {line[:200]!r}") from exc


def read_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of a JSONL file, parsed (see :func:`iter_lines`)."""
    return list(iter_lines(path))


def validate_event(event: dict[str, Any], where: str = "") -> None:
    """One event must validate against the published schema."""
    v = validator()
    if not v.is_valid(event):
        error = next(iter(v.iter_errors(event)))
        raise AssertionError(f"{where} does not match the schema: {error.message}: {event!r:.400}")


def validate_file(path: Path) -> list[dict[str, Any]]:
    """Every line of a telemetry file must validate; returns the events."""
    events = read_lines(path)
    for number, event in enumerate(events, start=1):
        validate_event(event, f"{path}:{number}")
    return events


def by_kind(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The events whose ``event`` field is ``kind``."""
    return [e for e in events if e["event"] == kind]


def spans(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """span_id -> merged span (start fields, end fields under 'end', merged attributes)."""
    out: dict[str, dict[str, Any]] = {}
    for event in events:
        if event["event"] == "span_start":
            assert event["span_id"] not in out, f"two span_start lines for {event['span_id']}"
            out[event["span_id"]] = {**event, "end": None, "attrs": dict(event["attributes"])}
    for event in events:
        if event["event"] == "span_end":
            span = out[event["span_id"]]
            assert span["end"] is None, f"two span_end lines for {event['span_id']}"
            span["end"] = event
            span["attrs"].update(event["attributes"])
            for field in ("kind", "name"):  # a span classified at its end: the end wins
                if field in event:
                    span[field] = event[field]
    return out


def named(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """The merged spans called ``name``."""
    return [s for s in spans(events).values() if s["name"] == name]


def one(events: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The only merged span called ``name``."""
    found = named(events, name)
    assert len(found) == 1, f"expected one span {name!r}, found {len(found)}"
    return found[0]


# --- Tracing in this process ---------------------------------------------------------------


def configure(tmp_path: Path, **options: Any) -> spanline.Run:
    """Tracing on into ``tmp_path`` (service "acc" unless given)."""
    options.setdefault("service_name", "acc")
    run = spanline.configure_observability(enabled=True, run_dir=tmp_path, **options)
    assert run is not None
    return run


def finish(run: spanline.Run) -> tuple[Any, list[dict[str, Any]]]:
    """Shut down, then return the summary and the validated events of the run."""
    summary = spanline.shutdown()
    return summary, validate_file(run.telemetry_path)


def writer_threads() -> list[threading.Thread]:
    """spanline's own threads (writer, exporters) alive in this process."""
    return [t for t in threading.enumerate() if t.name.startswith("spanline")]


def shipped_prices() -> dict[str, Any]:
    """The model prices shipped in the package."""
    text = importlib.resources.files("spanline").joinpath("prices.json").read_text("utf-8")
    return json.loads(text)["models"]


# --- Fresh interpreters --------------------------------------------------------------------


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without SPANLINE_* and TRACEPARENT, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPANLINE_")}
    env.pop("TRACEPARENT", None)
    env.update(extra or {})
    return env


@contextlib.contextmanager
def traced_program(code: str) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """Run ``code`` in a fresh interpreter (clean environment) whose first output line
    is its run directory; yield the process and that directory, and kill the process
    on the way out if it still runs."""
    with started_program(code) as (process, first_line):
        yield process, Path(first_line)


@contextlib.contextmanager
def started_program(
    code: str, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Run ``code`` in a fresh interpreter (``env`` added to :func:`clean_env`); yield the
    process once it has printed its first line, and that line. On the way out the
    process is killed if it still runs, and its pipes are closed whatever happened."""
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        env=clean_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield process, process.stdout.readline().strip()
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def default_sigint() -> None:
    """``preexec_fn`` of a child that must take Ctrl-C as a terminal gives it: SIGINT
    back to its default action before the program starts.

    A suite started with SIGINT ignored (a background job of a script, ``nohup … &``,
    some CI runners) passes that on to every child, and a Python started that way
    never turns SIGINT into KeyboardInterrupt: tests that deliver SIGINT need this.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_interpreter(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
    bare: bool = False,
    interruptible: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``python *args`` in a fresh interpreter, output captured as text.

    Args:
        env: added to :func:`clean_env`, or with ``bare`` to a lone ``PATH``.
        bare: start from what a bare user shell gives, not from this process's environment.
        interruptible: SIGINT at its default action in the child (:func:`default_sigint`).
    """
    return subprocess.run(
        [sys.executable, *args],
        env={"PATH": BARE_PATH, **(env or {})} if bare else clean_env(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=default_sigint if interruptible else None,
    )


def run_python(
    code: str,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
    interruptible: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with a clean SPANLINE_* environment."""
    return run_interpreter(
        "-c", code, env=env, cwd=cwd, timeout=timeout, interruptible=interruptible
    )


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m spanline *args`` with a clean SPANLINE_* environment."""
    return run_interpreter("-m", "spanline", *args, env=env, cwd=cwd)


def heavy_imports(setup: str, modules: set[str]) -> list[str]:
    """Which of ``modules`` a fresh interpreter has imported after running ``setup``."""
    code = f"{setup}\nimport sys\nprint(sorted({sorted(modules)!r} & sys.modules.keys()))\n"
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    return ast.literal_eval(result.stdout.strip())
