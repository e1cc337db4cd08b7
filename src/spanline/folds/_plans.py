"""Which span fulfils which plan: the rule of ``tracer.plan``, for every fold that needs it.

A plan (a ``span_planned`` line) is fulfilled by the first later ``span_start``
that names it (its ``plan_id`` attribute), else by the first one with the same
name whose ancestors include the plan's parent (any span of that name, when the
plan has no parent). The run summary's plan progress, the lanes of the dashboard,
the analysis and the facts of ``spanline check`` all ask here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["PlanMatcher"]


class PlanMatcher:
    """The plans not fulfilled yet, in plan order, and the rule that fulfils them."""

    def __init__(self) -> None:
        """No plan yet."""
        self._parent: dict[str, str | None] = {}  # pending plan id -> its parent
        self._name: dict[str, str] = {}
        self._by_name: dict[str, list[str]] = {}
        #: The pending plans by id and by name, for a hot loop's cheap test (read only:
        #: the same dicts for the matcher's life, changed in place).
        self.pending: Mapping[str, str | None] = self._parent
        self.pending_names: Mapping[str, list[str]] = self._by_name

    def __bool__(self) -> bool:
        """Whether some plan is still pending."""
        return bool(self._parent)

    def add(self, plan_id: str, name: str, parent: Any) -> None:
        """A plan (a plan id seen again replaces the earlier one)."""
        if plan_id in self._parent:
            self._remove(plan_id)
        self._parent[plan_id] = parent if isinstance(parent, str) else None
        self._name[plan_id] = name
        self._by_name.setdefault(name, []).append(plan_id)

    def wanted(self, name: Any, explicit: Any) -> bool:
        """Whether a span of this name, naming ``explicit``, may fulfil a plan (cheap)."""
        return (name.__class__ is str and name in self._by_name) or (
            explicit.__class__ is str and explicit in self._parent
        )

    def match(
        self, name: Any, explicit: Any, parent: Any, parent_of: Callable[[Any], Any]
    ) -> str | None:
        """The plan a starting span fulfils, now no longer pending; None for none.

        Args:
            name: the span's name.
            explicit: its ``plan_id`` attribute (anything: only a pending id counts).
            parent: its parent's span id.
            parent_of: a span id -> its parent's span id (None at a root or unknown).
        """
        if explicit.__class__ is str and explicit in self._parent:
            self._remove(explicit)
            return str(explicit)
        pending = self._by_name.get(name) if name.__class__ is str else None
        if not pending:
            return None
        ancestors: set[Any] = {None}
        while parent is not None and parent not in ancestors:  # parent links may loop
            ancestors.add(parent)
            parent = parent_of(parent)
        for plan_id in pending:
            if self._parent[plan_id] in ancestors:
                self._remove(plan_id)
                return plan_id
        return None

    def _remove(self, plan_id: str) -> None:
        del self._parent[plan_id]
        name = self._name.pop(plan_id)
        pending = self._by_name[name]
        pending.remove(plan_id)
        if not pending:
            del self._by_name[name]
