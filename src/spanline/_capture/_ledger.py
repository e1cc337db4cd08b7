"""Usage counted once: which span keeps an LLM call's usage when two spans saw it.

Two spans see the same LLM call when a framework's OpenTelemetry span (read through
the bridge) wraps an SDK call that ``spanline.instrument()`` traces, or the other way
round, or when a framework builds its span after the call (on a thread) with the same
response id. The rule: the innermost span that saw the response keeps the usage; two
spans that are not nested are one call when they share ``gen_ai.response.id``, and the
one written second is the duplicate (spans of one source are never each other's).
Without a shared response id both count, and one warning names both sources.

The decorators (spanline's SDK spans) and the bridge share this ledger; it lives below
both. Nothing here runs for a span that is not an LLM call with usage.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, Final

from spanline._capture._report import report
from spanline._hotpath._runtime import RUNTIME

__all__ = ["child_usage", "claim", "kept_without_id", "note_child", "reset"]

#: Response ids remembered (the oldest are forgotten past it: a duplicate is written
#: within moments of the span it repeats).
_MAX: Final = 10_000

_lock = threading.Lock()
#: gen_ai.response.id -> (span id of the span that kept the usage, its source).
_claims: dict[str, tuple[int, str]] = {}
#: span id of an open bridged span -> an LLM span below it that may record usage.
_children: dict[int, Any] = {}
#: Sources that kept usage, and those of them that wrote a call without a response id.
_sources: set[str] = set()
_without_id: set[str] = set()
_warned: set[frozenset[str]] = set()
#: The pipeline (the run in this process) the tables above belong to.
_run: weakref.ref[Any] | None = None


def _this_run() -> None:
    """Forget the tables of an earlier run (called under the lock)."""
    global _run
    pipeline = RUNTIME.pipeline
    if pipeline is None or (_run is not None and _run() is pipeline):
        return
    _clear()
    _run = weakref.ref(pipeline)


def _clear() -> None:
    _claims.clear()
    _children.clear()
    _sources.clear()
    _without_id.clear()
    _warned.clear()


def _bounded(table: dict[Any, Any]) -> None:
    while len(table) > _MAX:
        del table[next(iter(table))]


def claim(response_id: Any, span_id: int, source: str) -> int | None:
    """The span ``span_id`` records usage for the call ``response_id``.

    Args:
        response_id: the call's ``gen_ai.response.id`` (anything else claims nothing).
        span_id: the span that would keep the usage.
        source: what wrote it, for the warning (e.g. ``spanline.instrument('openai')``).

    Returns:
        The span id that already keeps this call's usage (this span is then its
        duplicate), or None when this span keeps it.
    """
    with _lock:
        _this_run()
        _sources.add(source)
        if not isinstance(response_id, str) or not response_id:
            _without_id.add(source)
            _maybe_warn(source)
            return None
        kept = _claims.get(response_id)
        if kept is not None:
            # Another source saw this call: a duplicate. The same source twice is two
            # calls (as far as it can tell), both counted.
            if kept[0] != span_id and kept[1] != source:
                return kept[0]
            return None
        _claims[response_id] = (span_id, source)
        _bounded(_claims)
        _maybe_warn(source)
        return None


def kept_without_id(source: str) -> None:
    """A span of ``source`` kept usage with no response id (see :func:`claim`)."""
    claim(None, 0, source)


def _maybe_warn(source: str) -> None:
    """One warning per pair of sources that both kept usage, one of them without ids."""
    for other in _sources:
        if other == source or not (_without_id & {source, other}):
            continue
        pair = frozenset((source, other))
        if pair in _warned:
            continue
        _warned.add(pair)
        first, second = sorted(pair)
        report(
            f"LLM usage is recorded by both {first} and {second}, and calls of"
            f" {' and '.join(sorted(_without_id & pair))} carry no gen_ai.response.id:"
            " a call both saw without being nested is counted twice."
        )


def note_child(parent_id: int, child: Any) -> None:
    """An LLM span (``child``) opened inside the open bridged span ``parent_id``."""
    with _lock:
        _this_run()
        _children[parent_id] = child
        _bounded(_children)


def child_usage(parent_id: int) -> Any:
    """The LLM span noted below ``parent_id`` (forgotten now), or None."""
    with _lock:
        return _children.pop(parent_id, None)


def reset() -> None:
    """Forget every claim and warning."""
    with _lock:
        _clear()
