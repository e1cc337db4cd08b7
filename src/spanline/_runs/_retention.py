"""Retention: which whole runs to delete, oldest first, and deleting them.

A plan is made first (:func:`plan_prune`) and carried out after
(:func:`delete_runs`), so ``--dry-run`` shows exactly what a real prune frees.
A run that some process may still be writing, and the run ``latest`` names,
are never chosen; liveness is checked again just before a run is deleted.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from spanline._runs._liveness import process_alive, run_is_live
from spanline._runs._store import Run, list_runs, read_latest, run_created

__all__ = [
    "PrunePlan",
    "PrunedRun",
    "delete_runs",
    "parse_age",
    "parse_bytes",
    "plan_prune",
    "plan_prune_sessions",
    "run_bytes",
    "sweep_kept",
]

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_AGE_UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}


def parse_age(text: str) -> float:
    """Seconds in an age such as ``90s``, ``15m``, ``12h``, ``7d`` or ``2w``.

    Raises:
        ValueError: anything else, with what is accepted.
    """
    match = _AGE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not an age: use a number and s, m, h, d or w (as in 7d)")
    return float(match.group(1)) * _AGE_UNITS[match.group(2).lower()]


_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?i?b?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 10**6, "mb": 10**6}
_UNITS |= {"mib": 2**20, "g": 10**9, "gb": 10**9, "gib": 2**30}


def parse_bytes(text: str) -> int:
    """``500KB``, ``2MiB`` or ``1048576`` as a number of bytes (KB = 1000 bytes).

    Raises:
        ValueError: not a size, with examples of one.
    """
    match = _SIZE.match(text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(f"{text!r} is not a size (e.g. 500KB, 2MiB, 1048576)")
    return int(match.group(1)) * _UNITS[unit]


def run_bytes(run: Run) -> int:
    """Bytes the run's files take (its directory, walked; links not followed)."""
    total = 0
    for folder, _, files in os.walk(run.directory):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue  # gone while walking
    return total


@dataclass(frozen=True)
class PrunedRun:
    """A run chosen for deletion: its id, size, and the rule that chose it."""

    run: Run
    size: int
    reason: str


@dataclass
class PrunePlan:
    """What a prune deletes, and the runs it had to spare.

    Attributes:
        delete: the runs to delete, oldest first.
        spared: run id -> why it is kept although a rule chose it (live, latest).
        total_bytes: bytes every run took before the prune.
    """

    delete: list[PrunedRun] = field(default_factory=list)
    spared: dict[str, str] = field(default_factory=dict)
    total_bytes: int = 0

    @property
    def freed(self) -> int:
        """Bytes the deletions free."""
        return sum(pruned.size for pruned in self.delete)


def plan_prune(
    base: Path,
    *,
    keep: int | None = None,
    older_than: float | None = None,
    max_bytes: int | None = None,
    now: float | None = None,
) -> PrunePlan:
    """Choose the runs to delete under ``base``: any run a rule chooses, oldest first.

    Args:
        base: the base directory holding ``runs/``.
        keep: keep this many of the newest runs; older ones are chosen.
        older_than: choose runs created more than this many seconds ago.
        max_bytes: choose the oldest runs until the rest fit in this many bytes.
        now: the current time (epoch seconds; default: the clock).

    Returns:
        The plan; the live run and ``latest`` are never in ``delete``.
    """
    now = time.time() if now is None else now
    newest_first = list_runs(base)
    sizes = {run.run_id: run_bytes(run) for run in newest_first}
    plan = PrunePlan(total_bytes=sum(sizes.values()))
    chosen: dict[str, str] = {}
    for index, run in enumerate(newest_first):
        if keep is not None and index >= keep:
            chosen.setdefault(run.run_id, f"beyond the newest {keep}")
        if older_than is not None and now - run_created(run) > older_than:
            chosen.setdefault(run.run_id, "older than the limit")
    latest = read_latest(base)

    def spared(run: Run) -> str | None:
        if run.run_id == latest:
            return "latest"
        return "live" if run_is_live(run) else None

    def take(run: Run, reason: str) -> bool:
        why = spared(run)
        if why is not None:
            plan.spared[run.run_id] = why
            return False
        plan.delete.append(PrunedRun(run, sizes[run.run_id], reason))
        return True

    remaining = plan.total_bytes
    oldest_first = newest_first[::-1]
    for run in oldest_first:
        if run.run_id in chosen and take(run, chosen[run.run_id]):
            remaining -= sizes[run.run_id]
    for run in oldest_first:  # the size rule counts what the other rules already free
        if max_bytes is None or remaining <= max_bytes:
            break
        if run.run_id not in chosen and take(run, "over the size limit"):
            remaining -= sizes[run.run_id]
    order = {run.run_id: index for index, run in enumerate(oldest_first)}
    plan.delete.sort(key=lambda pruned: order[pruned.run.run_id])
    return plan


def plan_prune_sessions(
    base: Path,
    sessions: dict[str, list[Run]],
    *,
    keep: int | None = None,
    older_than: float | None = None,
    max_bytes: int | None = None,
    now: float | None = None,
) -> PrunePlan:
    """Choose whole sessions to delete: a session's runs go together or stay together.

    Without a rule every session given is chosen; with rules, a session is chosen
    when any rule chooses it: beyond the newest ``keep`` sessions, its newest run
    created more than ``older_than`` seconds ago, or among the oldest sessions that
    must go for the runs under ``base`` to fit in ``max_bytes``. A chosen session with
    a live run or the ``latest`` run is kept whole (its other runs are spared as
    ``session``).

    Args:
        base: the base directory holding ``runs/``.
        sessions: session id -> its runs.
        keep: keep this many of the newest sessions.
        older_than: choose sessions whose newest run is older than this (seconds).
        max_bytes: choose the oldest sessions until the runs under ``base`` fit.
        now: the current time (epoch seconds; default: the clock).

    Returns:
        The plan, runs in ``delete`` oldest first.
    """
    now = time.time() if now is None else now
    listed = list_runs(base)
    sizes = {run.run_id: run_bytes(run) for run in listed}
    # Places in the store's order, newest first: runs of one second keep their order.
    place = {run.run_id: index for index, run in enumerate(listed)}
    plan = PrunePlan(total_bytes=sum(sizes.values()))
    newest = {
        name: max((run_created(run) for run in runs), default=0.0)
        for name, runs in sessions.items()
    }
    first = {
        name: min((place.get(run.run_id, len(place)) for run in runs), default=len(place))
        for name, runs in sessions.items()
    }
    newest_first = sorted(sessions, key=lambda name: (first[name], name))
    chosen: dict[str, str] = {}
    no_rule = keep is None and older_than is None and max_bytes is None
    for index, name in enumerate(newest_first):
        if no_rule:
            chosen[name] = "its session was named"
        if keep is not None and index >= keep:
            chosen.setdefault(name, f"beyond the newest {keep} sessions")
        if older_than is not None and now - newest[name] > older_than:
            chosen.setdefault(name, "its session is older than the limit")
    remaining = plan.total_bytes - sum(
        sizes.get(run.run_id, 0) for name in chosen for run in sessions[name]
    )
    for name in newest_first[::-1]:
        if max_bytes is None or remaining <= max_bytes:
            break
        if name not in chosen:
            chosen[name] = "over the size limit"
            remaining -= sum(sizes.get(run.run_id, 0) for run in sessions[name])
    latest = read_latest(base)
    for name in newest_first[::-1]:
        if name in chosen:
            _take_session(plan, sessions[name], chosen[name], sizes, latest)
    plan.delete.sort(key=lambda pruned: -place.get(pruned.run.run_id, -1))
    return plan


def _take_session(
    plan: PrunePlan, runs: list[Run], reason: str, sizes: dict[str, int], latest: str | None
) -> None:
    """All of the session's runs into the plan, or none when one of them must stay."""
    why = {run.run_id: "latest" if run.run_id == latest else "live" for run in runs
           if run.run_id == latest or run_is_live(run)}  # fmt: skip
    if why:
        for run in runs:
            plan.spared[run.run_id] = why.get(run.run_id, "session")
        return
    taken = {pruned.run.run_id for pruned in plan.delete}
    for run in runs:
        if run.run_id not in taken:  # a run serving two sessions is counted once
            plan.delete.append(PrunedRun(run, sizes.get(run.run_id, 0), reason))


def delete_runs(plan: PrunePlan) -> list[tuple[PrunedRun, OSError]]:
    """Delete the plan's runs; a run that came alive since the plan is spared.

    Returns:
        The runs that could not be deleted, with the error (the rest are gone).
    """
    failed: list[tuple[PrunedRun, OSError]] = []
    for pruned in list(plan.delete):
        if run_is_live(pruned.run):
            plan.delete.remove(pruned)
            plan.spared[pruned.run.run_id] = "live"
            continue
        try:
            shutil.rmtree(pruned.run.directory)
        except OSError as exc:
            failed.append((pruned, exc))
    return failed


def sweep_kept(base: Path, plan: PrunePlan, *, dry_run: bool = False) -> tuple[int, int]:
    """Remove the half-written blob files that killed processes left in the runs the plan
    keeps (those of the runs it deletes go with them).

    A file is removed only when the process named in it no longer runs on this host,
    as ``show``, ``check`` and the next blob write of the run do.

    Args:
        base: the base directory holding ``runs/``.
        plan: the prune's plan (after :func:`delete_runs`, when it deleted).
        dry_run: remove nothing, only count what would go.

    Returns:
        How many files were removed (or would be), and their bytes.
    """
    from spanline._lines._blobs import sweep_temporaries

    deleted = {pruned.run.run_id for pruned in plan.delete}
    files = freed = 0
    for run in list_runs(base):
        if run.run_id not in deleted:
            count, size = sweep_temporaries(run.directory, process_alive, dry_run=dry_run)
            files, freed = files + count, freed + size
    return files, freed
