"""Short human forms of durations, costs, counts and sizes, shared by the commands."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from spanline._runs._store import Run, read_run_start, summary_or_fold

__all__ = [
    "fmt_bytes",
    "fmt_cost",
    "fmt_count",
    "fmt_ms",
    "fmt_time",
    "fold_summary",
    "run_title",
    "to_json",
]


def fmt_ms(ms: Any) -> str:
    """``94ms``, ``1.8ms``, ``4.4s``, ``7.2m``, ``1.3h``; ``-`` when unknown."""
    if ms is None or isinstance(ms, bool) or not isinstance(ms, (int, float)):
        return "-"
    if ms < 10:
        return f"{ms:.1f}ms"
    if ms < 1000:
        return f"{ms:.0f}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def fmt_cost(usd: Any) -> str:
    """``$0.54``; four decimals under a cent; ``-`` when unknown."""
    if usd is None or isinstance(usd, bool) or not isinstance(usd, (int, float)):
        return "-"
    return f"${usd:.4f}" if 0 < usd < 0.01 else f"${usd:,.2f}"


def fmt_count(value: Any) -> str:
    """``1,405,169``; other values as text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"
    return "-" if value is None else str(value)


def fmt_bytes(size: int) -> str:
    """``812 B``, ``14.2 KB``, ``3.1 MB``, ``1.2 GB`` (powers of 1,024)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - the loop always returns


def fmt_time(ts: Any) -> str:
    """Epoch seconds as ``2025-12-18 13:41`` (UTC); ``-`` when unknown or out of range."""
    if ts is None or isinstance(ts, bool) or not isinstance(ts, (int, float)):
        return "-"
    try:
        return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, OSError, ValueError):  # a time no clock gives (a hostile log)
        return "-"


def run_title(run_start: dict[str, Any] | None, run_id: str | None) -> str:
    """What a run is about: its query, else its service name, else its id."""
    start = run_start or {}
    for key in ("query", "service_name"):
        value = start.get(key)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())
    return run_id or "-"


def fold_summary(run: Run, *, refold: bool = False) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """``run``'s summary as ``run_summary.json`` holds it, and the run's header.

    A finished run's stored summary is used when it covers the whole log and
    lists no skipped line (see :func:`~spanline._runs._store.summary_or_fold`);
    otherwise the log is folded, in one pass, with skipped lines reported on stderr.

    Args:
        run: the run.
        refold: fold the log even when the stored summary is current.

    Returns:
        The summary dict (the keys of ``run_summary.json``) and the run_start line.
    """
    return summary_or_fold(run, _fold, refold=refold), read_run_start(run)


def _fold(run: Run) -> dict[str, Any]:
    from spanline.cli._read import fold_run
    from spanline.folds import SummaryFold

    fold = SummaryFold(run_id=run.telemetry_path.parent.name)
    fold.note_problems(fold_run(run, fold))
    return fold.result().to_dict()


def to_json(value: Any) -> str:
    """Indented JSON text with a final newline."""
    import orjson

    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n"
    except TypeError:  # a value orjson refuses (an int over 64 bits): the slow path
        return json.dumps(value, indent=2, default=repr) + "\n"


def parse_size(text: str) -> int:
    """``500KB``, ``2MiB`` or ``1048576`` as a number of bytes (KB = 1000 bytes).

    Raises:
        click.BadParameter: not a size.
    """
    import click

    from spanline._runs._retention import parse_bytes

    try:
        return parse_bytes(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
