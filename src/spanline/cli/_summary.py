"""``spanline summary``: a run's summary, folded from its telemetry.jsonl."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from spanline.cli._app import CliError, cli, console, find_run, read_options
from spanline.cli._format import (
    fmt_cost,
    fmt_count,
    fmt_ms,
    fold_summary,
    run_title,
    to_json,
)
from spanline.folds.display import bounded

__all__ = ["failed_agents_text", "refold_option", "render_summary", "summary", "tools_table"]

_STATUS_STYLE = {"ok": "green", "error": "bold red", "incomplete": "yellow"}
_ERRORS_SHOWN = 5
TOP_TOOLS = 5

#: ``--refold``: fold the log even when the stored run_summary.json is current.
refold_option = click.option(
    "--refold", is_flag=True, help="fold telemetry.jsonl even if run_summary.json is current"
)


@cli.command()
@click.argument("run", required=False)
@refold_option
@click.option(
    "--session",
    "session_id",
    metavar="ID",
    help="total a whole session instead: each turn, its accepted attempt, failed ones as waste",
)
@read_options
def summary(
    run: str | None, refold: bool, session_id: str | None, directory: Path | None, as_json: bool
) -> None:
    """The summary of RUN (an id, 'latest' by default, or a path).

    A panel with the run's question, status, duration, cost, agents, tokens,
    phases, milestones, errors and top tools; --json prints run_summary.json's keys.
    A finished run's run_summary.json is used when it covers the whole log.
    """
    if session_id is not None:
        if run is not None:
            raise CliError("give a run or --session, not both")
        from spanline.cli._sessions import session_summary

        session_summary(session_id, directory, as_json)
        return
    found = find_run(run, directory)
    folded, run_start = fold_summary(found, refold=refold)
    if as_json:
        sys.stdout.write(to_json(folded))
        return
    open_state = "open"
    if folded["open_spans"]:
        from spanline._runs._liveness import run_is_live

        open_state = "in flight" if run_is_live(found) else "abandoned"
    out = console()
    for part in render_summary(folded, run_start, open_state=open_state):
        out.print(part)


def render_summary(
    folded: dict[str, Any], run_start: dict[str, Any] | None, *, open_state: str = "open"
) -> list[Any]:
    """The Rich renderables of a summary dict, in the layout of MassGen's `massgen logs`.

    Args:
        folded: the summary, as run_summary.json holds it.
        run_start: the run's first line (its title), if known.
        open_state: what spans with a start and no end are: ``in flight`` while a
            process of the run still runs, ``abandoned`` once none does.
    """
    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text

    # Cut before any Text is built: making a Rich Text of a huge string costs time too.
    folded, run_start = bounded(folded), bounded(run_start)
    totals = folded["totals"]
    status = folded["status"]
    head = Text()
    head.append(run_title(run_start, folded["run_id"]) + "\n", style="bold")
    head.append(f"{folded['run_id']}\n", style="dim")
    state = Text("Status: ")
    state.append(status, style=_STATUS_STYLE.get(status, ""))
    failed = failed_agents_text(folded)
    if failed:
        state.append(f", {failed}", style="bold red")
    cost = Text(f"Cost: {fmt_cost(totals['cost_usd'])}")
    if folded["unpriced_models"]:
        cost.append(f" (unpriced: {', '.join(folded['unpriced_models'])})", style="yellow")
    figures = _Figures(
        state,
        f"Agents: {totals['agents_spawned']}",
        f"Spans: {fmt_count(folded['span_count'])}",
        f"Duration: {fmt_ms(folded['total_wall_ms'])}",
        cost,
    )
    parts: list[Any] = [Panel(Group(head, figures), title="spanline run summary"), ""]
    by_type = totals["tokens_by_type"]
    parts.append(
        _Figures(
            f"Tokens: Input: {fmt_count(by_type['input'])}",
            f"Output: {fmt_count(by_type['output'])}",
            f"Reasoning: {fmt_count(by_type['reasoning'])}",
            f"Cached: {fmt_count(by_type['cache_read'])}",
            f"Total: {fmt_count(totals['total_tokens'])}",
        )
    )
    budget = folded.get("budget")
    if isinstance(budget, dict):
        parts.append(_budget_line(budget))
    parts.append("")
    phases, milestones, tools = folded["phases"], folded["milestones"], folded["tools"]
    if phases:
        parts.extend((Text(f"Phases ({len(phases)})", style="bold"), _phases(phases), ""))
    if milestones:
        title = Text(f"Milestones ({len(milestones)})", style="bold")
        parts.extend((title, _milestones(milestones), ""))
    parts.extend(_problems(folded, open_state))
    if tools:
        title = Text(f"Top tools ({min(TOP_TOOLS, len(tools))} of {len(tools)})")
        title.stylize("bold")
        parts.extend((title, tools_table(_top_tools(tools), total=None)))
    return parts


class _Figures:
    """``Label: value`` figures joined by `` | ``: a line that does not fit breaks
    between two figures, never between a label and its value."""

    def __init__(self, *figures: Any) -> None:
        from rich.text import Text

        self.figures = [Text(f) if isinstance(f, str) else f for f in figures]

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.text import Text

        line = Text()
        for figure in self.figures:
            if line and line.cell_len + 3 + figure.cell_len > options.max_width:
                yield line
                line = Text()
            if line:
                line.append(" | ")
            line.append_text(figure)
        yield line


def failed_agents_text(folded: dict[str, Any]) -> str:
    """``1 agent failed`` / ``3 agents failed``, or "" (a summary written before the
    count existed has no ``failed_agents`` key: read as none)."""
    count = folded.get("failed_agents") or 0
    if not isinstance(count, int) or count <= 0:
        return ""
    return f"{count} agent{'' if count == 1 else 's'} failed"


def _phases(phases: dict[str, dict[str, Any]]) -> Any:
    from rich.table import Table

    table = Table()
    table.add_column("Phase")
    table.add_column("Wall", justify="right")
    table.add_column("Agents", justify="right")
    for name, phase in phases.items():
        agents = phase.get("agents")
        wall = fmt_ms(phase.get("wall_ms")) + (" (open)" if phase.get("incomplete") else "")
        table.add_row(name, wall, "" if agents is None else str(agents))
    return table


def _milestones(milestones: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    table = Table()
    table.add_column("Milestone")
    table.add_column("Wall", justify="right")
    table.add_column("Counts")
    skip = {"name", "wall_ms", "ts", "process_wall_ms", "agents", "incomplete"}
    for milestone in milestones:
        counts = ", ".join(f"{k}={v}" for k, v in milestone.items() if k not in skip)
        table.add_row(str(milestone.get("name")), fmt_ms(milestone.get("wall_ms")), counts)
    return table


def _budget_line(budget: dict[str, Any]) -> Any:
    """``Budget: limit ... | spent ... | remaining ...``, red once a limit is reached."""
    from rich.text import Text

    limits, spent, remaining = [], [], []
    if budget.get("max_usd") is not None:
        limits.append(fmt_cost(budget["max_usd"]))
        spent.append(fmt_cost(budget.get("spent_usd")))
        remaining.append(fmt_cost(budget.get("remaining_usd")))
    if budget.get("max_tokens") is not None:
        limits.append(f"{fmt_count(budget['max_tokens'])} tokens")
        spent.append(f"{fmt_count(budget.get('spent_tokens'))} tokens")
        remaining.append(f"{fmt_count(budget.get('remaining_tokens'))} tokens")
    if not limits:  # a session's limits only: its spending is the session's, not this run's
        return Text(f"Budget: session limit {fmt_cost(budget.get('session_max_usd'))}")
    text = Text(
        f"Budget: limit {', '.join(limits)} | spent {', '.join(spent)}"
        f" | remaining {', '.join(remaining)} | on reaching it: {budget.get('action')}"
    )
    if budget.get("exceeded") is True:
        text.stylize("bold red")
    return text


def _problems(folded: dict[str, Any], open_state: str) -> list[Any]:
    from rich.text import Text

    errors = folded["errors"]
    line = Text()
    line.append(f"Errors: {len(errors)}", style="bold red" if errors else "")
    line.append(f" | Dropped events: {fmt_count(folded['dropped_events'])}")
    open_spans = folded["open_spans"]
    line.append(f" | Open spans: {fmt_count(open_spans)}")
    if open_spans and open_state != "open":
        line.append(f" ({open_state})", style="yellow")
    line.append(f" | Skipped lines: {fmt_count(folded['skipped_line_count'])}")
    parts: list[Any] = [line]
    for error in errors[:_ERRORS_SHOWN]:
        kind = f" ({error['type']})" if error.get("type") else ""
        message = f": {error['message']}" if error.get("message") else ""
        parts.append(Text(f"  ✗ {error.get('name')}{kind}{message}", style="red"))
    if len(errors) > _ERRORS_SHOWN:
        parts.append(f"  … and {len(errors) - _ERRORS_SHOWN} more (spanline show --errors)")
    for span in folded["open_span_list"][:_ERRORS_SHOWN]:
        label = f"  … {open_state}: {span.get('name')} ({span.get('span_id')})"
        parts.append(Text(label, style="yellow"))
    parts.append("")
    return parts


def _top_tools(tools: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = [{"tool": name, **stats} for name, stats in tools.items()]
    rows.sort(key=lambda row: (-row["total_ms"], row["tool"]))
    return rows[:TOP_TOOLS]


def tools_table(rows: list[dict[str, Any]], *, total: dict[str, Any] | None) -> Any:
    """A Rich table of tool rows (``tool, calls, total_ms, avg_ms, p95_ms, failures``).

    Args:
        rows: the rows, in the order to draw.
        total: a TOTAL row to draw under a line (``calls, total_ms, failures``).

    Returns:
        The table.
    """
    from rich.table import Table

    table = Table()
    table.add_column("Tool")
    for name in ("Calls", "Time", "Avg", "P95", "Fail"):
        table.add_column(name, justify="right")
    for row in rows:
        failures = row["failures"]
        table.add_row(
            row["tool"],
            fmt_count(row["calls"]),
            fmt_ms(row["total_ms"]),
            fmt_ms(row["avg_ms"]),
            fmt_ms(row["p95_ms"]),
            fmt_count(failures) if failures else "",
            style="red" if failures else None,
        )
    if total is not None:
        table.add_section()
        failures = total["failures"]
        table.add_row(
            "TOTAL",
            fmt_count(total["calls"]),
            fmt_ms(total["total_ms"]),
            "",
            "",
            fmt_count(failures) if failures else "",
            style="bold",
        )
    return table
