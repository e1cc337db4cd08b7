"""The ``spanline`` command: analyse runs from their telemetry.jsonl.

Errors are one line on stderr and a non-zero exit, never a traceback
(scripts can rely on the exit status).
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

import orjson

__all__ = ["main"]


class UsageError(Exception):
    """The command line itself is wrong."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage block) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _summary(args: argparse.Namespace) -> int:
    from spanline._runs import resolve_run
    from spanline.folds import summarize_file

    run = resolve_run(args.run, args.dir)
    summary = summarize_file(run.telemetry_path, report_problems=False)
    # Today the summary is always JSON: --json is accepted so scripts can say so
    # explicitly; a human-readable table will be the default without it.
    sys.stdout.write(orjson.dumps(summary.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    for problem in summary.skipped_lines:
        sys.stderr.write(f"skipped {problem['file']}:{problem['line']}: {problem['error']}\n")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="spanline", description="Analyse spanline runs.")
    parser.add_argument("--dir", default=".spanline", help="base directory (default .spanline)")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    summary = commands.add_parser("summary", help="fold a run into its summary (JSON)")
    summary.add_argument(
        "run",
        nargs="?",
        help="run id, 'latest' (default), or a path: a run directory or a base holding runs/",
    )
    summary.add_argument("--json", action="store_true", help="print JSON (the run_summary keys)")
    # --dir is accepted after the command too; SUPPRESS keeps the top-level value otherwise.
    summary.add_argument("--dir", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    summary.set_defaults(handler=_summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``spanline`` console script."""
    try:
        args = _parser().parse_args(argv)
        return int(args.handler(args))
    except UsageError as exc:
        sys.stderr.write(f"spanline: error: {exc} (see spanline --help)\n")
        return 2
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"spanline: error: {exc}\n")
        return 1
