"""What the benchmarks that fold a generated run share: their command line."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any


def parse_run_args(
    description: str,
    argv: Sequence[str] | None,
    *,
    defaults: Mapping[str, Any],
    smoke: Mapping[str, Any],
    repeats_help: str,
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """``--events``, ``--repeats``, ``--smoke`` and ``--json``, with defaults filled in.

    Args:
        description: the script's one-line description.
        argv: the arguments (None: ``sys.argv``).
        defaults: values for a full run.
        smoke: values for ``--smoke`` (tiny, once: what the tests run).
        repeats_help: what ``--repeats`` counts, for ``--help``.
        extra: adds the script's own arguments.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--events", type=int, help="lines in the generated run (default 1,000,000)")
    parser.add_argument("--repeats", type=int, help=repeats_help)
    parser.add_argument("--smoke", action="store_true", help="a tiny run, once (for tests)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    for key, value in (smoke if args.smoke else defaults).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if min(args.events, args.repeats) < 1:
        parser.error("--events and --repeats must be at least 1")
    return args
