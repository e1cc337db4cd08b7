"""A Run is a value: equal and hashed by its id and directory, immutable, picklable."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from spanline import Run


def test_runs_with_the_same_id_and_directory_are_equal_and_hash_alike() -> None:
    a, b = Run("r1", Path("/x/runs/r1")), Run("r1", Path("/x/runs/r1"))
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != Run("r2", Path("/x/runs/r2")) and a != ("r1", Path("/x/runs/r1"))


def test_a_run_cannot_be_changed() -> None:
    run = Run("r1", Path("/x/runs/r1"))
    with pytest.raises(AttributeError):
        run.run_id = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del run.directory  # type: ignore[misc]
    assert run.run_id == "r1"


def test_a_run_pickles_and_reads_as_before() -> None:
    run = Run("r1", Path("/x/runs/r1"))
    assert pickle.loads(pickle.dumps(run)) == run
    assert repr(run) == "Run(run_id='r1', directory=PosixPath('/x/runs/r1'))"
    assert run.telemetry_path == Path("/x/runs/r1/telemetry.jsonl")
    assert run.base == Path("/x")


def test_a_run_matches_a_positional_class_pattern() -> None:
    """``case Run(run_id, directory)`` still works as it did for the dataclass."""
    match Run("r-1", Path("/tmp/r-1")):
        case Run(run_id, directory):
            assert (run_id, directory) == ("r-1", Path("/tmp/r-1"))
        case _:
            raise AssertionError("no match")
