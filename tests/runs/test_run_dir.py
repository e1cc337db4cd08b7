"""Run directory layout, run ids, latest, execution metadata, crash durability."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

import spanline
from spanline._runs._metadata import to_yaml
from spanline._runs._store import RUN_ID_PATTERN, _point_latest, read_latest
from tests._helpers import read_lines, run_python


def test_run_id_layout_and_latest(tmp_path: Path) -> None:
    first = spanline.configure_observability(enabled=True, run_dir=tmp_path, service_name="svc")
    spanline.shutdown()
    second = spanline.configure_observability(enabled=True, run_dir=tmp_path, service_name="svc")
    spanline.shutdown()
    assert first is not None and second is not None
    for run in (first, second):
        assert re.fullmatch(r"svc-\d{8}T\d{6}-[0-9a-f]{6}", run.run_id)
        assert RUN_ID_PATTERN.match(run.run_id)
        assert run.directory == (tmp_path / "runs" / run.run_id).resolve()
        assert {p.name for p in run.directory.iterdir()} >= {
            "telemetry.jsonl",
            "run_summary.json",
            "execution_metadata.yaml",
            "spanline.log",
        }
    latest = tmp_path / "runs" / "latest"
    assert latest.is_symlink()
    assert latest.resolve() == second.directory
    assert read_latest(tmp_path) == second.run_id


def test_latest_falls_back_to_a_plain_file(tmp_path: Path, monkeypatch) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()

    def no_symlinks(*args, **kwargs):
        raise OSError("symlinks not supported here")

    monkeypatch.setattr(os, "symlink", no_symlinks)
    _point_latest(runs, "svc-20260101T000000-abcdef")
    assert not (runs / "latest").is_symlink()
    assert read_latest(tmp_path) == "svc-20260101T000000-abcdef"


def test_latest_leaves_no_temporary_file_when_its_write_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No symlinks and a full disk: the error reaches the caller, no stray file stays."""
    runs = tmp_path / "runs"
    runs.mkdir()

    def no_symlinks(*args: object, **kwargs: object) -> None:
        raise OSError("symlinks not supported here")

    def disk_full(self: Path, *args: object, **kwargs: object) -> int:
        self.touch()  # the file exists, empty, as a real ENOSPC leaves it
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "symlink", no_symlinks)
    monkeypatch.setattr(Path, "write_text", disk_full)
    with pytest.raises(OSError, match="No space"):
        _point_latest(runs, "svc-20260101T000000-abcdef")
    assert list(runs.iterdir()) == []


def test_execution_metadata_inside_a_git_repo(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q", "-b", "trunk"], cwd=repo, check=True)
    subprocess.run(
        [*git, "remote", "add", "origin", "https://user:s3cret@example.invalid/org/app.git"],
        cwd=repo,
        check=True,
    )
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], cwd=repo, check=True)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    code = (
        "import spanline\n"
        "spanline.configure_observability(enabled=True, query='What is up?',\n"
        "    config={'agents': [{'id': 'a1', 'model': 'm'}], 'yes': True},\n"
        "    cli_args={'debug': False})\n"
        "spanline.shutdown()\n"
    )
    result = run_python(code, cwd=repo)
    assert result.returncode == 0, result.stderr
    run_dir = (repo / ".spanline" / "runs" / "latest").resolve()
    meta = yaml.safe_load((run_dir / "execution_metadata.yaml").read_text())
    assert meta["query"] == "What is up?"
    assert meta["config"] == {"agents": [{"id": "a1", "model": "m"}], "yes": True}
    assert meta["cli_args"] == {"debug": False}
    assert meta["git"]["commit"] == commit and meta["git"]["branch"] == "trunk"
    assert meta["python_version"].count(".") == 2
    assert meta["spanline_version"] == spanline.__version__
    assert meta["working_directory"] == str(repo)
    assert "T" in meta["timestamp"]
    header = read_lines(run_dir / "telemetry.jsonl")[0]
    assert header["event"] == "run_start"
    assert header["source_commit"] == commit
    assert header["source_repo"] == "https://example.invalid/org/app.git"  # no credentials
    assert "s3cret" not in (run_dir / "telemetry.jsonl").read_text()
    assert "s3cret" not in (run_dir / "execution_metadata.yaml").read_text()


def test_yaml_emitter_round_trips_awkward_values() -> None:
    value = {
        "plain": "text: with colon",
        "quote": 'say "hi"\nnew line',
        "no": "no",
        "on": True,
        "nested": {"list": [1, 2.5, None, {"k": "v"}, [3, 4]], "empty": {}, "none": []},
        "unicode": "héllo ✓",
    }
    assert yaml.safe_load(to_yaml(value)) == value


def test_crash_loses_at_most_the_last_flush_interval(tmp_path: Path) -> None:
    """The writer writes on its own cadence: without a flush or a shutdown, every span
    is in the file a few intervals later (waited for by counting lines, not by a sleep
    a loaded machine could outlast), and a crash then loses none of them."""
    code = (
        "import os, time, spanline\n"
        "run = spanline.configure_observability(enabled=True, flush_ms=50)\n"
        "for i in range(500):\n"
        "    with spanline.span(f's{i}'):\n"
        "        pass\n"
        "deadline = time.monotonic() + 60  # a bound for a loaded machine\n"
        "while time.monotonic() < deadline:\n"
        "    if run.telemetry_path.read_bytes().count(b'\"span_end\"') == 500:\n"
        "        break\n"
        "    time.sleep(0.01)\n"
        "os._exit(3)  # a crash: no atexit, no shutdown\n"
    )
    result = run_python(code, cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    run_dir = (tmp_path / ".spanline" / "runs" / "latest").resolve()
    lines = read_lines(run_dir / "telemetry.jsonl")
    assert sum(1 for e in lines if e["event"] == "span_end") == 500
    assert not (run_dir / "run_summary.json").exists()
    summary = spanline.summarize_file(run_dir / "telemetry.jsonl")
    assert summary.span_count == 500


def test_metadata_redaction_fails_closed(monkeypatch) -> None:
    from spanline._capture import _scrub
    from spanline._session import _header

    monkeypatch.setattr(_scrub, "redact", lambda value: "[REDACTED]")  # redact() giving up
    cleaned = _header.redact_metadata({"run_id": "r", "query": "sk-ant-secret", "config": {}})
    assert cleaned == {"run_id": "r", "redaction_failed": True}
