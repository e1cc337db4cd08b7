"""SIGTERM and SIGINT: flush first, then whatever handler was there before.

Installed only from the main thread (Python's rule), never over ``SIG_IGN``
(a process that ignores a signal keeps ignoring it), and undone at shutdown
when our handler is still the one installed.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["SignalHandlers", "install"]

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class SignalHandlers:
    """The handlers spanline installed, and the ones they replaced."""

    def __init__(self) -> None:
        self.installed: dict[int, tuple[Any, Any]] = {}  # signal -> (ours, previous)

    def restore(self) -> None:
        """Put the previous handlers back where ours are still installed."""
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, (ours, previous) in self.installed.items():
            try:
                if signal.getsignal(signum) is ours:
                    signal.signal(signum, previous)
            except (ValueError, OSError):
                pass
        self.installed.clear()


def install(on_signal: Callable[[], Any], on_fatal: Callable[[], Any]) -> SignalHandlers | None:
    """Install the handlers.

    Args:
        on_signal: called first when a signal arrives (flush what is queued).
        on_fatal: called before the default action ends the process (shut
            tracing down, write the summary), since ``atexit`` will not run then.

    Returns:
        What to restore at shutdown, or None off the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    handlers = SignalHandlers()
    for signum in _SIGNALS:
        previous = signal.getsignal(signum)
        if previous is signal.SIG_IGN or previous is None:  # None: set outside Python
            continue
        ours = _handler(previous, on_signal, on_fatal)
        try:
            signal.signal(signum, ours)
        except (ValueError, OSError):
            continue
        handlers.installed[signum] = (ours, previous)
    return handlers


def _handler(
    previous: Any, on_signal: Callable[[], Any], on_fatal: Callable[[], Any]
) -> Callable[[int, FrameType | None], Any]:
    def handle(signum: int, frame: FrameType | None) -> Any:
        try:
            on_signal()
        except Exception:  # never let tracing stand between a process and its signal
            pass
        if callable(previous):
            return previous(signum, frame)
        # The default action ends the process without atexit: finish the run first.
        try:
            on_fatal()
        except Exception:
            pass
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return None

    return handle
