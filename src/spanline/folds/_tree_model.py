"""The nodes and views of a span tree: plain data for :mod:`spanline.folds.tree`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spanline.folds._summary_model import round_ms

__all__ = ["SpanNode", "TreeView"]


@dataclass
class SpanNode:
    """One span as a tree shows it.

    Attributes:
        span_id: the span's id.
        name: its name.
        kind: its kind.
        status: ``ok``, ``error``, or ``open`` (a start and no end yet).
        duration_ms: its duration (None while open).
        tokens: its own tokens counter.
        subtree_tokens: the tokens of the span and of every span below it, drawn
            or not (an agent's LLM calls hold its tokens: this is the agent's
            figure, as in the summary and the dashboard).
        component: the start line's component.
        error_type: the error's type, for a failed span.
        error_message: the error's message, for a failed span.
        attributes: the key attributes (:data:`KEY_ATTRIBUTES`) it has.
        children: the children drawn.
        hidden: descendants not drawn below it (cut by the depth).
    """

    span_id: str
    name: str | None
    kind: str | None
    status: str
    duration_ms: float | None = None
    tokens: int | float = 0
    subtree_tokens: int | float = 0
    component: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    children: list[SpanNode] = field(default_factory=list)
    hidden: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready nested dict.

        Returns:
            The node's fields, its children nested under ``children``.
        """
        return {
            "span_id": self.span_id,
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "duration_ms": None if self.duration_ms is None else round_ms(self.duration_ms),
            "tokens": self.tokens,
            "subtree_tokens": self.subtree_tokens,
            "component": self.component,
            "error": (
                {"type": self.error_type, "message": self.error_message}
                if self.status == "error"
                else None
            ),
            "attributes": dict(self.attributes),
            "hidden": self.hidden,
            "children": [child.to_dict() for child in self.children],
        }


@dataclass
class TreeView:
    """The part of a tree a reader asked for.

    Attributes:
        roots: the top nodes drawn.
        in_scope: spans the selection covers (drawn or not).
        drawn: nodes drawn.
        below_depth: spans in scope not drawn because they are deeper than the depth.
        over_limit: spans in scope not drawn because the node cap was reached.
    """

    roots: list[SpanNode]
    in_scope: int
    drawn: int
    below_depth: int
    over_limit: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict.

        Returns:
            ``{roots, in_scope, drawn, below_depth, over_limit}``, roots nested.
        """
        return {
            "roots": [root.to_dict() for root in self.roots],
            "in_scope": self.in_scope,
            "drawn": self.drawn,
            "below_depth": self.below_depth,
            "over_limit": self.over_limit,
        }
