"""Helpers for the acceptance suite: read what spanline wrote, from the outside."""

from __future__ import annotations

import importlib.resources
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson

import spanline
from spanline.schema import schema

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "eigenda_profile.py"

_VALIDATOR = None


def validator() -> Any:
    global _VALIDATOR
    if _VALIDATOR is None:
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
    return list(iter_lines(path))


def validate_event(event: dict[str, Any], where: str = "") -> None:
    v = validator()
    if not v.is_valid(event):
        error = next(iter(v.iter_errors(event)))
        raise AssertionError(f"{where} does not match the schema: {error.message}: {event!r:.400}")


def validate_file(path: Path) -> list[dict[str, Any]]:
    events = read_lines(path)
    for number, event in enumerate(events, start=1):
        validate_event(event, f"{path}:{number}")
    return events


def by_kind(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
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
    return out


def named(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [s for s in spans(events).values() if s["name"] == name]


def one(events: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = named(events, name)
    assert len(found) == 1, f"expected one span {name!r}, found {len(found)}"
    return found[0]


def configure(tmp_path: Path, **options: Any) -> spanline.Run:
    options.setdefault("service_name", "acc")
    run = spanline.configure_observability(enabled=True, run_dir=tmp_path, **options)
    assert run is not None
    return run


def finish(run: spanline.Run) -> tuple[Any, list[dict[str, Any]]]:
    """Shut down, then return the summary and the validated events of the run."""
    summary = spanline.shutdown()
    return summary, validate_file(run.telemetry_path)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPANLINE_")}
    env.pop("TRACEPARENT", None)
    env.update(extra or {})
    return env


def run_python(
    code: str, *, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        env=clean_env(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spanline", *args],
        env=clean_env(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def shipped_prices() -> dict[str, Any]:
    text = importlib.resources.files("spanline").joinpath("prices.json").read_text("utf-8")
    return json.loads(text)["models"]


def writer_threads() -> list[str]:
    import threading

    return [t.name for t in threading.enumerate() if t.name.startswith("spanline")]
