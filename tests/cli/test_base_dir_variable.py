"""Every command's base directory defaults to ``SPANLINE_DIR``, as the library's does,
else ``.spanline``; an explicit ``--dir`` wins. Run through the console script."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli._entry import spanline
from tests.cli._runs import make_golden_run

RUN_ID = "golden-20231114T221320-a1b2c3"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("variable-base")
    make_golden_run(base, RUN_ID)
    return base


def test_list_and_summary_find_the_runs_under_the_variables_base(
    base: Path, tmp_path: Path
) -> None:
    env = {"SPANLINE_DIR": str(base)}
    listed = spanline("list", "--json", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert RUN_ID in listed.stdout
    summary = spanline("summary", RUN_ID, "--json", env=env, cwd=tmp_path)
    assert summary.returncode == 0, summary.stderr
    assert RUN_ID in summary.stdout
    latest = spanline("summary", "--json", env=env, cwd=tmp_path)
    assert latest.returncode == 0, latest.stderr
    assert RUN_ID in latest.stdout


def test_an_explicit_dir_wins_over_the_variable(base: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    env = {"SPANLINE_DIR": str(base)}
    for args in (["--dir", str(empty), "list"], ["list", "--dir", str(empty)]):
        listed = spanline(*args, env=env, cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        assert RUN_ID not in listed.stdout
        assert f"no runs under {empty / 'runs'}" in listed.stdout
    summary = spanline("summary", RUN_ID, "--dir", str(empty), env=env, cwd=tmp_path)
    assert summary.returncode == 2, summary.stderr
    assert f"no run {RUN_ID!r} under {empty / 'runs'}" in summary.stderr


def test_without_the_variable_the_base_is_dot_spanline(base: Path, tmp_path: Path) -> None:
    listed = spanline("list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "no runs under .spanline/runs" in listed.stdout


def test_serve_resolves_its_run_under_the_variables_base(base: Path, tmp_path: Path) -> None:
    """The run is found under ``SPANLINE_DIR``; serving stops at the next check (an
    address other than loopback without --allow-remote), so no server starts."""
    env = {"SPANLINE_DIR": str(base)}
    served = spanline("serve", RUN_ID, "--host", "192.0.2.1", env=env, cwd=tmp_path)
    assert served.returncode == 2, served.stderr
    assert "refusing to bind 192.0.2.1" in served.stderr
    elsewhere = spanline(
        "serve", RUN_ID, "--host", "192.0.2.1", "--dir", str(tmp_path), env=env, cwd=tmp_path
    )
    assert elsewhere.returncode == 2, elsewhere.stderr
    assert f"no run {RUN_ID!r} under {tmp_path / 'runs'}" in elsewhere.stderr  # --dir won
