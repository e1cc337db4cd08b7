"""``spanline tools``: every tool of a run with calls, time, average, p95 and failures."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from spanline.cli._app import cli, console, find_run, read_options
from spanline.cli._format import fold_summary, to_json
from spanline.cli._summary import refold_option, tools_table

__all__ = ["tool_rows", "tools"]

#: --sort choices: the key and whether larger comes first.
_SORTS = {"time": "total_ms", "calls": "calls", "fail": "failures", "avg": "avg_ms"}


@cli.command()
@click.argument("run", required=False)
@click.option(
    "--sort",
    "sort",
    type=click.Choice(sorted(_SORTS)),
    default="time",
    show_default=True,
    help="order of the rows (largest first)",
)
@refold_option
@read_options
def tools(run: str | None, sort: str, refold: bool, directory: Path | None, as_json: bool) -> None:
    """Per tool of RUN: calls, total time, average, p95 and failures, with a TOTAL row."""
    folded, _ = fold_summary(find_run(run, directory), refold=refold)
    rows = tool_rows(folded, sort)
    if as_json:
        sys.stdout.write(to_json(rows))
        return
    out = console()
    if not rows:
        out.print("no tool calls in this run")
        return
    total = {
        "calls": sum(row["calls"] for row in rows),
        "total_ms": sum(row["total_ms"] for row in rows),
        "failures": sum(row["failures"] for row in rows),
    }
    out.print(tools_table(rows, total=total))


def tool_rows(folded: dict[str, Any], sort: str = "time") -> list[dict[str, Any]]:
    """The summary's ``tools`` as rows ``{tool, calls, total_ms, avg_ms, p95_ms, failures}``.

    Args:
        folded: the run's summary, as ``run_summary.json`` holds it.
        sort: ``time``, ``calls``, ``fail`` or ``avg`` (largest first, then by name).

    Returns:
        The rows in order.
    """
    key = _SORTS[sort]
    rows = [{"tool": name, **stats} for name, stats in folded["tools"].items()]
    rows.sort(key=lambda row: (-row[key], row["tool"]))
    return rows
