"""``spanline sessions`` and ``summary --session``: runs grouped into conversations.

A session's figures come from the spans that carry its ``session.id``, in every
run under the base directory (one run may serve several sessions). Its turns and
attempts are the numbers the runs were given (``configure_observability(session_id=,
turn=, attempt=)``). Names are redacted and cut before Rich renders them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from spanline._runs._sessions import collect_attempts, validate_session_id
from spanline._runs._store import Run, list_runs
from spanline.cli._app import CliError, base_dir, cli, console, read_options
from spanline.cli._format import fmt_cost, fmt_count, fmt_ms, fmt_time, to_json
from spanline.folds.sessions import Attempt, group_sessions, summarize_session

__all__ = [
    "checked_session",
    "session_option",
    "session_pair",
    "session_runs",
    "session_summary",
    "sessions_command",
    "shown_name",
]

#: Longest name shown whole; longer ones are cut with an ellipsis before rendering.
NAME_WIDTH = 48


def shown_name(text: Any, width: int = NAME_WIDTH) -> str:
    """``text`` redacted and cut to ``width`` characters, safe to hand to Rich."""
    from rich.markup import escape

    from spanline._capture._redact import redact_text

    value = redact_text(str(text))
    value = value if len(value) <= width else value[: width - 1] + "…"
    return escape("".join(ch if ch.isprintable() else "?" for ch in value))


def checked_session(session_id: str) -> str:
    """The ``--session`` value, or a one-line error (status 2) when it is not a safe name."""
    try:
        return validate_session_id(session_id)
    except ValueError as exc:
        raise CliError(str(exc)) from None


#: ``--session ID``: the option of ``list``.
session_option = click.option(
    "--session", "session_id", metavar="ID", help="only the runs of this session"
)


def session_runs(base: Path, session_id: str) -> list[Run]:
    """The runs that served ``session_id``, newest first."""
    ids = {attempt.run_id for attempt in collect_attempts(base, checked_session(session_id))}
    return [run for run in list_runs(base) if run.run_id in ids]


@cli.command(name="sessions")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@read_options
def sessions_command(limit: int, directory: Path | None, as_json: bool) -> None:
    """The sessions under --dir, most recently active first: turns, attempts, status,
    duration, tokens, cost (and what failed attempts cost), errors, last activity.

    Spans are grouped by their session.id, so one run can serve several sessions.
    """
    rows = group_sessions(collect_attempts(base_dir(directory)))[:limit]
    if as_json:
        from spanline._capture._redact import redact_text

        # Ids come from span attributes: redacted on the way out, as the table's are.
        sys.stdout.write(to_json([{**r, "session_id": redact_text(r["session_id"])} for r in rows]))
        return
    out = console()
    if not rows:
        out.print(f"no sessions under {base_dir(directory) / 'runs'}")
        return
    out.print(_sessions_table(rows))


def _sessions_table(rows: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    table = Table(show_edge=False)
    table.add_column("Session", no_wrap=True, overflow="ellipsis", max_width=NAME_WIDTH)
    for name in ("Turns", "Attempts"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    for name in ("Duration", "Tokens", "Cost", "Waste", "Errors"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("Last activity (UTC)", no_wrap=True)
    for row in rows:
        table.add_row(
            shown_name(row["session_id"]),
            str(row["turns"]),
            str(row["attempts"]),
            row["status"],
            fmt_ms(row["wall_ms"]),
            fmt_count(row["tokens"]),
            fmt_cost(row["cost_usd"]),
            fmt_cost(row["waste_usd"]) if row["waste_usd"] else "-",
            str(row["errors"]),
            fmt_time(row["last_activity"]),
            style="red" if row["status"] == "error" else None,
        )
    return table


def session_summary(session_id: str, directory: Path | None, as_json: bool) -> None:
    """``summary --session ID``: the conversation's totals and each turn's attempts."""
    session_id = checked_session(session_id)
    attempts = collect_attempts(base_dir(directory), session_id)
    if not attempts:
        raise CliError(f"no session {session_id!r} under {base_dir(directory) / 'runs'}")
    folded = summarize_session(attempts)
    if as_json:
        sys.stdout.write(to_json(folded))
        return
    out = console()
    totals = folded["totals"]
    out.print(
        f"Session {shown_name(session_id)}: {folded['status']}, {folded['turns']} turns, "
        f"{folded['attempts']} attempts, {fmt_ms(totals['wall_ms'])}, "
        f"{fmt_count(totals['tokens'])} tokens, {fmt_cost(totals['cost_usd'])} "
        f"(waste {fmt_cost(totals['waste_usd'])}), {totals['errors']} errors"
    )
    out.print(_turns_table(folded["attempt_list"]))


def _turns_table(entries: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    table = Table(show_edge=False)
    # The mark and the figures first, whole; the run id last, folded when narrow.
    table.add_column("Turn", justify="right", no_wrap=True, min_width=4)
    table.add_column("Att.", justify="right", no_wrap=True, min_width=4)
    table.add_column("", no_wrap=True, min_width=8)
    table.add_column("Status", no_wrap=True, min_width=10)
    for name in ("Duration", "Tokens", "Cost", "Errors"):
        table.add_column(name, justify="right", no_wrap=True, min_width=len(name))
    table.add_column("Run", overflow="fold")
    for entry in entries:
        mark = "accepted" if entry["accepted"] else ("waste" if entry["wasted"] else "")
        table.add_row(
            "-" if entry["turn"] is None else str(entry["turn"]),
            "-" if entry["attempt"] is None else str(entry["attempt"]),
            mark,
            entry["status"],
            fmt_ms(entry["wall_ms"]),
            fmt_count(entry["tokens"]),
            fmt_cost(entry["cost_usd"]),
            str(entry["errors"]),
            shown_name(entry["run_id"], 128),
            style="red" if entry["wasted"] else None,
        )
    return table


def session_pair(
    session_id: str, turns: tuple[int, ...], attempts: tuple[int, ...], directory: Path | None
) -> tuple[str, str]:
    """The two runs ``compare --session`` compares: two turns (each turn's accepted
    attempt, else its last one), or two attempts of one turn.

    Raises:
        CliError: not two turns or one turn and two attempts (usage), or a turn or
            attempt the session does not have (status 2).
    """
    session_id = checked_session(session_id)
    if not ((len(turns) == 2 and not attempts) or (len(turns) == 1 and len(attempts) == 2)):
        raise CliError("--session needs --turn A --turn B, or --turn T --attempt A --attempt B")
    found = [a for a in collect_attempts(base_dir(directory), session_id) if a.turn is not None]
    if len(turns) == 2:
        return _turn_run(found, turns[0]), _turn_run(found, turns[1])
    return _attempt_run(found, turns[0], attempts[0]), _attempt_run(found, turns[0], attempts[1])


def _turn_run(found: list[Attempt], turn: int) -> str:
    of_turn = sorted((a for a in found if a.turn == turn), key=lambda a: a.attempt or 0)
    if not of_turn:
        raise CliError(f"the session has no turn {turn}")
    accepted = [a for a in of_turn if a.status == "ok"]
    return (accepted or of_turn)[-1].run_id


def _attempt_run(found: list[Attempt], turn: int, attempt: int) -> str:
    for candidate in found:
        if candidate.turn == turn and candidate.attempt == attempt:
            return candidate.run_id
    raise CliError(f"the session has no attempt {attempt} of turn {turn}")
