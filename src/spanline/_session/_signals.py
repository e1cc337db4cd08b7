"""SIGTERM and SIGINT: flush first, then whatever handler was there before.

Installed only from the main thread (Python's rule), never over ``SIG_IGN``
(a process that ignores a signal keeps ignoring it), and undone at shutdown
when our handler is still the one installed. Where it cannot be undone (off
the main thread), it turns transparent: it only passes the signal on.

Our SIGTERM handler stands in for an action the kernel took at once; Python runs
it on the main thread only, between two bytecodes. A SIGTERM whose C-level part
runs elsewhere (the kernel hands a process's signal to any thread that does not
block it) or just before the main thread enters a blocking call (``time.sleep``,
a lock) would wait for that call to return: a thread of ours makes sure it does
not (see :func:`watch_lost_signals`).
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


class _Wakeup:
    """The pipe Python's C-level handler writes every signal's number to
    (``signal.set_wakeup_fd``), in the process that made it."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.pid = os.getpid()
        self.read_fd, self.write_fd = read_fd, write_fd
        self.thread: threading.Thread | None = None  # the one reading it, once started


#: This process's wakeup pipe, while it is the one set (a fork child's is the parent's
#: until the child lets go of it: see _forget_inherited_wakeup).
_wakeup: _Wakeup | None = None
_fork_hook_installed = False


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
            if signal.getsignal(signal.SIGTERM) is not _in_place_of_default:
                _close_wakeup_pipe()  # the default action is back: nothing to watch for
        # Off the main thread ours stay installed, transparent: they pass it on (and
        # the wakeup pipe stays watched).
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
            # Only the main thread may set it: a session may start on another one.
            _open_wakeup_pipe()
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
    if handlers is not None:
        watch_lost_signals(handlers)
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
    :func:`_hold_sigterm` in (our handler then runs, in the child's main thread).

    The child first lets go of the parent's wakeup pipe: a SIGTERM of the child's
    written there would have the parent's thread signal the parent."""
    _forget_inherited_wakeup()
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
    """Make sure a SIGTERM reaches our handler, whichever thread the kernel gave it to.

    Python runs signal handlers on the main thread, between two bytecodes: what the
    C-level handler does is only to note the signal, and to wake the main thread
    from a blocking call when the signal interrupted that call. A SIGTERM whose
    C-level handler ran on another thread (the kernel hands a process's signal to
    any thread that does not block it), or on the main thread just after it last
    looked and just before it went to sleep (in ``time.sleep``, in a
    multiprocessing lock), leaves the main thread asleep: the process goes on until
    the call returns, for ever in a pool worker. The default action had ended it at
    once. The C-level handler also writes the signal to a wakeup pipe (opened on the
    main thread by :func:`install`); a thread of ours reads it and, while our handler
    has not started, signals the main thread again (which interrupts its call).

    Called where a session starts (any thread) and on the main thread of a
    multiprocessing fork child; does nothing when another wakeup file descriptor
    is set or when SIGTERM does not end the process by default.
    """
    entry = handlers.installed.get(signal.SIGTERM)
    if entry is None or entry[1] is not signal.SIG_DFL or not hasattr(signal, "pthread_kill"):
        return
    wakeup = _open_wakeup_pipe()
    if wakeup is None or wakeup.thread is not None:
        return
    main = threading.main_thread().ident
    assert main is not None
    thread = threading.Thread(
        target=_wake_main, args=(wakeup.read_fd, main), name="spanline-signals", daemon=True
    )
    try:
        thread.start()
    except RuntimeError:  # no thread to be had (interpreter shutting down)
        return
    wakeup.thread = thread


def _open_wakeup_pipe() -> _Wakeup | None:
    """This process's wakeup pipe: made and set now on the main thread when no other
    wakeup file descriptor is set (None elsewhere, and when another one is)."""
    global _wakeup, _fork_hook_installed
    wakeup = _wakeup
    if wakeup is not None and wakeup.pid == os.getpid():
        return wakeup
    _forget_inherited_wakeup()
    if threading.current_thread() is not threading.main_thread():
        return None
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
        return None
    _wakeup = _Wakeup(read_fd, write_fd)
    if not _fork_hook_installed:
        # Also where no session holds SIGTERM over the fork (then no thread reads it).
        from spanline._writer._fork import around_fork

        around_fork(_nothing_before_fork, _after_fork)
        _fork_hook_installed = True
    return _wakeup


def _nothing_before_fork() -> None:
    return None


def _after_fork(_: None) -> None:
    """After a fork, in the parent (nothing to do) and in the child."""
    _forget_inherited_wakeup()


def _unset_wakeup_fd(write_fd: int) -> None:
    """Unset the wakeup fd when it is ``write_fd`` (put back whatever else is set)."""
    try:
        current = signal.set_wakeup_fd(-1)
    except (ValueError, OSError):
        return
    if current not in (-1, write_fd):
        signal.set_wakeup_fd(current)


def _forget_inherited_wakeup() -> None:
    """In a fork child: let go of the parent's wakeup pipe (its thread is the parent's)."""
    global _wakeup
    wakeup = _wakeup
    if wakeup is None or wakeup.pid == os.getpid():
        return
    _wakeup = None
    if threading.current_thread() is threading.main_thread():  # the forking thread, now
        _unset_wakeup_fd(wakeup.write_fd)
    for fd in (wakeup.read_fd, wakeup.write_fd):
        try:
            os.close(fd)
        except OSError:
            pass


def _close_wakeup_pipe() -> None:
    """On the main thread, once our SIGTERM handler is gone: unset the wakeup pipe and
    close its end we write to; its thread, if any, then reads the end of the pipe,
    closes the other one and ends (shutdown leaves none of spanline's threads)."""
    global _wakeup
    wakeup = _wakeup
    if wakeup is None or wakeup.pid != os.getpid():
        return
    _wakeup = None
    _unset_wakeup_fd(wakeup.write_fd)
    try:  # a zero (no signal's number) tells the thread to end, whoever else holds the
        os.write(wakeup.write_fd, b"\0")  # pipe (a fork child not yet set up, say)
    except OSError:
        pass
    os.close(wakeup.write_fd)
    if wakeup.thread is None:
        os.close(wakeup.read_fd)
    elif wakeup.thread is not threading.current_thread():
        wakeup.thread.join(5.0)


def _wake_main(read_fd: int, main: int) -> None:
    from spanline._hotpath._runtime import mark_internal_thread

    mark_internal_thread()  # also blocks SIGTERM and SIGINT on this thread
    while True:
        try:
            data = os.read(read_fd, 64)
        except OSError:
            return
        if not data or 0 in data:  # our handler is gone: so is this end
            os.close(read_fd)
            return
        if signal.SIGTERM not in data:
            continue
        seen = _handled
        for _ in range(100):
            threading.Event().wait(0.05)
            if _handled != seen:
                break  # the handler runs: it takes it from here
            if signal.getsignal(signal.SIGTERM) is not _in_place_of_default:
                break  # not ours any more: whoever handles it now has it
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
