"""``spanline show``: a run's span tree, with durations, status, tokens (own, and
summed over each subtree) and key attributes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from spanline.cli._app import CliError, cli, console, find_run, read_options
from spanline.cli._format import fmt_count, fmt_ms, to_json
from spanline.cli._read import fold_run, sweep_blobs
from spanline.folds.display import cut
from spanline.folds.tree import SpanNode, TreeFold, TreeView

__all__ = ["render_tree", "show", "span_record", "with_blobs"]

#: Nodes drawn at most: a terminal tree past this is not read, only scrolled.
MAX_NODES = 500
_SHORT = {"gen_ai.agent.id": "agent", "gen_ai.request.model": "model", "tool.name": "tool"}


@cli.command()
@click.argument("run", required=False)
@click.option("--errors", is_flag=True, help="only failed spans and the paths to them")
@click.option(
    "--agent",
    "agent",
    metavar="ID",
    help="the subtree of this agent id (or span id, or span name)",
)
@click.option(
    "--depth",
    type=click.IntRange(min=0),
    default=None,
    help="levels drawn, 0 for all [default: 3; all with --errors]",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=MAX_NODES,
    show_default=True,
    help="nodes drawn at most",
)
@click.option(
    "--span",
    "span_id",
    metavar="SPAN_ID",
    help="print this span's full record as JSON (its lines, nothing cut)",
)
@click.option(
    "--full",
    is_flag=True,
    help="with --span: put the content of values stored out of line (blobs/) in place "
    "of their references",
)
@read_options
def show(
    run: str | None,
    errors: bool,
    agent: str | None,
    depth: int | None,
    limit: int,
    span_id: str | None,
    full: bool,
    directory: Path | None,
    as_json: bool,
) -> None:
    """The span tree of RUN: durations, status, tokens and key attributes; failures in red.

    "Σ N tok" is what a span's whole subtree spent (an agent's tokens are its LLM
    calls'), drawn or not. Names and values longer than the display length are cut;
    --span SPAN_ID prints one span's lines whole; values stored out of line show as
    references, or with --full as their content.
    """
    found = find_run(run, directory)
    sweep_blobs(found.directory)
    if full and span_id is None:
        raise CliError("--full needs --span SPAN_ID")
    if span_id is not None:
        record = span_record(found, span_id)
        sys.stdout.write(to_json(with_blobs(found, record) if full else record))
        return
    levels = (None if errors else 3) if depth is None else (depth or None)
    # Drawing the top levels of the whole run needs records of those levels only.
    whole = errors or agent is not None or levels is None
    fold = TreeFold() if whole else TreeFold(depth=levels)
    fold_run(found, fold)
    tree = fold.result()
    roots = None
    if agent is not None:
        roots = tree.agent_roots(agent)
        if not roots:
            raise CliError(
                f"no agent {agent!r} in run {found.run_id} (an agent id, a span id or a span name)"
            )
    view = tree.select(roots=roots, depth=levels, limit=limit, errors_only=errors)
    if as_json:
        sys.stdout.write(to_json({"run_id": found.run_id, **view.to_dict()}))
        return
    out = console()
    if errors and not view.roots:
        out.print("no failed spans in this run")
        return
    out.print(render_tree(view, title=found.run_id, open_state=_open_state(found, view)))
    for line in _left_out(view, levels, limit):
        out.print(line, style="dim")


def span_record(run: Any, span_id: str) -> dict[str, Any]:
    """Every line of ``run`` that belongs to span ``span_id``, whole.

    Returns:
        ``{run_id, span_id, start, end, events}``: its ``span_start`` and ``span_end``
        lines (None when absent) and the ``event`` lines it holds, as written.

    Raises:
        CliError: no line of the run has this span id.
    """
    from spanline.folds import JsonlTail

    record: dict[str, Any] = {"run_id": run.run_id, "span_id": span_id, "start": None}
    record.update(end=None, events=[])
    found = False
    for batch in JsonlTail(run.telemetry_path).batches(final=True):
        for event in batch:
            if event.get("span_id") != span_id:
                continue
            found = True
            kind = event.get("event")
            if kind == "span_start":
                record["start"] = event
            elif kind == "span_end":
                record["end"] = event
            else:
                record["events"].append(event)
    if not found:
        raise CliError(f"no span {span_id!r} in run {run.run_id}")
    return record


def with_blobs(run: Any, record: dict[str, Any]) -> dict[str, Any]:
    """``record`` (see :func:`span_record`) with its blob references replaced by content.

    Raises:
        CliError: a blob file is corrupt (bad input).
    """
    from spanline._lines._blobs import BlobError, resolve

    directory = run.telemetry_path.parent
    for line in (record["start"], record["end"]):
        attributes = (line or {}).get("attributes")
        if type(attributes) is not dict:
            continue
        try:
            line["attributes"] = {k: resolve(directory, v) for k, v in attributes.items()}
        except (BlobError, OSError) as exc:
            raise CliError(str(exc)) from None
    return record


def _open_state(run: Any, view: TreeView) -> str:
    """How to call the drawn spans that have a start and no end (checked only if any)."""
    stack = list(view.roots)
    while stack:
        node = stack.pop()
        if node.status == "open":
            from spanline._runs._liveness import run_is_live

            return "in flight" if run_is_live(run) else "abandoned"
        stack.extend(node.children)
    return "open"


def render_tree(view: TreeView, *, title: str, open_state: str = "open") -> Any:
    """A Rich tree of the selected nodes under a label ``title``.

    Args:
        view: the selected nodes.
        title: the label of the tree's root.
        open_state: the mark of spans with a start and no end: ``in flight``
            while a process of the run still runs, ``abandoned`` once none does.
    """
    from rich.tree import Tree

    top = Tree(title, guide_style="dim")
    stack: list[tuple[SpanNode, Any]] = [(node, top) for node in reversed(view.roots)]
    while stack:
        node, parent = stack.pop()
        branch = parent.add(_label(node, open_state))
        if node.hidden:
            branch.add(f"[dim]… {fmt_count(node.hidden)} more below[/dim]")
        stack.extend((child, branch) for child in reversed(node.children))
    return top


def _label(node: SpanNode, open_state: str) -> Any:
    from rich.text import Text

    text = Text()
    failed = node.status == "error"
    # Cut before the Text is built: making a Rich Text of a huge string costs time too.
    text.append(cut(node.name or "?"), style="bold red" if failed else "bold")
    if node.kind:
        text.append(f" [{cut(node.kind)}]", style="cyan")
    text.append(f" {fmt_ms(node.duration_ms)}" if node.duration_ms is not None else " -")
    if node.status != "ok":
        mark = "✗ error" if failed else open_state if node.status == "open" else node.status
        text.append(f" {mark}", style="red" if failed else "yellow")
    if node.tokens:
        text.append(f" {fmt_count(node.tokens)} tok", style="magenta")
    if node.subtree_tokens > node.tokens:  # an agent's tokens are its LLM calls'
        text.append(f" Σ {fmt_count(node.subtree_tokens)} tok", style="magenta")
    attributes = [cut(f"{_SHORT.get(k, k)}={cut(str(v))}") for k, v in node.attributes.items()]
    if attributes:
        text.append(" " + " ".join(attributes), style="dim")
    if failed and (node.error_type or node.error_message):
        detail = ": ".join(cut(part) for part in (node.error_type, node.error_message) if part)
        text.append(f" — {detail}", style="red")
    return text


def _left_out(view: TreeView, depth: int | None, limit: int) -> list[str]:
    lines = []
    if view.below_depth:
        lines.append(f"{fmt_count(view.below_depth)} span(s) deeper than --depth {depth} not drawn")
    if view.over_limit:
        lines.append(
            f"{fmt_count(view.over_limit)} span(s) not drawn: at most {limit} nodes "
            "(narrow with --agent, --errors or --depth, or raise --limit)"
        )
    return lines
