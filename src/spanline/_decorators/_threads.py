"""Carrying the current span into threads (contextvars do not cross threads alone)."""

from __future__ import annotations

import concurrent.futures
import contextvars
import functools
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["ThreadPoolExecutor", "bind_context"]

T = TypeVar("T")


def bind_context(fn: Callable[..., T]) -> Callable[..., T]:
    """Wrap ``fn`` so it runs in a copy of the *current* context, wherever it is called.

    Use it for ``threading.Thread(target=bind_context(work))``: spans opened in
    the thread become children of the span that was current here. Each call
    gets its own copy, so the wrapper may run in several threads at once.
    """
    context = contextvars.copy_context()

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> T:
        return context.copy().run(fn, *args, **kwargs)

    return run


class ThreadPoolExecutor(concurrent.futures.ThreadPoolExecutor):
    """A drop-in ``ThreadPoolExecutor`` whose tasks see the submitter's current span."""

    def submit(
        self, fn: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        """Schedule ``fn`` in a copy of the caller's context (see :func:`bind_context`)."""
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)
