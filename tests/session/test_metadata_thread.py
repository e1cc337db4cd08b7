"""The run's metadata (git, execution_metadata.yaml) is read and written on a thread of its
own, never on the writer's, and run_start still names the commit."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import yaml

import spanline
from spanline._runs import _metadata
from tests._helpers import configure, read_lines


def test_git_runs_on_the_metadata_thread_and_run_start_still_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    real_git_info = _metadata.git_info

    def git_info() -> dict[str, str | None]:
        threads.append(threading.current_thread().name)
        return real_git_info()

    monkeypatch.setattr(_metadata, "git_info", git_info)
    monkeypatch.chdir(Path(__file__).parent)  # inside this repository
    run = configure(tmp_path, service_name="meta")
    with spanline.span("work"):
        pass
    spanline.shutdown()
    assert threads == ["spanline-metadata"]
    header = read_lines(run.telemetry_path)[0]
    metadata = yaml.safe_load((run.directory / "execution_metadata.yaml").read_text())
    assert header["event"] == "run_start"
    assert header["source_commit"] == metadata["git"]["commit"] is not None


def test_a_synchronous_run_writes_its_metadata_too(tmp_path: Path) -> None:
    run = configure(tmp_path, service_name="meta", synchronous=True)
    spanline.shutdown()
    assert (run.directory / "execution_metadata.yaml").is_file()
    assert read_lines(run.telemetry_path)[0]["event"] == "run_start"


class HeldText:
    """A configuration value whose text form waits until the test lets it go (a slow
    ``__repr__`` of the program's own configuration object)."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def __repr__(self) -> str:
        self.release.wait(60)
        return "held"

    __str__ = __repr__


def test_only_the_git_facts_hold_run_start_back_not_the_metadata_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writing execution_metadata.yaml runs the program's code (its configuration's text
    form); while that is slow, run_start (with the commit) and the spans behind it are
    written all the same, and the file follows once the value lets go."""
    held = HeldText()
    monkeypatch.chdir(Path(__file__).parent)  # inside this repository
    try:
        run = configure(tmp_path, service_name="meta", config={"model": held})
        with spanline.span("work"):
            pass
        assert spanline.flush(timeout=30)
        events = read_lines(run.telemetry_path)
        assert [event["event"] for event in events] == ["run_start", "span_start", "span_end"]
        assert events[0]["source_commit"] is not None
    finally:
        held.release.set()
    spanline.shutdown()
    metadata = yaml.safe_load((run.directory / "execution_metadata.yaml").read_text())
    assert metadata["git"]["commit"] == events[0]["source_commit"]
    assert "held" in str(metadata["config"]["model"])


def test_a_git_that_does_not_answer_holds_run_start_back_for_a_bounded_time_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A git that hangs (a stalled network filesystem) costs run_start its commit, not the
    run its lines: they are written, and the metadata file still gets the late answer."""
    answer = threading.Event()

    def git_info() -> dict[str, str | None]:
        answer.wait(120)
        return {"commit": "late", "branch": "main", "remote": None}

    monkeypatch.setattr(_metadata, "git_info", git_info)
    run = configure(tmp_path, service_name="meta")
    with spanline.span("work"):
        pass
    try:
        assert spanline.flush(timeout=60)  # written while git still has not answered
        lines = read_lines(run.telemetry_path)
    finally:
        answer.set()
    spanline.shutdown()
    assert lines[0]["event"] == "run_start" and lines[0]["source_commit"] is None
    assert [line["event"] for line in lines[1:]] == ["span_start", "span_end"]
    metadata = yaml.safe_load((run.directory / "execution_metadata.yaml").read_text())
    assert metadata["git"]["commit"] == "late"
