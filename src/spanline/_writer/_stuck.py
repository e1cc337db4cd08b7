"""A writer that stops moving: waiting for it by its progress, and giving up on it at
shutdown without writing or losing anything twice."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spanline._writer._pipeline import Pipeline

__all__ = ["give_up", "join_writer"]


def join_writer(
    thread: threading.Thread, timeout: float, progress: Callable[[], tuple[int, int]]
) -> None:
    """Wait for the writer to finish; give up after ``timeout`` s without progress.

    Progress is counted per record converted, not per batch written: a batch of
    slow records (or a loaded machine) may take longer than ``timeout`` while
    every record in it moves on.
    """
    seen: tuple[int, int] | None = (
        None  # the first look always counts as progress: the writer had to wake up
    )
    while True:
        thread.join(timeout)
        now = progress()
        if not thread.is_alive() or now == seen:
            return
        seen = now


def give_up(pipeline: Pipeline) -> int:
    """Stop waiting for a stuck writer: what it has not written is counted as dropped,
    and it writes none of that if it moves again (never both, never neither).

    Returns:
        The number of events counted as dropped.
    """
    with pipeline._count_lock:
        pipeline._given_up = True
    # Take the queue's records away (the hot path adds none: the bound is 0 now).
    # The writer may still take some: those join what it holds, counted below.
    unwritten, markers = 0, []
    popleft = pipeline.queue.popleft
    while True:
        try:
            item = popleft()
        except IndexError:
            break
        if item.__class__ is tuple:
            unwritten += 1
        else:
            markers.append(item)
    with pipeline._count_lock:  # the writer settles what it holds under this lock
        unwritten += len(pipeline._holding) - pipeline._holding_counted
        pipeline._holding_counted = len(pipeline._holding)
        pipeline.dropped += unwritten
    pipeline.queue.extend(markers)  # the stop marker: a writer that moves again ends
    return unwritten
