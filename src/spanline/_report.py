"""Reporting spanline's own problems on stderr (and spanline.log) through loguru.

loguru is imported on first use only, to keep ``import spanline`` fast.
"""

from __future__ import annotations

import traceback
from typing import Any


def report(message: str, *, exc: BaseException | None = None, level: str = "WARNING") -> None:
    """Log a clearly framed message about spanline itself; never raises."""
    try:
        from loguru import logger

        framed = f"spanline ── {message}"
        if exc is not None:
            # Our own traceback text, not loguru's "diagnose" one: that one prints
            # local variables, which may hold the very events we must not leak.
            details = "".join(traceback.format_exception(exc)).rstrip()
            # An exporter's exception may quote the events it choked on.
            from spanline._redact import redact_text

            details = redact_text(details)
            framed = f"{framed}\n{details}\n── end of spanline report"
        logger.opt(depth=1).log(level, framed)
    except Exception:  # reporting must never break the host program
        pass


def add_log_file(path: Any) -> int | None:
    """Send spanline's own messages to ``path`` (the run's spanline.log)."""
    try:
        from loguru import logger

        return logger.add(
            path,
            level="DEBUG",
            # loguru types the name Optional; left as is (no None check) so behaviour is unchanged.
            filter=lambda record: record["name"].startswith("spanline"),  # type: ignore[union-attr]
            enqueue=False,
            catch=True,
        )
    except Exception:
        return None


def remove_log_file(handler_id: int | None) -> None:
    """Stop writing spanline.log."""
    if handler_id is None:
        return
    try:
        from loguru import logger

        logger.remove(handler_id)
    except Exception:
        pass
