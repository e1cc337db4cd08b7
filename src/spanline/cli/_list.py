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
from spanline.cli._sessions import session_option, session_runs
from spanline.folds import summarize_file
from spanline.folds.display import cut

__all__ = ["list_command", "run_row"]

_QUESTION_WIDTH = 40


@cli.command(name="list")
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True)
@click.option(
    "--analyzed/--unanalyzed",
    "analyzed",
    default=None,
    help="only runs with (or without) an ANALYSIS_REPORT.md",
)
@session_option
@read_options
def list_command(
    limit: int, analyzed: bool | None, session_id: str | None, directory: Path | None, as_json: bool
) -> None:
    """The runs under --dir, newest first: id, time, duration, cost, agents, status
    (with how many agents failed), question. --session ID: only that session's runs.

    The id is shown whole (it is what show, summary and compare take); on a narrow
    terminal the other columns give way.
    """
    rows = []
    runs = (
        list_runs(base_dir(directory))
        if session_id is None
        else session_runs(base_dir(directory), session_id)
    )
    for run in runs:
        if analyzed is not None and run.report_path.is_file() != analyzed:
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
    out.print(_table(rows, out.width))


def run_row(run: Run) -> dict[str, Any]:
    """One run's row: read from its run_summary.json, folded only when it has none.

    Args:
        run: the run.

    Returns:
        ``{run_id, started, duration_ms, cost_usd, agents, status, question,
        disk_bytes, analyzed, failed_agents}`` (``started`` in ISO 8601, UTC;
        ``failed_agents`` is the summary's count of agents that failed, 0 when it
        has none).
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
        "analyzed": run.report_path.is_file(),
        "failed_agents": _failed_agents(summary),
    }


def _failed_agents(summary: dict[str, Any]) -> int:
    """The summary's count of failed agents (a summary written before the count
    existed has none: read as 0)."""
    count = summary.get("failed_agents")
    return count if isinstance(count, int) and not isinstance(count, bool) else 0


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


#: The columns, by name: header and Rich column options.
_COLUMNS: dict[str, dict[str, Any]] = {
    # The id is what show, summary and compare take: never cut, never abbreviated.
    "Run": {"no_wrap": True, "overflow": "fold"},
    "Started (UTC)": {"no_wrap": True},
    "Duration": {"justify": "right", "no_wrap": True},
    "Cost": {"justify": "right", "no_wrap": True},
    "Agents": {"justify": "right", "no_wrap": True},
    "Status": {"no_wrap": True},
    # Cut with an ellipsis when the terminal is narrow.
    "Question": {"min_width": 12, "max_width": _QUESTION_WIDTH},
    "Disk": {"justify": "right", "no_wrap": True},
    "Analyzed": {"justify": "center", "no_wrap": True},
}
#: Which columns give way first when the terminal is too narrow for all of them (the
#: start time is in the run id too).
_GIVE_WAY = ("Analyzed", "Disk", "Started (UTC)", "Question", "Cost", "Duration", "Agents")


def _table(rows: list[dict[str, Any]], width: int) -> Any:
    """The table of ``rows``, with as many columns as fit in ``width`` (the id always)."""
    shown = list(_COLUMNS)
    for name in _GIVE_WAY:
        if _narrowest(rows, shown) <= width:
            break
        shown.remove(name)
    return _build(rows, shown)


def _narrowest(rows: list[dict[str, Any]], shown: list[str]) -> int:
    """How wide the table is with every column whole but the question at its narrowest."""
    import io

    text = io.StringIO()
    measuring = console(file=text, width=1 << 12)
    measuring.print(_build(rows, shown, question_width=_COLUMNS["Question"]["min_width"]))
    return max(len(line.rstrip()) for line in text.getvalue().splitlines())


def _build(
    rows: list[dict[str, Any]], shown: list[str], question_width: int = _QUESTION_WIDTH
) -> Any:
    from rich.table import Table

    table = Table(show_edge=False)
    for name in shown:
        options = _COLUMNS[name]
        if name == "Question":
            options = {**options, "max_width": question_width}
        table.add_column(name, **options)
    for row in rows:
        cells = _cells(row)
        table.add_row(
            *(cells[name] for name in shown),
            style="red" if row["status"] == "error" else None,
        )
    return table


def _status(row: dict[str, Any]) -> Any:
    """The status, and how many agents failed: "ok" alone would hide a failure the
    run carried on after (as the summary's header says it)."""
    from rich.text import Text

    text = Text(row["status"])
    if row["failed_agents"]:
        text.append(f", {row['failed_agents']} failed", style="bold red")
    return text


def _cells(row: dict[str, Any]) -> dict[str, Any]:
    from datetime import datetime

    from rich.text import Text

    started = row["started"]
    return {
        "Run": row["run_id"],
        "Started (UTC)": fmt_time(datetime.fromisoformat(started).timestamp()) if started else "-",
        "Duration": fmt_ms(row["duration_ms"]),
        "Cost": fmt_cost(row["cost_usd"]),
        "Agents": "-" if row["agents"] is None else str(row["agents"]),
        "Status": _status(row),
        "Question": Text(cut(row["question"] or "-"), no_wrap=True, overflow="ellipsis"),
        "Disk": fmt_bytes(row["disk_bytes"]),
        "Analyzed": "✓" if row["analyzed"] else "-",
    }
