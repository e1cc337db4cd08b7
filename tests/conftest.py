"""Shared fixtures: every test starts with tracing off and a clean SPANLINE_* environment.

Shared helpers (reading telemetry, fresh interpreters) live in tests/_helpers.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import spanline
from spanline import _runs as spanline_runs
from spanline._tracer import RUNTIME
from spanline.exporters import InMemoryExporter
from tests._helpers import validate_file


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
    real_create = spanline_runs.create_run

    def recording_create(*args: Any, **kwargs: Any) -> spanline.Run:
        run = real_create(*args, **kwargs)
        created.append(run)
        return run

    monkeypatch.setattr(spanline_runs, "create_run", recording_create)
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
