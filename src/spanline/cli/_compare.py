"""``spanline compare``: two runs side by side, regressions flagged; exit 1 on any."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import orjson

from spanline.cli._app import (
    BAD_INPUT,
    FINDING,
    CliError,
    cli,
    console,
    find_run,
    read_options,
)
from spanline.exceptions import SpanlineError
from spanline.folds.compare import (
    SECTIONS,
    Comparison,
    GroupStats,
    ProfileFold,
    RowDiff,
    RunProfile,
    compare_profiles,
)

__all__ = ["compare", "parse_threshold", "render_comparison"]

#: Exit status when some metric regressed (a finding).
REGRESSED = FINDING

_TITLES = {
    "run": "Run",
    "phase": "Phases",
    "agent_kind": "Agent kinds",
    "tool": "Tools",
    "model": "Models",
}
_SHORT = {"wall_ms": "time", "tokens": "tokens", "cost_usd": "cost", "errors": "errors"}


def parse_threshold(text: str) -> float:
    """``20%``, ``20`` (both percent) or ``12.5%`` as a fraction (0.2, 0.2, 0.125).

    Raises:
        ValueError: not a number, negative, or not finite.
    """
    number = text.strip().removesuffix("%").strip()
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"bad threshold {text!r}: expected a percentage such as 20%") from None
    if not 0 <= value < float("inf"):
        raise ValueError(f"bad threshold {text!r}: expected a non-negative percentage")
    return value / 100.0


def _threshold(ctx: click.Context, param: click.Parameter, value: str) -> float:
    try:
        return parse_threshold(value)
    except ValueError as exc:
        raise CliError(str(exc), BAD_INPUT) from None


def _min_ms(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not 0 <= value < float("inf"):
        raise CliError(f"bad --min-ms {value!r}: expected a non-negative number", BAD_INPUT)
    return value


@cli.command()
@click.argument("run_a", required=False)
@click.argument("run_b", required=False)
@click.option(
    "--threshold",
    default="20%",
    show_default=True,
    callback=_threshold,
    help="relative increase flagged as a regression",
)
@click.option(
    "--min-ms",
    type=float,
    default=50.0,
    show_default=True,
    callback=_min_ms,
    help="noise floor: smaller wall-time increases are never flagged",
)
@click.option("--session", "session_id", metavar="ID", help="compare two turns or attempts of it")
@click.option("--turn", "turns", type=click.IntRange(min=1), multiple=True, help="a turn (twice)")
@click.option(
    "--attempt", "attempts", type=click.IntRange(min=1), multiple=True, help="an attempt (twice)"
)
@read_options
def compare(
    run_a: str | None,
    run_b: str | None,
    threshold: float,
    min_ms: float,
    session_id: str | None,
    turns: tuple[int, ...],
    attempts: tuple[int, ...],
    directory: Path | None,
    as_json: bool,
) -> int:
    """Compare RUN_B against RUN_A (the baseline) per phase, agent kind, tool and model.

    Or two turns of a session (--session ID --turn 1 --turn 2: each turn's accepted
    attempt), or two attempts of one turn (--session ID --turn 2 --attempt 1 --attempt 2).
    Exits 0 when nothing regressed, 1 when something did, 2 on bad input.
    """
    if session_id is not None:
        if run_a is not None:
            raise click.UsageError("give two runs or --session, not both")
        from spanline.cli._sessions import session_pair

        run_a, run_b = session_pair(session_id, turns, attempts, directory)
    elif run_a is None or run_b is None or turns or attempts:
        raise click.UsageError("give two runs, or --session ID with --turn/--attempt")
    profiles = [_profile(target, directory) for target in (run_a, run_b)]
    comparison = compare_profiles(*profiles, threshold=threshold, min_ms=min_ms)
    if as_json:
        sys.stdout.write(orjson.dumps(comparison.to_dict(), option=orjson.OPT_INDENT_2).decode())
        sys.stdout.write("\n")
    else:
        render_comparison(comparison, console())
    return REGRESSED if comparison.regressions else 0


def _profile(target: str, directory: Path | None) -> RunProfile:
    """Fold one run; every way of not finding or reading it is bad input (exit 2)."""
    from spanline.folds import JsonlTail

    try:
        run = find_run(target, directory)
        fold = ProfileFold(run_id=run.run_id)
        tail = JsonlTail(run.telemetry_path)
        for batch in tail.batches(final=True):
            fold.extend(batch)
    except (SpanlineError, OSError, ValueError) as exc:
        raise CliError(str(exc).splitlines()[0] or type(exc).__name__, BAD_INPUT) from None
    found = fold.result()
    if found.events == 0:
        bad = f", {len(tail.problems)} malformed line(s)" if tail.problems else ""
        raise CliError(f"run {run.run_id} has no events{bad}: {run.telemetry_path}", BAD_INPUT)
    from spanline.cli._read import warn_skipped

    warn_skipped(tail.problems)
    return found


# -- rendering -------------------------------------------------------------------------------


def render_comparison(comparison: Comparison, out: Any) -> None:
    """Print a comparison as one Rich table per section, then the verdict.

    Args:
        comparison: what :func:`~spanline.folds.compare.compare_profiles` returned.
        out: a Rich console.
    """
    out.print(f"A (baseline): {comparison.run_a}")
    out.print(f"B:            {comparison.run_b}")
    for section in SECTIONS:
        rows = [row for row in comparison.rows if row.section == section]
        if not rows:
            continue
        table = _section_table(section, rows, stacked=False)
        if _natural_width(table) > out.width:  # too narrow: each row on two lines
            table = _section_table(section, rows, stacked=True)
        out.print(table)
    found = comparison.regressions
    floor = f"threshold {comparison.threshold * 100:g}%, noise floor {comparison.min_ms:g} ms"
    if not found:
        out.print(f"No regressions ({floor}).")
        return
    out.print(f"{len(found)} regression(s) ({floor}):", style="bold red")
    for regression in found:
        ratio = regression.ratio
        pct = "new" if ratio is None else f"{ratio * 100:+.0f}%"
        before = _metric(regression.metric, regression.a)
        after = _metric(regression.metric, regression.b)
        out.print(
            f"  {regression.section} {regression.name}: {_SHORT[regression.metric]} "
            f"{before} -> {after} ({pct})"
        )


#: The number columns: one line per row, or two (on a narrow terminal).
_HEADERS = ("n", "A ms", "B ms", "Δ time", "B tokens", "B cost", "err")
_STACKED_HEADERS = ("n", "A/B ms", "Δ time", "B tokens", "B cost", "err")


def _section_table(section: str, rows: list[RowDiff], *, stacked: bool) -> Any:
    """One section's table. Stacked, each row takes two lines (A over B, the change
    under each figure), so the names and every figure fit in 80 columns; figures are
    never cut, and a name only wraps when even that is too wide."""
    from rich import box
    from rich.table import Table

    table = Table(
        title=_TITLES[section],
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=stacked,
    )
    table.add_column("name", overflow="fold", min_width=12)
    for header in _STACKED_HEADERS if stacked else _HEADERS:
        table.add_column(header, justify="right", no_wrap=True)
    for row in rows:
        cells = _cells(row)
        if stacked:
            cells = [cells[0], cells[1], f"{cells[2]}\n{cells[3]}", *map(_stack, cells[4:])]
        table.add_row(*cells, style="bold red" if row.regressions else None)
    return table


def _stack(cell: str) -> str:
    """``+91.0 +16% ▲`` as ``+91.0`` over ``+16% ▲``."""
    figure, _, change = cell.partition(" ")
    return f"{figure}\n{change}" if change else cell


def _natural_width(table: Any) -> int:
    """How wide ``table`` is when nothing in it is folded or cut."""
    import io

    text = io.StringIO()
    console(file=text, width=1 << 12).print(table)
    return max(len(line.rstrip()) for line in text.getvalue().splitlines())


def _cells(row: RowDiff) -> list[str]:
    a, b = row.a or GroupStats(), row.b or GroupStats()
    flagged = {regression.metric for regression in row.regressions}
    mark = {metric: " ▲" if metric in flagged else "" for metric in _SHORT}
    name = row.name
    if row.a is None:
        name += " (B only)"
    elif row.b is None:
        name += " (A only)"
    errors = f"{a.errors}->{b.errors}" if a.errors != b.errors else str(b.errors)
    return [
        name,
        str(b.count),
        f"{a.wall_ms:,.1f}",
        f"{b.wall_ms:,.1f}",
        f"{b.wall_ms - a.wall_ms:+,.1f} {_pct(a.wall_ms, b.wall_ms)}{mark['wall_ms']}",
        f"{_count(b.tokens)} {_pct(a.tokens, b.tokens)}{mark['tokens']}",
        f"${b.cost_usd:,.4f} {_pct(a.cost_usd, b.cost_usd)}{mark['cost_usd']}",
        errors + mark["errors"],
    ]


def _count(value: float) -> str:
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.2f}M"
    if abs(value) >= 10_000:
        return f"{value / 1_000:.1f}k"
    return f"{value:,.0f}"


def _pct(before: float, after: float) -> str:
    if round(after - before, 9) == 0:
        return "="
    if not before:
        return "new"
    return f"{(after - before) / before * 100:+.0f}%"


def _metric(metric: str, value: float) -> str:
    if metric == "wall_ms":
        return f"{value:,.1f} ms"
    if metric == "cost_usd":
        return f"${value:,.4f}"
    return f"{value:,.0f}"
