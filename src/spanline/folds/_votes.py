"""vote.json: every vote, each voter's last one, the winner and whether it was unanimous."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spanline.folds._massgen_render import iso_timestamp

if TYPE_CHECKING:
    from spanline.folds.massgen import Answer, CoordinationEvent

__all__ = ["vote_summary"]


def _owners(answers: list[Answer]) -> dict[str, str]:
    return {a.label: a.agent_id for a in answers if a.label is not None and a.agent_id is not None}


def vote_summary(events: list[CoordinationEvent], answers: list[Answer]) -> dict[str, Any]:
    """``vote.json``: every vote, each voter's last one, the winner and consensus.

    The winner is the last ``winner_selected`` event's, else the agent of the
    last ``final_answer``, else the answer with most last votes (the earliest
    voted for on a tie). Consensus: there are votes and every voter's *last*
    vote went to the winner — the same label, or, when either side is an agent
    id, the same agent.
    """
    owners = _owners(answers)
    votes = [e for e in events if e.event_type == "vote"]
    last: dict[str, CoordinationEvent] = {}
    for vote in votes:
        last[vote.agent_id or ""] = vote
    counts: dict[str, int] = {}
    for vote in last.values():
        target = str(vote.data.get("voted_for"))
        counts[target] = counts.get(target, 0) + 1
    winner = _winner(events, counts)
    consensus = bool(last) and winner is not None
    if consensus:
        consensus = all(
            _same(str(v.data.get("voted_for")), str(winner), owners) for v in last.values()
        )
    return {
        "votes": [
            {
                "event_id": v.event_id,
                "timestamp": iso_timestamp(v.ts),
                "agent_id": v.agent_id,
                "voted_for": v.data.get("voted_for"),
                "reason": v.data.get("reason"),
            }
            for v in votes
        ],
        "final_votes": {
            voter: {"voted_for": v.data.get("voted_for"), "reason": v.data.get("reason")}
            for voter, v in last.items()
        },
        "vote_counts": dict(sorted(counts.items(), key=lambda item: -item[1])),
        "winner": winner,
        "consensus_reached": consensus,
    }


def _winner(events: list[CoordinationEvent], counts: dict[str, int]) -> str | None:
    for event in reversed(events):
        if event.event_type == "winner_selected" and event.data.get("winner") is not None:
            return str(event.data["winner"])
    for event in reversed(events):
        if event.event_type == "final_answer":
            chosen = event.agent_id or event.data.get("label")
            if chosen is not None:
                return str(chosen)
    if not counts:
        return None
    return max(counts, key=lambda target: counts[target])  # first of the best on a tie


def _owner(target: str, owners: dict[str, str]) -> str:
    if target in owners:
        return owners[target]
    agents = set(owners.values())
    head, _, tail = target.rpartition(".")
    if head in agents and (tail.isdigit() or tail == "final"):
        return head  # MassGen's <agent_id>.<attempt> labels
    return target


def _same(voted_for: str, winner: str, owners: dict[str, str]) -> bool:
    if voted_for == winner:
        return True
    if voted_for in owners and winner in owners:
        return False  # two different answers, even of one agent
    return _owner(voted_for, owners) == _owner(winner, owners)
