"""Subtree sums: each span's nearest agent (its context), stand-ins for spans referred to
before their start line, and the sums up the agent tree that ``result()`` adds."""

from __future__ import annotations

from typing import Any

from spanline.folds._summary_base import (
    NEVER,
    UP,
    Node,
)
from spanline.folds._summary_state import _FoldState


class _Tree(_FoldState):
    """Part of :class:`~spanline.folds.summary.SummaryFold` (see its module)."""

    def _open_at(self, index: int) -> int:
        """The nearest context at or above ``index`` that has not ended. Ended stays
        ended, so the answer is kept for every context passed: lines under a deep
        chain of ended agents cost constant time each, not the chain's depth."""
        ended, past, ctxs = self._ended, self._past, self._ctx
        passed = []
        while index >= 0 and index in ended:
            passed.append(index)
            index = past.get(index, ctxs[index][UP])
        for each in passed:
            past[each] = index
        return index

    def _hold(self, index: int, up: int) -> None:
        """Link a context under the nearest context at or above ``up`` still open."""
        up = self._open_at(up)
        if up >= 0:
            self._kids.setdefault(up, set()).add(index)
            self._holder[index] = up

    def _new_ctx(self, up: int) -> int:
        self._ctx.append([0, 0, 0.0, up, NEVER])
        index = len(self._ctx) - 1
        self._hold(index, up)
        return index

    def _stand_in(self, span_id: str) -> int:
        """The accumulator of a span not started yet (created on first need)."""
        index = self._waiting.get(span_id)
        if index is None:
            index = self._waiting[span_id] = self._new_ctx(-1)
        return index

    def _orphan(self, span_id: str, parent: str) -> int:
        """A span whose parent has not started (yet, or in this run): a root for now."""
        self._roots[span_id] = None
        self._orphans.setdefault(parent, []).append(span_id)
        return self._stand_in(parent)

    def _first_child(self, span_id: str, parent: str) -> tuple[Node, bool]:
        """The (parent, context) pair of a span whose parent has no child yet, and
        whether the span is a root for now (its parent has not started)."""
        node = self._nodes.get(parent)
        if node is None:
            return (parent, self._orphan(span_id, parent)), True
        pair = self._kin[parent] = (parent, node[1])
        return pair, False

    def _subtree_sums(self) -> list[list[Any]]:
        """Tokens, tool uses and cost of each context's whole subtree, leaves first."""
        ctxs = self._ctx
        sums = [acc[:3] for acc in ctxs]
        pending = [0] * len(ctxs)
        for acc in ctxs:
            if acc[UP] >= 0:
                pending[acc[UP]] += 1
        ready = [index for index, count in enumerate(pending) if not count]
        while ready:
            index = ready.pop()
            up = ctxs[index][UP]
            if up >= 0:
                total, part = sums[up], sums[index]
                total[0] += part[0]
                total[1] += part[1]
                total[2] += part[2]
                pending[up] -= 1
                if not pending[up]:
                    ready.append(up)
        return sums
