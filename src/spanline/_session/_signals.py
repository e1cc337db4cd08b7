"""SIGTERM and SIGINT: flush first, then whatever handler was there before.

Installed only from the main thread (Python's rule), never over ``SIG_IGN``
(a process that ignores a signal keeps ignoring it), and undone at shutdown
when our handler is still the one installed. Where it cannot be undone (off
the main thread), it turns transparent: it only passes the signal on.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = [
    "SignalHandlers",
    "exit_signal",
    "install",
    "install_early",
    "session_handlers",
    "watch_lost_signals",
]

_SIGNALS = (signal.SIGTERM, signal.SIGINT)

#: The name of the signal ending the process ("SIGTERM"), once one has arrived
#: and was not handled by a handler that let the program carry on.
_exiting: str | None = None


#: How many times one of our handlers started running (see watch_lost_signals).
_handled = 0

#: Our SIGTERM handler that took the place of the default action (the latest one
#: installed), which a fork child must not lose a signal to (see _hold_sigterm).
_in_place_of_default: Callable[[int, FrameType | None], Any] | None = None


def exit_signal() -> str | None:
    """The signal this process is exiting by ("SIGTERM", "SIGINT"), or None."""
    return _exiting


class SignalHandlers:
    """The handlers spanline installed, and the ones they replaced."""

    def __init__(self) -> None:
        self.installed: dict[int, tuple[Any, Any]] = {}  # signal -> (ours, previous)
        #: False once restored: a handler left in place only passes signals on.
        self.active = True
        #: True while tracing shuts down: a signal then waits until it is done.
        self.holding = False
        self.held: int | None = None

    def hold(self) -> None:
        """Keep signals from interrupting the shutdown that begins now.

        A SIGTERM arriving meanwhile (``multiprocessing.Pool.terminate()`` sends one
        to workers that are already finishing) would otherwise end the process
        halfway through writing its last events; it is delivered by
        :meth:`restore` instead.
        """
        self.holding = True

    def is_installed(self) -> bool:
        """True while at least one of our handlers is the one installed."""
        try:
            return any(signal.getsignal(s) is ours for s, (ours, _) in self.installed.items())
        except (ValueError, OSError):
            return False

    def restore(self) -> None:
        """Put the previous handlers back where ours are still installed, then
        deliver a signal held during the shutdown to them."""
        self.active = False
        self.holding = False
        held, self.held = self.held, None
        if threading.current_thread() is threading.main_thread():
            for signum, (ours, previous) in self.installed.items():
                try:
                    if signal.getsignal(signum) is ours:
                        signal.signal(signum, previous)
                except (ValueError, OSError):
                    pass
            self.installed.clear()
        # Off the main thread ours stay installed, transparent: they pass it on.
        if held is not None:
            signal.raise_signal(held)


def install(on_signal: Callable[[], Any], on_fatal: Callable[[], Any]) -> SignalHandlers | None:
    """Install the handlers.

    Args:
        on_signal: called first when a signal arrives (flush what is queued).
        on_fatal: called before the default action ends the process (shut
            tracing down, write the summary), since ``atexit`` will not run then.

    Returns:
        What to restore at shutdown, or None off the main thread.
    """
    global _in_place_of_default
    if threading.current_thread() is not threading.main_thread():
        return None
    handlers = SignalHandlers()
    for signum in _SIGNALS:
        previous = signal.getsignal(signum)
        if previous is signal.SIG_IGN or previous is None:  # None: set outside Python
            continue
        ours = _handler(handlers, previous, on_signal, on_fatal)
        try:
            signal.signal(signum, ours)
        except (ValueError, OSError):
            continue
        handlers.installed[signum] = (ours, previous)
        if signum == signal.SIGTERM and previous is signal.SIG_DFL:
            _in_place_of_default = ours
    return handlers


def session_handlers(
    early: SignalHandlers | None,
    wanted: bool,
    on_signal: Callable[[], Any],
    on_fatal: Callable[[], Any],
) -> SignalHandlers | None:
    """A session's handlers: ``early`` (installed at import) when still in place, else
    new ones (possible on the main thread only); None when not ``wanted``."""
    if early is not None and not (wanted and early.is_installed()):
        early.restore()  # opted out after all: transparent where it cannot be undone
        early = None
    if not wanted:
        return None
    handlers = early if early is not None else install(on_signal, on_fatal)
    if handlers is not None and hasattr(signal, "pthread_sigmask"):
        from spanline._writer._fork import around_fork

        around_fork(_hold_sigterm, _release_sigterm)
    return handlers


def _hold_sigterm() -> bool:
    """Before a fork: keep a SIGTERM for the child pending until the child is set up.

    Without spanline a SIGTERM kills a fork child at any moment. Our handler makes
    it one Python must run, and Python forgets a signal that lands in the child
    before the interpreter has re-initialised after the fork (it clears the flags
    of signals not yet handled, so that the parent's are not handled twice). A
    ``multiprocessing.Pool`` worker that its ``terminate()`` reaches that early
    then sleeps in the pool's lock for ever, and ``Pool.__exit__`` with it.
    Blocked in the forking thread, the signal waits in the child until
    :func:`_release_sigterm` runs, after spanline's after-fork hooks.

    Returns:
        Whether SIGTERM was blocked here (it stays as the host had it otherwise).
    """
    if _in_place_of_default is None or signal.getsignal(signal.SIGTERM) is not _in_place_of_default:
        return False
    try:
        before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    except (ValueError, OSError):
        return False
    return signal.SIGTERM not in before


def _release_sigterm(blocked: bool) -> None:
    """After the fork, in the parent and in the set-up child: let a SIGTERM held by
    :func:`_hold_sigterm` in (our handler then runs, in the child's main thread)."""
    if blocked:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


def _handler(
    handlers: SignalHandlers,
    previous: Any,
    on_signal: Callable[[], Any],
    on_fatal: Callable[[], Any],
) -> Callable[[int, FrameType | None], Any]:
    def handle(signum: int, frame: FrameType | None) -> Any:
        global _exiting, _handled
        _handled += 1
        if handlers.active:
            _exiting = signal.Signals(signum).name  # why open spans are abandoned
            if handlers.holding:
                handlers.held = signum  # delivered once the shutdown is done
                return None
            try:
                on_signal()
            except Exception:  # never let tracing stand between a process and its signal
                pass
        if callable(previous):
            # A KeyboardInterrupt raised here leaves the signal as the exit reason.
            result = previous(signum, frame)
            _exiting = None  # the program's own handler chose to carry on
            return result
        # The default action ends the process without atexit: finish the run first.
        if handlers.active:
            try:
                on_fatal()
            except Exception:
                pass
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return None

    return handle


def watch_lost_signals(handlers: SignalHandlers) -> None:
    """Make sure a SIGTERM reaches our handler in a multiprocessing fork child.

    Python runs signal handlers on the main thread. A pool worker's main thread
    sleeps in a multiprocessing lock, and a SIGTERM that lands just as it goes
    back to sleep there is taken by the C-level handler but never wakes it: the
    worker then hangs, and ``Pool.__exit__`` with it. The signal is also written
    to a wakeup pipe; a thread of ours reads it and, while our handler has not
    started, signals the main thread again (which interrupts its wait).

    Called on the main thread of the child; does nothing when another wakeup
    file descriptor is set or when SIGTERM does not end the process by default.
    """
    entry = handlers.installed.get(signal.SIGTERM)
    if entry is None or entry[1] is not signal.SIG_DFL or not hasattr(signal, "pthread_kill"):
        return
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    try:
        previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    except (ValueError, OSError):
        previous = None
    if previous != -1:  # someone else's (asyncio's): leave it alone
        if previous is not None:
            signal.set_wakeup_fd(previous)
        os.close(read_fd)
        os.close(write_fd)
        return
    main = threading.main_thread().ident
    assert main is not None
    thread = threading.Thread(
        target=_wake_main, args=(read_fd, main), name="spanline-signals", daemon=True
    )
    thread.start()


def _wake_main(read_fd: int, main: int) -> None:
    from spanline._hotpath._runtime import mark_internal_thread

    mark_internal_thread()  # also blocks SIGTERM and SIGINT on this thread
    while True:
        try:
            data = os.read(read_fd, 64)
        except OSError:
            return
        if not data:
            return
        if signal.SIGTERM not in data:
            continue
        seen = _handled
        for _ in range(100):
            threading.Event().wait(0.05)
            if _handled != seen:
                break  # the handler runs: it takes it from here
            try:
                signal.pthread_kill(main, signal.SIGTERM)
            except (ProcessLookupError, OSError):
                return


def install_early(
    on_signal: Callable[[], Any], on_fatal: Callable[[], Any]
) -> SignalHandlers | None:
    """With ``SPANLINE_ENABLED`` set, tracing starts at the first span, possibly on a
    worker thread, where Python refuses signal handlers: install them at import
    (normally on the main thread). Until a session starts they flush nothing and
    pass every signal on."""
    from spanline._session._settings import variable_flag

    if not variable_flag("enabled") or not variable_flag("handle_signals"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    return install(on_signal, on_fatal)
