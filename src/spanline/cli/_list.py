"""``spanline list``: the runs under the base directory, newest first."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click
import orjson

from spanline._runs._store import Run, list_runs, read_run_start
from spanline.cli._app import base_dir, cli, console, read_options
from spanline.cli._format import fmt_bytes, fmt_cost, fmt_ms, fmt_time, run_title, to_json
from spanline.folds import summarize_file

__all__ = ["list_command", "run_row"]

#: A MassGen-style analysis of the run has been written (as `massgen logs list` marks it).
ANALYSIS_REPORT = "ANALYSIS_REPORT.md"
_QUESTION_WIDTH = 40


@cli.command(name="list")
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True)
@click.option(
    "--analyzed/--unanalyzed",
    "analyzed",
    default=None,
    help="only runs with (or without) an ANALYSIS_REPORT.md",
)
@read_options
def list_command(limit: int, analyzed: bool | None, directory: Path | None, as_json: bool) -> None:
    """The runs under --dir, newest first: time, duration, cost, agents, status, question."""
    rows = []
    for run in list_runs(base_dir(directory)):
        if analyzed is not None and (run.directory / ANALYSIS_REPORT).is_file() != analyzed:
            continue
        rows.append(run_row(run))
        if len(rows) == limit:
            break
    if as_json:
        sys.stdout.write(to_json(rows))
        return
    out = console()
    if not rows:
        out.print(f"no runs under {base_dir(directory) / 'runs'}")
        return
    out.print(_table(rows))


def run_row(run: Run) -> dict[str, Any]:
    """One run's row: read from its run_summary.json, folded only when it has none.

    Args:
        run: the run.

    Returns:
        ``{run_id, started, duration_ms, cost_usd, agents, status, question,
        disk_bytes, analyzed}`` (``started`` in ISO 8601, UTC).
    """
    summary = _read_summary(run)
    start = read_run_start(run)
    totals = summary.get("totals")
    if not isinstance(totals, dict):
        totals = {}
    started = (start or {}).get("ts")
    return {
        "run_id": run.run_id,
        "started": _iso(started),
        "duration_ms": summary.get("total_wall_ms"),
        "cost_usd": totals.get("cost_usd"),
        "agents": totals.get("agents_spawned"),
        "status": summary.get("status", "unknown"),
        "question": run_title(start, None) if start else None,
        "disk_bytes": _disk_use(run.directory),
        "analyzed": (run.directory / ANALYSIS_REPORT).is_file(),
    }


def _read_summary(run: Run) -> dict[str, Any]:
    try:
        data = orjson.loads(run.summary_path.read_bytes())
        if isinstance(data, dict):
            return data
    except (OSError, orjson.JSONDecodeError):
        pass
    if not run.telemetry_path.is_file():
        return {"status": "empty"}
    return summarize_file(run.telemetry_path, report_problems=False).to_dict()


def _disk_use(directory: Path) -> int:
    total = 0
    for root, _, files in os.walk(directory):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def _iso(ts: Any) -> str | None:
    from datetime import datetime, timezone

    if isinstance(ts, (int, float)) and not isinstance(ts, bool):
        return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")
    return None


def _table(rows: list[dict[str, Any]]) -> Any:
    from datetime import datetime

    from rich.table import Table
    from rich.text import Text

    table = Table(show_edge=False)
    table.add_column("Started (UTC)", no_wrap=True)
    for name in ("Duration", "Cost", "Agents"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    # The one column that gives way when the terminal is narrow (cut with an ellipsis).
    table.add_column("Question", min_width=12, max_width=_QUESTION_WIDTH)
    table.add_column("Disk", justify="right", no_wrap=True)
    table.add_column("Analyzed", justify="center", no_wrap=True)
    for row in rows:
        started = row["started"]
        when = fmt_time(datetime.fromisoformat(started).timestamp()) if started else "-"
        status = row["status"]
        table.add_row(
            when,
            fmt_ms(row["duration_ms"]),
            fmt_cost(row["cost_usd"]),
            "-" if row["agents"] is None else str(row["agents"]),
            status,
            Text(row["question"] or row["run_id"], no_wrap=True, overflow="ellipsis"),
            fmt_bytes(row["disk_bytes"]),
            "✓" if row["analyzed"] else "-",
            style="red" if status == "error" else None,
        )
    return table
