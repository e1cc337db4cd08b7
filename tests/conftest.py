"""Shared fixtures: every test starts with tracing off and a clean SPANLINE_* environment."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

import spanline
from spanline import _runtime as spanline_runtime
from spanline._tracer import RUNTIME
from spanline.exporters import InMemoryExporter

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _clean_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tracing off and SPANLINE_* unset before each test; afterwards, every run the
    test created in this process must hold only schema-valid lines."""
    for name in list(os.environ):
        if name.startswith("SPANLINE_") or name == "TRACEPARENT":
            monkeypatch.delenv(name)
    spanline.shutdown()
    RUNTIME.resolved = False
    created: list[spanline.Run] = []
    real_create = spanline_runtime.create_run

    def recording_create(*args: Any, **kwargs: Any) -> spanline.Run:
        run = real_create(*args, **kwargs)
        created.append(run)
        return run

    monkeypatch.setattr(spanline_runtime, "create_run", recording_create)
    yield
    spanline.shutdown()
    RUNTIME.resolved = False
    for run in created:
        if run.telemetry_path.exists():  # capture_spans() removes its temporary runs
            validate_file(run.telemetry_path)


@pytest.fixture
def memory() -> InMemoryExporter:
    return InMemoryExporter()


@pytest.fixture
def traced(tmp_path: Path, memory: InMemoryExporter) -> Iterator[spanline.Run]:
    """Tracing on into tmp_path, with an in-memory exporter; shut down afterwards."""
    run = spanline.configure_observability(
        enabled=True, run_dir=tmp_path, exporters=[memory], service_name="test"
    )
    assert run is not None
    yield run
    spanline.shutdown()


def validate_file(path: Path) -> None:
    """Every line of a telemetry file must validate against the published schema."""
    # jsonschema-rs: the concurrency tests write 400,000 lines; the pure-Python
    # validator needs minutes for them, this one about a second.
    import jsonschema_rs

    from spanline.schema import schema

    validator = jsonschema_rs.validator_for(schema())
    for number, line in enumerate(read_lines(path), start=1):
        if not validator.is_valid(line):
            error = next(iter(validator.iter_errors(line)))
            raise AssertionError(f"{path}:{number}: {error.message}")


def read_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of a JSONL file, parsed (fails on any bad line)."""
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("spanline-")]


def heavy_imports(setup: str, modules: set[str]) -> list[str]:
    """Which of ``modules`` a fresh interpreter has imported after running ``setup``."""
    code = f"{setup}\nimport sys\nprint(sorted({sorted(modules)!r} & sys.modules.keys()))\n"
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    return __import__("ast").literal_eval(result.stdout.strip())


def run_python(code: str, *, env: dict[str, str] | None = None, cwd: Path | None = None):
    """Run code in a fresh interpreter with a clean SPANLINE_* environment."""
    import subprocess

    base = {k: v for k, v in os.environ.items() if not k.startswith("SPANLINE_")}
    base.pop("TRACEPARENT", None)
    base.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", code],
        env=base,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
