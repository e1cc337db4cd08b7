"""Fork handling in one place: each object registers its own re-init hook.

As the OpenTelemetry SDK does, hooks are held through weak references, so a
shut-down pipeline or session is simply skipped; one ``os.register_at_fork``
is installed for all of them, on first use.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["at_fork"]

_before: list[weakref.WeakMethod[Callable[[], Any]]] = []
_after_in_child: list[weakref.WeakMethod[Callable[[], Any]]] = []
_installed = False


def at_fork(after_in_child: Callable[[], Any], before: Callable[[], Any] | None = None) -> None:
    """Call the bound method ``after_in_child`` in every forked child (and ``before``
    in the parent just before the fork) for as long as its object lives.

    Args:
        after_in_child: a bound method re-creating what a child must not share
            (locks, threads, file descriptions).
        before: a bound method to run in the parent before forking.
    """
    global _installed
    _after_in_child.append(weakref.WeakMethod(after_in_child))
    if before is not None:
        _before.append(weakref.WeakMethod(before))
    if not _installed and hasattr(os, "register_at_fork"):
        os.register_at_fork(before=_run_before, after_in_child=_run_after_in_child)
        _installed = True


def _call_live(hooks: list[weakref.WeakMethod[Callable[[], Any]]]) -> None:
    hooks[:] = [ref for ref in hooks if ref() is not None]  # forget dead objects
    for ref in list(hooks):
        method = ref()
        if method is not None:
            method()


def _run_before() -> None:
    _call_live(_before)


def _run_after_in_child() -> None:
    _call_live(_after_in_child)
