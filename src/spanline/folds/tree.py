"""The span tree of a run: a fold of its events into parents, children and a few fields each.

:class:`TreeFold` reads the events once and keeps one small tuple per span (its
start line's name, kind, parent, time and key attributes; its end line's status,
duration, tokens and error). :meth:`SpanTree.select` then cuts the part a reader
asks for: the subtree of an agent, only the paths to failed spans, a depth, and
a cap on the number of nodes, saying how many spans were left out. Pure data:
rendering is the CLI's business.

``TreeFold(depth=N)`` is for the common, cheap case of drawing N levels: it keeps
a record only for spans within N levels of a root and merely counts the spans
below each span of level N, so a million-span run costs a few dictionaries of
ids instead of a record per span.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from spanline.folds._tree_model import SpanNode, TreeView

__all__ = ["KEY_ATTRIBUTES", "SpanNode", "SpanTree", "TreeFold", "TreeView"]

#: Attributes kept per span (start merged with end, end wins): the ones a tree shows.
KEY_ATTRIBUTES = ("gen_ai.agent.id", "gen_ai.request.model", "tool.name")

# Slots of a start record and an end record.
_NAME, _KIND, _PARENT, _TS, _COMPONENT, _ATTRS = range(6)
_STATUS, _DURATION, _TOKENS, _ERROR_TYPE, _ERROR_MESSAGE, _END_ATTRS, _FINAL = range(7)


def _text(value: Any) -> str | None:
    return value if value.__class__ is str else None


def _number(value: Any) -> int | float | None:
    return value if value.__class__ is int or value.__class__ is float else None


def _key_attributes(attrs: Any) -> dict[str, Any] | None:
    if attrs.__class__ is not dict or not attrs:
        return None
    kept = {key: attrs[key] for key in KEY_ATTRIBUTES if key in attrs}
    return kept or None


def _final_starts(
    starts: Mapping[str, tuple[Any, ...]], ends: Mapping[str, tuple[Any, ...]]
) -> Mapping[str, tuple[Any, ...]]:
    """The start records with the name and kind a span_end overrode (a span the bridge
    classified at its end): readers merge start then end, and the end wins."""
    final = [(sid, end[_FINAL]) for sid, end in ends.items() if end[_FINAL] and sid in starts]
    if not final:
        return starts
    patched = dict(starts)
    for sid, (name, kind) in final:
        start = patched[sid]
        patched[sid] = (name or start[_NAME], kind or start[_KIND], *start[_PARENT:])
    return patched


class SpanTree:
    """Every span of a run, linked to its parent; cut with :meth:`select`."""

    def __init__(
        self,
        starts: Mapping[str, tuple[Any, ...]],
        ends: Mapping[str, tuple[Any, ...]],
        *,
        pruned: Mapping[str, int] | None = None,
        pruned_tokens: Mapping[str, int | float] | None = None,
        levels: int | None = None,
    ) -> None:
        """Link the spans (usually made by :meth:`TreeFold.result`).

        Args:
            starts: span id -> start record.
            ends: span id -> end record.
            pruned: span id -> spans below it that have no record (cut by ``levels``).
            pruned_tokens: span id -> the tokens of those spans.
            levels: the records cover this many levels from the roots (None: all).
        """
        self._starts = _final_starts(starts, ends)
        self._ends = ends
        self._pruned = pruned or {}
        self._pruned_tokens = pruned_tokens or {}
        self.levels = levels
        self._children: dict[str, list[str]] = {}
        self.roots: list[str] = []
        for sid, record in starts.items():  # file order: children come in start order
            parent = record[_PARENT]
            if parent is not None and parent in starts:
                self._children.setdefault(parent, []).append(sid)
            else:
                self.roots.append(sid)  # parentless, or its parent's start was never read

    def __len__(self) -> int:
        """The number of spans (those whose start line was read)."""
        return len(self._starts) + sum(self._pruned.values())

    def agent_roots(self, agent: str) -> list[str]:
        """The topmost spans whose ``gen_ai.agent.id`` (or span id) is ``agent``; when
        none is, those whose name is ``agent``.

        An agent opened as ``tracer.span(name, kind=...)`` has no agent id, and a
        drawn tree shows names, not span ids: its name is what a reader has.

        Args:
            agent: an agent id, a span id or a span name.

        Returns:
            Their span ids, in start order (empty when none matches).

        Raises:
            ValueError: the tree keeps only its top levels (``TreeFold(depth=...)``).
        """
        self._check_whole("agent_roots()")
        matches = [
            sid
            for sid in self._starts
            if sid == agent or self._attributes(sid).get("gen_ai.agent.id") == agent
        ]
        if not matches:
            matches = [sid for sid, start in self._starts.items() if start[_NAME] == agent]
        chosen = set(matches)
        out = []
        for sid in matches:
            parent = self._starts[sid][_PARENT]
            while parent is not None and parent in self._starts and parent not in chosen:
                parent = self._starts[parent][_PARENT]
            if parent is None or parent not in chosen:
                out.append(sid)
        return out

    def select(
        self,
        *,
        roots: Iterable[str] | None = None,
        depth: int | None = 3,
        limit: int | None = 500,
        errors_only: bool = False,
    ) -> TreeView:
        """Cut the tree for drawing.

        Args:
            roots: start from these spans (default: the run's roots).
            depth: levels drawn (1: the roots only; None: all).
            limit: nodes drawn at most (None: no cap).
            errors_only: keep only failed spans and the paths leading to them.

        Returns:
            The nodes to draw and how many spans were left out, and why.

        Raises:
            ValueError: the tree keeps only its top levels and the cut needs more:
                ``roots``, ``errors_only``, or a depth beyond :attr:`levels`.
        """
        if self.levels is not None and (
            roots is not None or errors_only or depth is None or depth > self.levels
        ):
            self._check_whole(f"select(roots={roots!r}, depth={depth}, errors_only={errors_only})")
        tops = list(self.roots if roots is None else roots)
        size, tokens = self._scope_sizes(tops, errors_only)
        scope = sum(size.get(sid, 0) for sid in tops)
        drawn = below = 0
        top_nodes: list[SpanNode] = []
        stack: list[tuple[str, int, list[SpanNode]]] = [
            (sid, 1, top_nodes) for sid in reversed(tops) if size.get(sid)
        ]
        while stack and (limit is None or drawn < limit):
            sid, level, siblings = stack.pop()
            node = self._node(sid)
            node.subtree_tokens = tokens[sid]
            siblings.append(node)
            drawn += 1
            kids = [kid for kid in self._children.get(sid, ()) if size.get(kid)]
            if depth is not None and level >= depth:
                node.hidden = size[sid] - 1
                below += node.hidden
                continue
            stack.extend((kid, level + 1, node.children) for kid in reversed(kids))
        return TreeView(top_nodes, scope, drawn, below, scope - drawn - below)

    def _check_whole(self, what: str) -> None:
        if self.levels is not None:
            raise ValueError(
                f"{what} needs every span, but this tree keeps {self.levels} level(s): "
                "fold with TreeFold() instead"
            )

    def _scope_sizes(
        self, tops: list[str], errors_only: bool
    ) -> tuple[dict[str, int], dict[str, int | float]]:
        """Per span under ``tops``: how many spans of the scope its subtree holds, and
        the tokens its whole subtree spent."""
        order: list[str] = []
        stack = list(tops)
        while stack:
            sid = stack.pop()
            order.append(sid)
            stack.extend(self._children.get(sid, ()))
        size: dict[str, int] = {}
        tokens: dict[str, int | float] = {}
        ends, pruned, pruned_tokens = self._ends, self._pruned, self._pruned_tokens
        for sid in reversed(order):  # children before parents
            kids = self._children.get(sid, ())
            own = ends[sid][_TOKENS] if sid in ends else 0
            tokens[sid] = own + sum(tokens[kid] for kid in kids) + pruned_tokens.get(sid, 0)
            below = sum(size[kid] for kid in kids) + pruned.get(sid, 0)
            if errors_only:
                failed = sid in ends and ends[sid][_STATUS] == "error"
                size[sid] = below + 1 if below or failed else 0
            else:
                size[sid] = below + 1
        return size, tokens

    def _attributes(self, sid: str) -> dict[str, Any]:
        start = self._starts[sid][_ATTRS]
        end = self._ends[sid][_END_ATTRS] if sid in self._ends else None
        if end is None:
            return start or {}
        return {**(start or {}), **end}

    def _node(self, sid: str) -> SpanNode:
        start = self._starts[sid]
        node = SpanNode(
            sid, start[_NAME], start[_KIND], "open", component=start[_COMPONENT],
            attributes=self._attributes(sid),
        )  # fmt: skip
        end = self._ends.get(sid)
        if end is not None:
            node.status = end[_STATUS] or "ok"
            node.duration_ms = end[_DURATION]
            node.tokens = end[_TOKENS]
            node.error_type = end[_ERROR_TYPE]
            node.error_message = end[_ERROR_MESSAGE]
        return node


class TreeFold:
    """An incremental reducer from events to a :class:`SpanTree`.

    Feed it with :meth:`add` or :meth:`extend` in any chunking; :meth:`result`
    may be called at any time. A span_end read before its span_start (two
    processes' lines interleave) is kept until the start arrives.

    With ``depth``, only spans within ``depth`` levels of a root keep a record;
    a deeper span is counted under its ancestor at level ``depth`` (its
    *anchor*), and its end line is skipped. A span started before its parent
    (another process's line came first) keeps a record until the parent's start
    places it; one whose parent never comes is a root, as without ``depth``.
    """

    def __init__(self, *, depth: int | None = None) -> None:
        """Start an empty fold.

        Args:
            depth: keep records for this many levels only (None: every span). The
                result then answers ``select(depth=d)`` for ``d <= depth`` only.

        Raises:
            ValueError: ``depth`` is below 1.
        """
        if depth is not None and depth < 1:
            raise ValueError(f"depth must be at least 1 (or None for all), not {depth!r}")
        self._depth = depth
        self._starts: dict[str, tuple[Any, ...]] = {}
        self._ends: dict[str, tuple[Any, ...]] = {}
        self._level: dict[str, int] = {}  # placed spans with a record -> level (1: a root)
        self._anchor: dict[str, str] = {}  # placed spans without one -> their anchor
        self._pruned: dict[str, int] = {}  # anchor -> spans counted below it
        self._pruned_tokens: dict[str, int | float] = {}  # anchor -> their tokens
        self._waiting: dict[str, list[str]] = {}  # parent not placed yet -> its spans

    def add(self, event: Mapping[str, Any]) -> None:
        """Fold one event.

        Args:
            event: one line of telemetry.jsonl, parsed.
        """
        self.extend((event,))

    def extend(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Fold events in file order.

        Args:
            events: lines of telemetry.jsonl, parsed.
        """
        if self._depth is not None:
            self._extend_levels(events, self._depth)
            return
        starts, ends = self._starts, self._ends
        for event in events:
            tag = event.get("event")
            if tag == "span_end":
                sid = event.get("span_id")
                if sid.__class__ is str:
                    ends[sid] = _end_record(event)
            elif tag == "span_start":
                sid = event.get("span_id")
                if sid.__class__ is str:
                    starts[sid] = _start_record(event)

    def _extend_levels(self, events: Iterable[Mapping[str, Any]], depth: int) -> None:
        # Runs once per line of possibly millions: the deep spans (most of them)
        # cost two dictionary lookups and a counter.
        starts, ends, level, anchor, pruned, below_tokens = (
            self._starts, self._ends, self._level, self._anchor, self._pruned,
            self._pruned_tokens,
        )  # fmt: skip
        level_get, anchor_get, waiting = level.get, anchor.get, self._waiting
        for event in events:
            tag = event.get("event")
            if tag == "span_end":
                sid = event.get("span_id")
                if sid.__class__ is not str:
                    continue
                if (top := anchor_get(sid)) is None:
                    ends[sid] = _end_record(event)
                elif tokens := _number(event.get("tokens")):
                    below_tokens[top] = below_tokens.get(top, 0) + tokens
            elif tag == "span_start":
                sid = event.get("span_id")
                if sid.__class__ is not str or sid in anchor:
                    continue
                parent: Any = event.get("parent")
                if parent.__class__ is not str:
                    at = 1
                elif (above := level_get(parent)) is not None:
                    at = above + 1
                elif (top := anchor_get(parent)) is not None:
                    anchor[sid] = top
                    pruned[top] += 1
                    if sid in ends:  # its end came first (another process's line)
                        self._credit(top, ends.pop(sid))
                    if sid in waiting:
                        self._place_waiting(sid)
                    continue
                else:  # the parent's start is not read yet
                    starts[sid] = _start_record(event)
                    if sid not in level:
                        waiting.setdefault(parent, []).append(sid)
                    continue
                if at > depth:
                    anchor[sid] = parent
                    pruned[parent] = pruned.get(parent, 0) + 1
                    if sid in ends:  # its end came first (another process's line)
                        self._credit(parent, ends.pop(sid))
                else:
                    starts[sid] = _start_record(event)
                    level[sid] = at
                if sid in waiting:
                    self._place_waiting(sid)

    def _place_waiting(self, first: str) -> None:
        """Place the spans that waited for ``first`` (just placed), and theirs, and so on."""
        depth, starts, ends, level, anchor, pruned, waiting = (
            self._depth, self._starts, self._ends, self._level, self._anchor, self._pruned,
            self._waiting,
        )  # fmt: skip
        assert depth is not None
        stack = [first]
        while stack:
            parent = stack.pop()
            above = level.get(parent)
            for sid in waiting.pop(parent, ()):
                if above is not None and above < depth:
                    level[sid] = above + 1
                else:
                    top = parent if above is not None else anchor[parent]
                    anchor[sid] = top
                    pruned[top] = pruned.get(top, 0) + 1
                    starts.pop(sid, None)
                    if sid in ends:
                        self._credit(top, ends.pop(sid))
                stack.append(sid)

    def _credit(self, top: str, end: tuple[Any, ...]) -> None:
        """Count the tokens of a span's end record, now without a record, under ``top``."""
        if end[_TOKENS]:
            self._pruned_tokens[top] = self._pruned_tokens.get(top, 0) + end[_TOKENS]

    def result(self) -> SpanTree:
        """The tree of the events folded so far (later events do not change it).

        Returns:
            The tree.
        """
        if self._depth is None:
            return SpanTree(dict(self._starts), dict(self._ends))
        fold = self
        if self._waiting:  # spans whose parent never came are roots: place them in a copy
            fold = TreeFold(depth=self._depth)
            fold._starts, fold._ends = dict(self._starts), dict(self._ends)
            fold._level, fold._anchor = dict(self._level), dict(self._anchor)
            fold._pruned = dict(self._pruned)
            fold._pruned_tokens = dict(self._pruned_tokens)
            fold._waiting = {parent: list(sids) for parent, sids in self._waiting.items()}
            for parent in list(fold._waiting):
                if parent in fold._waiting and parent not in fold._starts:
                    for sid in fold._waiting.pop(parent):
                        fold._level[sid] = 1
                        fold._place_waiting(sid)
        return SpanTree(
            dict(fold._starts),
            dict(fold._ends),
            pruned=dict(fold._pruned),
            pruned_tokens=dict(fold._pruned_tokens),
            levels=self._depth,
        )


def _start_record(event: Mapping[str, Any]) -> tuple[Any, ...]:
    parent = event.get("parent")
    return (
        _text(event.get("name")),
        _text(event.get("kind")),
        parent if parent.__class__ is str else None,
        _number(event.get("ts")),
        _text(event.get("component")),
        _key_attributes(event.get("attributes")),
    )


def _end_record(event: Mapping[str, Any]) -> tuple[Any, ...]:
    error = event.get("error")
    if error.__class__ is dict:
        kind, message = _text(error.get("type")), _text(error.get("message"))
    else:
        kind, message = None, _text(error)
    final = None
    if "kind" in event or "name" in event:  # classified at its end: these win
        final = (_text(event.get("name")), _text(event.get("kind")))
    return (
        _text(event.get("status")),
        _number(event.get("duration_ms")),
        _number(event.get("tokens")) or 0,
        kind,
        message,
        _key_attributes(event.get("attributes")),
        final,
    )
