"""``spanline prune``: delete whole runs, oldest first, never a live run or ``latest``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from spanline._runs._retention import (
    delete_runs,
    parse_age,
    plan_prune,
    plan_prune_sessions,
    sweep_kept,
)
from spanline.cli._app import DIR_HELP, CliError, base_dir, cli, console
from spanline.cli._format import fmt_bytes, parse_size, to_json

__all__ = ["prune_command"]


def _parsed(parse: Any, option: str, text: str | None) -> Any:
    if text is None:
        return None
    try:
        return parse(text)
    except (ValueError, click.BadParameter) as exc:
        message = exc.message if isinstance(exc, click.BadParameter) else str(exc)
        raise CliError(f"{option}: {message}") from None


@cli.command(name="prune")
@click.option("--keep", type=click.IntRange(min=0), help="keep the N newest runs")
@click.option(
    "--older-than", "older_than", metavar="AGE", help="delete runs older than AGE (7d, 12h)"
)
@click.option(
    "--max-size",
    "max_size",
    metavar="SIZE",
    help="delete the oldest until the runs fit in SIZE (5GB, 5GiB)",
)
@click.option(
    "--session",
    "sessions",
    metavar="ID",
    multiple=True,
    help="whole sessions: their runs go or stay together (repeatable)",
)
@click.option("--dry-run", is_flag=True, help="show what would be deleted, delete nothing")
@click.option("--dir", "directory", type=click.Path(path_type=Path), help=DIR_HELP)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def prune_command(
    keep: int | None,
    older_than: str | None,
    max_size: str | None,
    sessions: tuple[str, ...],
    dry_run: bool,
    directory: Path | None,
    as_json: bool,
) -> None:
    """Delete whole runs under --dir, oldest first, and print what that freed.

    A run is deleted when any rule given chooses it: beyond the newest --keep,
    created more than --older-than ago, or among the oldest that must go for the
    rest to fit in --max-size. A run that a process may still be writing, and the
    run `latest` names, are never deleted. The half-written blob files that
    killed processes left in the runs kept are removed too, and counted. Sizes
    are as `export --limit` takes them: 500MB, 5GB (powers of 1,000) or 5GiB
    (of 1,024).

    With --session ID (repeatable) the unit is the session: without a rule the
    sessions named are deleted whole; with rules, --keep N keeps the N newest of
    them, --older-than deletes those whose newest run is older, --max-size the
    oldest of them until the runs fit. A session with a live run or the latest
    run is kept whole.
    """
    if keep is None and older_than is None and max_size is None and not sessions:
        raise CliError(
            "say what to prune: --keep N, --older-than AGE, --max-size SIZE or --session ID"
        )
    base = base_dir(directory)
    rules: dict[str, Any] = {
        "keep": keep,
        "older_than": _parsed(parse_age, "--older-than", older_than),
        "max_bytes": _parsed(parse_size, "--max-size", max_size),
    }
    if sessions:
        plan = plan_prune_sessions(base, _session_runs(base, sessions), **rules)
    else:
        plan = plan_prune(base, **rules)
    failed = [] if dry_run else delete_runs(plan)
    failed_ids = {pruned.run.run_id for pruned, _ in failed}
    gone = [pruned for pruned in plan.delete if pruned.run.run_id not in failed_ids]
    swept = sweep_kept(base, plan, dry_run=dry_run)
    if as_json:
        record: dict[str, Any] = {
            "dry_run": dry_run,
            "deleted": [
                {"run_id": p.run.run_id, "bytes": p.size, "reason": p.reason} for p in gone
            ],
            "spared": [{"run_id": run_id, "why": why} for run_id, why in plan.spared.items()],
            "freed_bytes": sum(p.size for p in gone) + swept[1],
            "half_written_blobs": {"files": swept[0], "bytes": swept[1]},
            "failed": [{"run_id": p.run.run_id, "error": str(exc)} for p, exc in failed],
        }
        sys.stdout.write(to_json(record))
    else:
        _print(gone, plan.spared, swept, dry_run=dry_run)
    if failed:
        pruned, exc = failed[0]
        raise CliError(f"could not delete {len(failed)} run(s), first {pruned.run.run_id}: {exc}")


def _session_runs(base: Path, sessions: tuple[str, ...]) -> dict[str, list[Any]]:
    """Each session named, with its runs; a session with no run is bad input."""
    from spanline.cli._sessions import session_runs

    found = {name: session_runs(base, name) for name in dict.fromkeys(sessions)}
    missing = [name for name, runs in found.items() if not runs]
    if missing:
        raise CliError(f"no run of session {missing[0]!r} under {base / 'runs'}")
    return found


_KEPT = {
    "latest": "it is the latest run",
    "live": "it is live",
    "session": "its session has a live run or the latest run",
}


def _print(
    gone: list[Any], spared: dict[str, str], swept: tuple[int, int], *, dry_run: bool
) -> None:
    out = console()
    verb = "would delete" if dry_run else "deleted"
    for pruned in gone:
        out.print(f"{verb} {pruned.run.run_id}  {fmt_bytes(pruned.size)}  ({pruned.reason})")
    for run_id, why in spared.items():
        out.print(f"kept {run_id}: {_KEPT.get(why, why)}")
    files, swept_bytes = swept
    if files:
        verb = "would remove" if dry_run else "removed"
        out.print(
            f"{verb} {files} half-written blob file(s) of ended processes  {fmt_bytes(swept_bytes)}"
        )
    freed = fmt_bytes(sum(pruned.size for pruned in gone) + swept_bytes)
    blobs = f" and {files} half-written blob file(s)" if files else ""
    out.print(f"{'would free' if dry_run else 'freed'} {freed} in {len(gone)} run(s){blobs}")
