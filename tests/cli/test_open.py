"""``spanline open``: prints the run directory; opens it only where a desktop exists."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from tests._helpers import run_cli

pytestmark = pytest.mark.skipif(sys.platform == "darwin", reason="macOS always has a desktop")
RUN_ID = "svc-20260101T000000-aaaaaa"


@pytest.fixture
def base(tmp_path: Path) -> Path:
    run = tmp_path / "base" / "runs" / RUN_ID
    run.mkdir(parents=True)
    (run / "telemetry.jsonl").write_text("")
    return tmp_path / "base"


def fake_opener(tmp_path: Path) -> tuple[Path, Path]:
    """A directory holding an ``xdg-open`` that records its argument, and that record."""
    bin_dir, record = tmp_path / "bin", tmp_path / "opened.txt"
    bin_dir.mkdir()
    opener = bin_dir / "xdg-open"
    opener.write_text(
        f'#!/bin/sh\nprintf "%s" "$1" > "{record}.tmp" && mv "{record}.tmp" "{record}"\n'
    )
    opener.chmod(0o755)
    return bin_dir, record


def test_prints_the_directory_without_a_desktop(base: Path, tmp_path: Path) -> None:
    bin_dir, record = fake_opener(tmp_path)
    env = {
        "DISPLAY": "",
        "WAYLAND_DISPLAY": "",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
    }
    result = run_cli("open", "--dir", str(base), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{(base / 'runs' / RUN_ID).resolve()}\n"
    time.sleep(0.2)
    assert not record.exists()  # no desktop: nothing launched
    as_json = run_cli("open", RUN_ID, "--json", "--dir", str(base), env=env)
    assert json.loads(as_json.stdout) == {
        "run_id": RUN_ID,
        "directory": str((base / "runs" / RUN_ID).resolve()),
    }


def test_opens_it_with_xdg_open_on_a_desktop(base: Path, tmp_path: Path) -> None:
    bin_dir, record = fake_opener(tmp_path)
    env = {"DISPLAY": ":0", "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = run_cli("open", RUN_ID, "--dir", str(base), env=env)
    assert result.returncode == 0, result.stderr
    deadline = time.monotonic() + 10
    while not record.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert record.read_text() == str((base / "runs" / RUN_ID).resolve())


def test_a_desktop_without_xdg_open_is_not_an_error(base: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = run_cli(
        "open", "--dir", str(base), env={"WAYLAND_DISPLAY": "wayland-0", "PATH": str(empty)}
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_a_missing_run_is_one_line(base: Path) -> None:
    result = run_cli("open", "svc-20260101T000000-bbbbbb", "--dir", str(base))
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "no run" in result.stderr
    assert "Traceback" not in result.stderr
