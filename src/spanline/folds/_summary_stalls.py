"""Stalls: the last line seen in each running agent's subtree, the silences longer than
the stall time, and the list ``result()`` reports."""

from __future__ import annotations

from typing import Any

from spanline.folds._summary_base import (
    NEVER,
    SEEN,
    UP,
)
from spanline.folds._summary_model import (
    round_ms,
)
from spanline.folds._summary_tree import _Tree


class _Stalls(_Tree):
    """Part of :class:`~spanline.folds.summary.SummaryFold` (see its module)."""

    def _latest(self, index: int, memo: dict[int, float]) -> float:
        """The last activity in the subtree of context ``index`` (-inf: none)."""
        kids, ctxs = self._kids, self._ctx
        order, stack = [], [index]
        while stack:
            current = stack.pop()
            if current not in memo:
                order.append(current)
                stack.extend(kids.get(current, ()))
        for current in reversed(order):  # children before their parents
            seen = ctxs[current][SEEN]
            best = seen if seen != NEVER else -NEVER
            for kid in kids.get(current, ()):
                best = max(best, memo.get(kid, -NEVER))
            memo[current] = best
        return memo[index]

    def _stalled(self, ctx: int, since: float, now: float) -> None:
        """The agent of context ``ctx`` showed no line from ``since`` until ``now``."""
        agent = self._agent_at[ctx]
        self._stalls.append([agent[0], agent[1], agent[3], since, now - since])

    def _quiet(self, index: int, now: float) -> None:
        """A line at ``now`` for the watched agent of ``index``, whose own last line is
        older than the stall time: each agent from it upwards whose whole subtree was
        silent that long stalled. Upwards, subtrees only grow, so the first agent
        with a recent enough line ends the walk."""
        stall, ctxs, latest = self._stall_s, self._ctx, self._latest
        memo: dict[int, float] = {}
        while index >= 0:
            if ctxs[index][SEEN] != NEVER:
                since = latest(index, memo)
                if not now - since > stall:
                    return
                if since > -NEVER:
                    self._stalled(index, since, now)
            index = ctxs[index][UP]

    def _touch(self, index: int, now: float) -> None:
        """A line at ``now`` in the subtree of context ``index``: the nearest watched agent
        at or above it was active then (and, through it, every agent above)."""
        if now == -NEVER:
            return
        ctxs = self._ctx
        while index >= 0:
            acc = ctxs[index]
            seen = acc[SEEN]
            if seen != NEVER:
                if now > seen:
                    if now - seen > self._stall_s:
                        self._quiet(index, now)
                    acc[SEEN] = now
                return
            # Ended, not started yet, or not timed: the one above.
            index = self._open_at(index) if index in self._ended else acc[UP]

    def _end_watch(self, index: int) -> None:
        """An agent ended: no longer watched. Its last activity moves to the nearest
        watched agent above, and what is open below it hangs from its holder."""
        ctxs, kids, holder = self._ctx, self._kids, self._holder
        acc = ctxs[index]
        seen, acc[SEEN] = acc[SEEN], NEVER
        self._ended.add(index)
        if seen != NEVER:
            up = acc[UP]
            while up >= 0 and ctxs[up][SEEN] == NEVER:
                up = self._open_at(up) if up in self._ended else ctxs[up][UP]
            if up >= 0 and seen > ctxs[up][SEEN]:
                ctxs[up][SEEN] = seen
        above = holder.pop(index, -1)
        if above >= 0:
            kids[above].discard(index)
        for kid in kids.pop(index, ()):
            if above >= 0:
                kids.setdefault(above, set()).add(kid)
                holder[kid] = above
            else:
                holder.pop(kid, None)

    def _stall_list(self) -> list[dict[str, Any]]:
        """Stalls recovered from, and those of running agents silent since before the
        run's last line; by start of the silence. Costs time in agents and stalls."""
        stalls = [(*stall, True) for stall in self._stalls]
        last = self._last_ts
        memo: dict[int, float] = {}
        for agent in self._agents:
            if self._ctx[agent[7]][SEEN] == NEVER:
                continue  # ended (or never timed): not watched
            seen = self._latest(agent[7], memo)
            if last - seen > self._stall_s:
                stalls.append((agent[0], agent[1], agent[3], seen, last - seen, False))
        stalls.sort(key=lambda stall: (stall[3], str(stall[0])))
        return [
            {
                "span_id": span_id,
                "name": name,
                "agent_id": agent_id,
                "since_ts": since,
                "stalled_ms": round_ms(gap * 1000.0),
                "recovered": recovered,
            }
            for span_id, name, agent_id, since, gap, recovered in stalls
        ]
