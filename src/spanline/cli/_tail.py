"""``spanline tail``: a run's agents, live, in a terminal (or one line per transition)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from spanline._capture._redact import redacted_window
from spanline._runs._liveness import writers_alive
from spanline._runs._store import Run
from spanline.cli._app import FINDING, CliError, cli, console, find_run, read_options
from spanline.cli._format import fmt_cost, fmt_ms
from spanline.cli._tail_state import TailState, Transition, lane_state
from spanline.folds import JsonlTail
from spanline.folds.display import one_line

__all__ = ["tail_command"]

#: Seconds between reads of a live log.
_POLL_S = 0.2
#: Longest name or detail shown, before rendering.
_SHOWN = 80


def _cut(text: Any, width: int = _SHOWN) -> str:
    """A value from the log fit to print: redacted with the rules of now, control
    characters escaped, cut to ``width``."""
    value = one_line(redacted_window(str(text), width))
    return value if len(value) <= width else value[: width - 1] + "…"


@cli.command(name="tail")
@click.argument("run", required=False)
@click.option("--plain", is_flag=True, help="one line per agent transition, for logs and pipes")
@read_options
def tail_command(run: str | None, plain: bool, directory: Path | None, as_json: bool) -> None:
    """Follow a run's agents until the run ends (default: the latest run).

    A live table of agents (queued, running, done, failed, stalled) with phase,
    elapsed time, tokens, cost and last tool, under a header with the run, phase
    progress, tokens per minute and errors. --plain prints one line per
    transition instead, every one of them, read from the log; --json one JSON
    object per transition. The status is 1 when the run or one of its agents
    failed; Ctrl-C ends it with 0.
    """
    from spanline.cli._redacted import use_environment_rules

    use_environment_rules()  # what is printed is redacted with the rules of now
    target = find_run(run, directory)
    state = TailState()
    try:
        if plain or as_json or not sys.stdout.isatty():
            _print_transitions(target, state, as_json=as_json)
        else:
            _live(target, state)
    except KeyboardInterrupt:
        return  # Ctrl-C is the normal way to stop following
    if state.failed():
        raise CliError(f"run {target.run_id} failed", FINDING)


def _batches(run: Run, state: TailState) -> Iterator[list[Any]]:
    """The log's new lines, batch by batch, until no process of the run is writing."""
    tail = JsonlTail(run.telemetry_path)
    while True:
        batch = tail.read()
        if batch:
            yield batch
            continue
        if not writers_alive(state.writers, run.telemetry_path):
            rest = tail.read(final=True)  # a last line the writer never finished
            if rest:
                yield rest
            return
        time.sleep(_POLL_S)


def _print_transitions(run: Run, state: TailState, *, as_json: bool) -> None:
    out = sys.stdout
    if not as_json:
        out.write(f"run {run.run_id}\n")
    for batch in _batches(run, state):
        for transition in state.feed(batch):
            out.write(_json_line(transition) if as_json else _plain_line(transition))
        out.flush()
    if not as_json:
        summary = state.summary_dict
        failed = sum(1 for lane in state.current if lane.get("status") == "error")
        status = summary.get("status", "ok")
        out.write(f"run ended: {status}, {len(state.current)} agents, {failed} failed\n")


def _plain_line(transition: Transition) -> str:
    clock = time.strftime("%H:%M:%S", time.gmtime(transition.ts))
    millis = int((transition.ts % 1) * 1000)
    detail = f"  {_cut(transition.detail, 200)}" if transition.detail else ""
    return f"{clock}.{millis:03d}  {_cut(transition.agent)}  {transition.state}{detail}\n"


def _json_line(transition: Transition) -> str:
    record = {
        "ts": transition.ts,
        "agent": _cut(transition.agent),
        "state": transition.state,
        "detail": _cut(transition.detail, 200),
    }
    import orjson

    return orjson.dumps(record).decode() + "\n"


def _live(run: Run, state: TailState) -> None:
    from rich.live import Live

    out = console()
    with Live(console=out, refresh_per_second=4, transient=False) as live:
        for batch in _batches(run, state):
            state.feed(batch)
            live.update(_view(run, state))
        live.update(_view(run, state))


def _view(run: Run, state: TailState) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    summary = state.summary_dict
    totals = summary.get("totals") or {}
    plan = summary.get("plan") or {}
    stalled = state.stalled()
    phases = summary.get("phases") or {}
    header = Text(
        f"{_cut(run.run_id)}  phases {len(phases)}  "
        f"agents {plan.get('done', 0)}/{plan.get('planned', 0) or len(state.current)} done  "
        f"{state.lanes.burn().get('tokens_per_min', 0):,} tokens/min  "
        f"errors {len(summary.get('errors') or ())}  "
        f"{totals.get('total_tokens', 0):,} tokens  {fmt_cost(totals.get('cost_usd'))}"
    )
    table = Table(expand=False)
    for column in ("Agent", "State", "Phase"):
        table.add_column(column, no_wrap=True, overflow="ellipsis")
    for column in ("Elapsed", "Tokens", "Cost"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("Last tool", no_wrap=True, overflow="ellipsis")
    now = time.time()
    for lane in state.current:
        start, end = lane.get("start_ts"), lane.get("end_ts")
        elapsed = None
        if isinstance(start, (int, float)):
            elapsed = ((end if isinstance(end, (int, float)) else now) - start) * 1000
        table.add_row(
            _cut(lane.get("name"), 40),
            lane_state(lane, stalled),
            _cut(lane.get("phase") or "", 30),
            fmt_ms(elapsed) if elapsed is not None else "",
            f"{lane.get('tokens') or 0:,}",
            fmt_cost(lane.get("cost_usd")),
            _cut(state.last_tool.get(str(lane.get("span_id")), ""), 30),
        )
    return Group(header, table)
