"""The ``spanline`` command: analyse runs from their telemetry.jsonl."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

__all__ = ["main"]


def resolve_run(target: str | None, base: str) -> Path:
    """Find a run's telemetry.jsonl from a run id, a run directory or the latest run.

    Raises:
        FileNotFoundError: nothing matches.
    """
    from spanline._run import read_latest

    if target:
        candidate = Path(target)
        for path in (candidate, candidate / "telemetry.jsonl"):
            if path.is_file():
                return path
        by_id = Path(base) / "runs" / target / "telemetry.jsonl"
        if by_id.is_file():
            return by_id
        raise FileNotFoundError(f"no run {target!r} (looked in {target} and {by_id.parent})")
    latest = read_latest(Path(base))
    if latest is None:
        raise FileNotFoundError(f"no runs under {Path(base) / 'runs'}")
    return Path(base) / "runs" / latest / "telemetry.jsonl"


def _summary(args: argparse.Namespace) -> int:
    from spanline.folds.summary import summarize_file

    path = resolve_run(args.run, args.dir)
    summary = summarize_file(path)
    sys.stdout.write(orjson.dumps(summary.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    for problem in summary.skipped_lines:
        sys.stderr.write(f"skipped {problem['file']}:{problem['line']}: {problem['error']}\n")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spanline", description=__doc__)
    parser.add_argument("--dir", default=".spanline", help="base directory (default .spanline)")
    commands = parser.add_subparsers(dest="command", required=True)
    summary = commands.add_parser("summary", help="fold a run into its summary (JSON)")
    summary.add_argument("run", nargs="?", help="run id or directory (default: latest)")
    summary.set_defaults(handler=_summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``spanline`` console script."""
    args = _parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (FileNotFoundError, OSError, ValueError) as exc:
        sys.stderr.write(f"spanline: error: {exc}\n")
        return 2
