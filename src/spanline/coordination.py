"""Coordination events of multi-agent voting systems (MassGen's event types).

Each helper records one ``event`` line (``tracer.event``) whose attributes
carry ``agent_id`` — by default the id of the ``@traced_agent`` the call is
made in — plus the event's own fields. The analysis folds turn them into
``coordination_events.json``, ``vote.json`` and the coordination table.

Example::

    from spanline import coordination

    coordination.new_answer("agent1.1", content=answer)           # inside a traced agent
    coordination.vote(voted_for="agent2.1", reason="more complete")
    coordination.winner_selected("agent_b", vote_counts={"agent2.1": 2})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spanline._decorators._wrapping import captured
from spanline._hotpath._runtime import context_attributes
from spanline._hotpath._tracer import Tracer

__all__ = [
    "EVENT_TYPES",
    "final_answer",
    "new_answer",
    "restart",
    "restart_completed",
    "started_streaming",
    "vote",
    "winner_selected",
]

#: The event names these helpers write.
EVENT_TYPES = (
    "started_streaming",
    "new_answer",
    "vote",
    "restart",
    "restart_completed",
    "final_answer",
    "winner_selected",
)


_TRACER = Tracer()  # tracers hold no state: this records into the same pipeline


def _record(name: str, agent_id: str | None, **fields: Any) -> None:
    if agent_id is None:
        agent_id = (context_attributes.get() or {}).get("gen_ai.agent.id")
    attributes = {k: v for k, v in fields.items() if v is not None}
    _TRACER.event(name, agent_id=agent_id, **attributes)


def started_streaming(agent_id: str | None = None, **fields: Any) -> None:
    """The agent began thinking."""
    _record("started_streaming", agent_id, **fields)


def new_answer(
    label: str, *, content: Any = None, agent_id: str | None = None, **fields: Any
) -> None:
    """The agent gave an answer labelled like ``agent1.1`` (agent number, attempt).

    Args:
        label: the answer's label.
        content: the answer; stored as a preview (or in full with ``capture="full"``).
        agent_id: default: the current agent's id.
    """
    _record("new_answer", agent_id, label=label, **_content(content), **fields)


def vote(voted_for: str, reason: str | None = None, *, agent_id: str | None = None) -> None:
    """The agent voted for an answer label (or agent)."""
    _record("vote", agent_id, voted_for=voted_for, reason=reason)


def restart(reason: str | None = None, *, agent_id: str | None = None) -> None:
    """The agent asked to restart (clearing its memory)."""
    _record("restart", agent_id, reason=reason)


def restart_completed(agent_id: str | None = None) -> None:
    """The agent finished restarting."""
    _record("restart_completed", agent_id)


def final_answer(
    label: str | None = None, *, content: Any = None, agent_id: str | None = None
) -> None:
    """The winner presented the final answer."""
    _record("final_answer", agent_id, label=label, **_content(content))


def winner_selected(
    winner: str, *, vote_counts: Mapping[str, int] | None = None, agent_id: str | None = None
) -> None:
    """Voting finished: ``winner`` (an agent id or answer label) and the vote counts."""
    _record(
        "winner_selected",
        agent_id,
        winner=winner,
        vote_counts=dict(vote_counts) if vote_counts is not None else None,
    )


def _content(content: Any) -> dict[str, Any]:
    if content is None:
        return {}
    return captured("content.value", content)
