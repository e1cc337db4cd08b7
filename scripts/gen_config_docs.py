"""Regenerate the settings table of docs/configuration.md from spanline._session._settings.SETTINGS.

Usage::

    python scripts/gen_config_docs.py          # rewrite the table in place
    python scripts/gen_config_docs.py --check  # exit 1 if the page is out of date

The table sits between ``<!-- settings:start -->`` and ``<!-- settings:end -->``;
the rest of the page is written by hand and left alone.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from spanline._session._settings_doc import settings_markdown

PAGE = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
START = "<!-- settings:start -->"
END = "<!-- settings:end -->"


def render(page: str) -> str:
    """The page with the text between the markers replaced by the generated table.

    Args:
        page: the Markdown page, holding both markers once, in order.

    Returns:
        The updated page.

    Raises:
        ValueError: a marker is missing or they are out of order.
    """
    head, start, rest = page.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError(f"the page needs {START} and then {END}")
    return f"{head}{START}\n{settings_markdown()}{END}{tail}"


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite (or with ``--check`` verify) the page; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="only report an outdated page")
    parser.add_argument("--page", type=Path, default=PAGE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    current = args.page.read_text(encoding="utf-8")
    updated = render(current)
    if updated == current:
        return 0
    if args.check:
        print(f"{args.page}: settings table is out of date; run {sys.argv[0]}", file=sys.stderr)
        return 1
    args.page.write_text(updated, encoding="utf-8")
    print(f"rewrote the settings table of {args.page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
