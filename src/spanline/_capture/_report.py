"""Reporting spanline's own problems on stderr (and spanline.log) through loguru.

loguru costs ~30 ms to import, so it is imported when there is first something
to report, never by ``import spanline`` or ``configure_observability()``; log
files registered before that are attached then.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

#: Log files by token: a path not attached yet, or loguru's handler id.
_files: dict[int, Any] = {}
_attached: dict[int, int] = {}
_tokens = itertools.count(1)
_lock = threading.Lock()


def _attach_pending(logger: Any) -> None:
    with _lock:
        for token, path in list(_files.items()):
            if token not in _attached:
                _attached[token] = logger.add(
                    path,
                    level="DEBUG",
                    # loguru types the name Optional: str() keeps the check total.
                    filter=lambda record: str(record["name"]).startswith("spanline"),
                    enqueue=False,
                    # Not caught by loguru: a full disk would print its multi-line
                    # "Logging error" block for every message; report() swallows it.
                    catch=False,
                )


def report(message: str, *, exc: BaseException | None = None, level: str = "WARNING") -> None:
    """Log a clearly framed, redacted message about spanline itself; never raises.

    Args:
        message: One line saying what happened.
        exc: An exception whose traceback follows the line, framed.
        level: loguru's level name.
    """
    try:
        from loguru import logger

        if len(_attached) < len(_files):
            _attach_pending(logger)
        from spanline._capture._redact import redact_text

        framed = f"spanline ── {message}"
        if exc is not None:
            # Our own traceback text, not loguru's "diagnose" one: that one prints
            # local variables, which may hold the very events we must not leak.
            import traceback  # loaded by the first report of an error only

            details = "".join(traceback.format_exception(exc)).rstrip()
            framed = f"{framed}\n{details}\n── end of spanline report"
        # Everything is redacted, the message too: it may quote a path, a setting, an
        # exporter's name, and an exporter's exception may quote the events it choked on.
        logger.opt(depth=1).log(level, redact_text(framed))
    except Exception:  # reporting must never break the host program
        pass


def add_log_file(path: Any) -> int | None:
    """Send spanline's own messages to ``path`` (the run's spanline.log) from now on.

    The file is created at once; loguru is attached when there is a first message.

    Returns:
        A token for :func:`remove_log_file`, or None if the file cannot be created.
    """
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError:
        return None
    token = next(_tokens)
    with _lock:
        _files[token] = path
    return token


def remove_log_file(token: int | None) -> None:
    """Stop writing that spanline.log."""
    if token is None:
        return
    with _lock:
        _files.pop(token, None)
        handler = _attached.pop(token, None)
    if handler is None:
        return
    try:
        from loguru import logger

        logger.remove(handler)
    except Exception:
        pass
