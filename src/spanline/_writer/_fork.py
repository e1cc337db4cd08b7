"""Fork handling in one place: each object registers its own re-init hooks.

As the OpenTelemetry SDK does, hooks are held through weak references, so a
shut-down pipeline or session is simply skipped; one ``os.register_at_fork``
is installed for all of them, on first use. Children that multiprocessing forks
(pool workers, ``Process`` with the fork method) end with ``os._exit()``, which
skips ``atexit``: hooks for them run through multiprocessing's own after-fork
registry, which this module joins once, for all of them. A hook may also wrap
the fork itself (``around_fork``): the session keeps a SIGTERM meant for the
child pending until the child is set up.
"""

from __future__ import annotations

import os
import sys
import weakref
from collections.abc import Callable
from typing import Any

from spanline._lines._encode import THREAD_IMPORTS

__all__ = ["around_fork", "at_fork", "before_fork"]

_after_in_child: list[weakref.WeakMethod[Callable[[], Any]]] = []
_in_multiprocessing_child: list[weakref.WeakMethod[Callable[[], Any]]] = []
_before: list[Callable[[], Any]] = []
_around: list[tuple[Callable[[], Any], Callable[[Any], Any]]] = []
#: Each ``around_fork`` hook's ``after``, with what its ``before`` returned for the fork under way.
_pending_after: list[tuple[Callable[[Any], Any], Any]] = []
#: Whether this fork holds THREAD_IMPORTS (taken last before it, let go after it).
_holding = False
_installed = False
_joined_multiprocessing = False


def at_fork(
    after_in_child: Callable[[], Any],
    *,
    in_multiprocessing_child: Callable[[], Any] | None = None,
) -> None:
    """Call the bound method ``after_in_child`` in every forked child for as long as
    its object lives.

    Args:
        after_in_child: a bound method re-creating what a child must not share
            (locks, threads, file descriptions); it runs first, in every child.
        in_multiprocessing_child: a bound method to run in a child multiprocessing
            forked, once multiprocessing has set the child up (a finalizer that
            flushes, since such a child skips ``atexit``).
    """
    _after_in_child.append(weakref.WeakMethod(after_in_child))
    if in_multiprocessing_child is not None:
        _in_multiprocessing_child.append(weakref.WeakMethod(in_multiprocessing_child))
    _install()


def before_fork(hook: Callable[[], Any]) -> None:
    """Call ``hook`` in the forking thread before every fork (a module-level function:
    held for the life of the process), e.g. to wait out imports another thread is in
    the middle of, whose locks the child would inherit held."""
    if hook not in _before:
        _before.append(hook)
    _install()


def around_fork(before: Callable[[], Any], after: Callable[[Any], Any]) -> None:
    """Call ``before`` in the forking thread as the last of spanline's steps before every
    fork, and ``after`` with what it returned once the fork is done: in the parent at
    once, in the child after every ``after_in_child`` hook (module-level functions,
    held for the life of the process), e.g. to keep a signal pending over the fork."""
    if all(entry != (before, after) for entry in _around):
        _around.append((before, after))
    _install()


def _install() -> None:
    global _installed
    if not _installed and hasattr(os, "register_at_fork"):
        os.register_at_fork(
            before=_run_before,
            after_in_parent=_run_after_in_parent,
            after_in_child=_run_after_in_child,
        )
        _installed = True


def _run_before() -> None:
    global _holding
    for hook in list(_before):
        hook()
    _join_multiprocessing()
    # Held through the fork itself, not only waited for: in the gap between a wait and
    # the fork another of spanline's threads could start an import, and the child would
    # inherit that thread's locks held. The timeout keeps a stuck thread from stopping
    # the host's fork.
    _holding = THREAD_IMPORTS.acquire(timeout=10.0)
    _pending_after[:] = [(after, before()) for before, after in _around]


def _let_go() -> None:
    global _holding
    if _holding:  # the forking thread took it: in the child, that thread lives on
        _holding = False
        THREAD_IMPORTS.release()


def _call_live(hooks: list[weakref.WeakMethod[Callable[[], Any]]]) -> None:
    hooks[:] = [ref for ref in hooks if ref() is not None]  # forget dead objects
    for ref in list(hooks):
        method = ref()
        if method is not None:
            method()


def _run_around_after() -> None:
    pending = _pending_after[:]
    _pending_after.clear()
    for after, token in pending:
        after(token)


def _run_after_in_parent() -> None:
    _let_go()
    _run_around_after()


def _run_after_in_child() -> None:
    try:
        _let_go()
        _call_live(_after_in_child)
    finally:  # last: what waited over the fork finds the child set up
        _run_around_after()


class _MultiprocessingHooks:
    """What multiprocessing's after-fork registry holds (weakly; this module keeps it)."""

    def run(self) -> None:
        _call_live(_in_multiprocessing_child)


_MULTIPROCESSING_HOOKS = _MultiprocessingHooks()


def _join_multiprocessing() -> None:
    """Before a fork: once multiprocessing is loaded, join its after-fork registry (it
    tells its own fork children apart, and keeps the entry for every later fork)."""
    global _joined_multiprocessing
    if _joined_multiprocessing or not _in_multiprocessing_child:
        return
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        util.register_after_fork(_MULTIPROCESSING_HOOKS, _MultiprocessingHooks.run)
        _joined_multiprocessing = True
