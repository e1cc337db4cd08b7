"""The run store: one place that creates, validates, resolves and lists runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import spanline
from spanline._runs import _store as _runs
from spanline.exceptions import InvalidRunIdError, RunNotFoundError
from tests._helpers import run_cli

BAD_IDS = ["../x", "/etc", "a/b", "", "..", "a..b", "x y", "-lead", "a\\b", "ok\n"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_a_malformed_id_is_rejected_before_any_filesystem_access(bad: str) -> None:
    def no_filesystem(*args: object, **kwargs: object) -> None:
        raise AssertionError("the filesystem was touched")

    raised: list[type[BaseException]] = []
    calls = [lambda: _runs.validate_run_id(bad)]
    calls.append(lambda: _runs.create_run(Path("/nonexistent-base"), "svc", run_id=bad))
    if "/" not in bad:  # with a slash it is a path, for resolve_run
        calls.append(lambda: _runs.resolve_run(bad, "/nonexistent-base"))
    with pytest.MonkeyPatch.context() as patch:
        for name in ("is_dir", "is_file", "exists", "iterdir", "mkdir", "stat", "resolve"):
            patch.setattr(Path, name, no_filesystem)
        for call in calls:
            try:
                call()
            except BaseException as exc:  # recorded, checked once Path works again
                raised.append(type(exc))
    assert raised[:2] == [InvalidRunIdError, InvalidRunIdError]
    if "/" not in bad and bad:
        assert raised[2] is InvalidRunIdError


def _make_runs(base: Path, count: int) -> list[spanline.Run]:
    runs = []
    for number in range(count):
        run = spanline.configure_observability(
            enabled=True, run_dir=base, run_id=f"svc-2026010{number}T000000-00000{number}"
        )
        assert run is not None
        spanline.shutdown()
        runs.append(run)
    return runs


def test_resolve_by_id_latest_run_directory_file_and_base(tmp_path: Path) -> None:
    first, second = _make_runs(tmp_path, 2)
    assert _runs.resolve_run(first.run_id, tmp_path) == first
    assert _runs.resolve_run(None, tmp_path) == second
    assert _runs.resolve_run("latest", tmp_path) == second
    assert _runs.resolve_run(str(first.directory), "/elsewhere") == first
    assert _runs.resolve_run(str(first.telemetry_path), "/elsewhere") == first
    assert _runs.resolve_run(f"{tmp_path}/", "/elsewhere") == second  # a base holding runs/
    # A directory that itself holds telemetry.jsonl is a run, as --dir too.
    assert _runs.resolve_run(None, first.directory).run_id == first.run_id
    with pytest.raises(RunNotFoundError, match="no run 'svc-20260109T000000-000009'"):
        _runs.resolve_run("svc-20260109T000000-000009", tmp_path)
    with pytest.raises(RunNotFoundError):
        _runs.resolve_run(str(tmp_path / "missing") + "/", tmp_path)
    with pytest.raises(RunNotFoundError, match="no runs under"):
        _runs.resolve_run(None, tmp_path / "empty")


def test_list_runs_newest_first_and_latest_is_the_last_created(tmp_path: Path) -> None:
    runs = _make_runs(tmp_path, 3)
    (tmp_path / "runs" / "not a run").mkdir()  # ignored: not a run id
    listed = _runs.list_runs(tmp_path)
    assert [run.run_id for run in listed] == [run.run_id for run in reversed(runs)]
    assert _runs.read_latest(tmp_path) == runs[-1].run_id
    assert _runs.list_runs(tmp_path / "nothing-here") == []


def test_read_run_start_gives_the_run_header(tmp_path: Path) -> None:
    (run,) = _make_runs(tmp_path, 1)
    header = _runs.read_run_start(run)
    assert header is not None and header["run_id"] == run.run_id
    assert header["schema_version"] == 1


def test_session_and_cli_find_runs_through_the_store(tmp_path: Path) -> None:
    first, second = _make_runs(tmp_path, 2)
    for target, expected in (
        ([], second),
        (["latest"], second),
        ([first.run_id], first),
        ([str(first.directory)], first),
    ):
        result = run_cli("--dir", str(tmp_path), "summary", *target, "--json")
        assert result.returncode == 0, result.stderr
        assert f'"run_id": "{expected.run_id}"' in result.stdout
    for bad in ("a..b", "bad id", ".hidden"):  # with a "/" it would be a path
        result = run_cli("--dir", str(tmp_path), "summary", bad)
        assert result.returncode == 2
        assert result.stderr.startswith("spanline: error: invalid run id")
        assert len(result.stderr.strip().splitlines()) == 1  # no traceback
    missing = run_cli("--dir", str(tmp_path), "summary", "svc-20260109T000000-000009")
    assert missing.returncode == 2 and "no run" in missing.stderr


def test_a_handed_over_run_id_is_joined_not_created(tmp_path: Path) -> None:
    (run,) = _make_runs(tmp_path, 1)
    os.environ["SPANLINE_RUN_ID"] = run.run_id
    try:
        joined = spanline.configure_observability(enabled=True, run_dir=tmp_path)
        assert joined == run
    finally:
        spanline.shutdown()
        del os.environ["SPANLINE_RUN_ID"]
    assert len(_runs.list_runs(tmp_path)) == 1


def test_cli_version_and_options_in_any_position(tmp_path: Path) -> None:
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("spanline ")
    first, _ = _make_runs(tmp_path, 2)  # the first is not the latest
    for args in (
        ("--dir", str(tmp_path), "summary", first.run_id, "--json"),
        ("summary", first.run_id, "--dir", str(tmp_path), "--json"),
        ("summary", "--json", "--dir", str(tmp_path), first.run_id),
    ):
        result = run_cli(*args)
        assert result.returncode == 0, result.stderr
        assert f'"run_id": "{first.run_id}"' in result.stdout


def test_runs_created_within_one_second_keep_their_order_when_a_directory_changes_later(
    tmp_path: Path,
) -> None:
    """Runs whose ids name the same second (a server rotating fast) are listed by the time
    their run_start records, not by their directories' last change: writing the older
    run's summary afterwards moves its directory's time, and must not make it newer."""
    import json
    import time

    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    # The random part of the newer id sorts first: neither the id nor the directory's
    # time gives the order of creation.
    made = []
    for tail in ("ffffff", "000000"):
        run = spanline.configure_observability(
            enabled=True, run_dir=tmp_path, run_id=f"svc-{stamp}-{tail}"
        )
        assert run is not None
        with spanline.span("work"):
            pass
        spanline.shutdown()
        made.append(run)
    older, newer = made
    later = time.time() + 30
    os.utime(older.directory, (later, later))  # as a summary written afterwards does

    listed = [run.run_id for run in _runs.list_runs(tmp_path)]
    assert listed == [newer.run_id, older.run_id]
    result = run_cli("--dir", str(tmp_path), "list", "--json")
    assert result.returncode == 0, result.stderr
    assert [row["run_id"] for row in json.loads(result.stdout)] == listed
    pruned = run_cli("--dir", str(tmp_path), "prune", "--keep", "1", "--json")
    assert pruned.returncode == 0, pruned.stderr
    assert [entry["run_id"] for entry in json.loads(pruned.stdout)["deleted"]] == [older.run_id]
