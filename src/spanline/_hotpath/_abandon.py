"""Spans their owners never end: named while open, ended at shutdown as ``abandoned``.

Shutdown takes each span still in the pipeline's open-span registry out of it and
writes its end for the owner; an owner that ends it later finds it ended
(:data:`~spanline._hotpath._tracer.ABANDONED`) and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spanline._hotpath._runtime import Pipeline
from spanline._hotpath._span_data import ABANDONED
from spanline._hotpath._tracer import Span, monotonic
from spanline.schema import END

__all__ = ["NOT_EXHAUSTED", "abandon_open_spans", "hold_open"]

#: Why a generator's or a returned stream's span is still open at shutdown.
NOT_EXHAUSTED = "generator not exhausted"


def hold_open(span: Span, reason: str) -> None:
    """Name why ``span`` would be left open at shutdown (a generator not exhausted)."""
    registry = span._pipeline.open_spans
    if span in registry:
        registry[span] = reason


def abandon_open_spans(pipeline: Pipeline, reason: Callable[[Any], str]) -> int:
    """End every span still open in this process (at shutdown).

    Args:
        pipeline: the pipeline the spans were opened in.
        reason: turns a registry value (the starting thread's ident, or a reason
            given by :func:`hold_open`) into the reason written in the span_end.

    Returns:
        How many spans were ended.
    """
    registry = pipeline.open_spans
    ended = 0
    for span in registry.copy():  # one C-level copy: other threads may end spans meanwhile
        owner = registry.pop(span, None)
        if owner is None:
            continue  # its owner ended it after all
        _end_abandoned(span, reason(owner))
        ended += 1
    return ended


def _end_abandoned(span: Span, reason: str) -> None:
    """End ``span`` for an owner that never will: error ``abandoned`` with ``reason``.

    Called after the span was taken out of the open-span registry.
    """
    span._state = ABANDONED
    duration = monotonic() - span._t0
    # dict() copies in one step: the owner's thread may still be setting attributes.
    attributes = dict(span._end_attributes) if span._end_attributes else None
    counters = dict(span._counters) if span._counters else None
    span._pipeline.emit(
        (
            END,
            span._id,
            "error",
            duration,
            span._ts + duration,
            (("type", "abandoned"), ("message", reason)),
            tuple(attributes.items()) if attributes else None,
            tuple(counters.items()) if counters else None,
        )
    )
