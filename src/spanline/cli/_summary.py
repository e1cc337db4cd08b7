"""``spanline summary``: a run's summary, folded from its telemetry.jsonl."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from spanline.cli._app import cli, find_run, read_options

__all__ = ["summary"]


@cli.command()
@click.argument("run", required=False)
@read_options
def summary(run: str | None, directory: Path | None, as_json: bool) -> None:
    """Fold RUN (an id, 'latest' by default, or a path) into its summary."""
    from spanline.folds import summarize_file

    found = find_run(run, directory)
    folded = summarize_file(found.telemetry_path, report_problems=False)
    # The readable panel comes with the full CLI; JSON is printed either way for now.
    sys.stdout.write(orjson.dumps(folded.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    for problem in folded.skipped_lines:
        sys.stderr.write(f"skipped {problem['file']}:{problem['line']}: {problem['error']}\n")
