"""Sessions: a run's spans grouped by ``session.id``, and runs grouped into conversations.

One run may serve several sessions (``spanline.session(id)`` in a server), and one
session spans many runs (its turns and their attempts). :class:`SessionsFold`
splits one run's events by the ``session.id`` of their spans and folds each part
with the summary fold, so a session's figures are the run summary's own
arithmetic over its spans: tokens, cost (cached input priced as cached) and
errors are counted exactly once. :func:`group_sessions` puts the parts of many
runs together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from spanline.folds._summary_fold import SummaryFold

__all__ = [
    "Attempt",
    "SessionsFold",
    "accepted_attempts",
    "group_sessions",
    "session_of",
    "summarize_session",
]

#: Lines every part of a run gets: they say what the run and its processes are.
_PROCESS_LINES = frozenset({"run_start", "process_start", "process_end"})


def session_of(attributes: Any) -> str | None:
    """The ``session.id`` of a span's start attributes, or None."""
    if isinstance(attributes, Mapping):
        value = attributes.get("session.id")
        if isinstance(value, str) and value:
            return value
    return None


@dataclass
class Attempt:
    """What one run did for one session: an attempt of a turn."""

    session_id: str
    run_id: str
    #: The run's turn and attempt in this session (None: the run was not numbered in it).
    turn: int | None
    attempt: int | None
    status: str
    started: float | None
    last_activity: float | None
    wall_ms: float
    tokens: int
    cost_usd: float
    errors: int
    tokens_by_type: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The attempt as JSON-ready values, in a fixed key order."""
        return {
            "session_id": self.session_id,
            "run_id": self.run_id,
            "turn": self.turn,
            "attempt": self.attempt,
            "status": self.status,
            "started": self.started,
            "last_activity": self.last_activity,
            "wall_ms": self.wall_ms,
            "tokens": self.tokens,
            "cost_usd": self.cost_usd,
            "errors": self.errors,
            "tokens_by_type": dict(self.tokens_by_type),
        }


class SessionsFold:
    """One run's events split by session; :meth:`attempts` folds each part.

    Args:
        run_id: the run (used when the log has no run_start line).
        prices: prices for LLM spans that recorded usage but no cost (default: shipped).
        only: fold this session alone (the others are skipped as they are read).
    """

    def __init__(self, run_id: str, *, prices: Any = None, only: str | None = None) -> None:
        self.run_id = run_id
        self._prices = prices
        self._only = only
        self._header: dict[str, Any] = {}
        self._process_lines: list[Mapping[str, Any]] = []
        self._span_session: dict[Any, str] = {}
        self._parts: dict[str, SummaryFold] = {}
        self._first: dict[str, float] = {}
        self._last: dict[str, float] = {}

    def extend(self, events: Iterable[Mapping[str, Any]], /) -> None:
        """Fold a batch of events, in file order."""
        for event in events:
            kind = event.get("event")
            if kind in _PROCESS_LINES:
                self._process_line(event)
                continue
            span_id = event.get("span_id")
            if not isinstance(span_id, str):
                continue  # a line no span can be matched by
            if kind == "span_start":
                session = session_of(event.get("attributes"))
                if session is None or (self._only is not None and session != self._only):
                    continue
                self._span_session[span_id] = session
            else:
                session = self._span_session.get(span_id)
                if session is None:
                    continue
            self._add(session, event)

    def _process_line(self, event: Mapping[str, Any]) -> None:
        if event.get("event") == "run_start":
            self._header = dict(event)
        self._process_lines.append(event)
        for part in self._parts.values():
            part.extend((event,))

    def _add(self, session: str, event: Mapping[str, Any]) -> None:
        part = self._parts.get(session)
        if part is None:
            part = self._parts[session] = SummaryFold(prices=self._prices, run_id=self.run_id)
            part.extend(self._process_lines)
        part.extend((event,))
        ts = event.get("ts")
        if isinstance(ts, (int, float)) and not isinstance(ts, bool):
            self._first.setdefault(session, ts)
            self._last[session] = max(self._last.get(session, ts), ts)

    def sessions(self) -> list[str]:
        """The sessions whose spans the run holds, in the order first seen."""
        return list(self._parts)

    def attempts(self) -> list[Attempt]:
        """One :class:`Attempt` per session the run served."""
        header = self._header
        return [self._attempt(session, header) for session in self._parts]

    def _attempt(self, session: str, header: Mapping[str, Any]) -> Attempt:
        summary = self._parts[session].result().to_dict()
        totals = summary.get("totals") or {}
        numbered = header.get("session_id") == session
        return Attempt(
            session_id=session,
            run_id=str(summary.get("run_id") or self.run_id),
            turn=_number(header.get("turn")) if numbered else None,
            attempt=_number(header.get("attempt")) if numbered else None,
            status=str(summary.get("status") or "ok"),
            started=self._first.get(session),
            last_activity=self._last.get(session),
            wall_ms=float(summary.get("total_wall_ms") or 0.0),
            tokens=int(totals.get("total_tokens") or 0),
            cost_usd=float(totals.get("cost_usd") or 0.0),
            errors=len(summary.get("errors") or ()),
            tokens_by_type=dict(totals.get("tokens_by_type") or {}),
        )


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _turn_key(attempt: Attempt) -> tuple[int, Any]:
    # A run that served the session without a number is a turn of its own, after the
    # numbered ones, in the order it started.
    if attempt.turn is not None:
        return (0, attempt.turn)
    return (1, (attempt.started or 0.0, attempt.run_id))


def accepted_attempts(attempts: Iterable[Attempt]) -> dict[tuple[int, Any], Attempt]:
    """Each turn's accepted attempt: its last attempt that ended ``ok``.

    Returns:
        Turn key -> the accepted attempt (a turn with no ok attempt has none).
    """
    accepted: dict[tuple[int, Any], Attempt] = {}
    for attempt in sorted(attempts, key=_attempt_order):
        if attempt.status == "ok":
            accepted[_turn_key(attempt)] = attempt
    return accepted


def _attempt_order(attempt: Attempt) -> tuple[Any, ...]:
    return (*_turn_key(attempt), attempt.attempt or 0, attempt.started or 0.0, attempt.run_id)


def group_sessions(attempts: Iterable[Attempt]) -> list[dict[str, Any]]:
    """Attempts of many runs grouped into sessions, the most recently active first.

    Returns:
        One row per session: ``{session_id, turns, attempts, status, wall_ms, tokens,
        cost_usd, waste_usd, errors, last_activity, runs}``. ``status`` is ``error`` when
        some turn has no accepted (ok) attempt, ``incomplete`` when some attempt is
        incomplete, else ``ok``; ``waste_usd`` is the cost of failed attempts.
    """
    by_session: dict[str, list[Attempt]] = {}
    for attempt in attempts:
        by_session.setdefault(attempt.session_id, []).append(attempt)
    rows = [_session_row(session, parts) for session, parts in by_session.items()]
    return sorted(rows, key=lambda row: (-(row["last_activity"] or 0.0), row["session_id"]))


def _session_row(session: str, parts: list[Attempt]) -> dict[str, Any]:
    parts = sorted(parts, key=_attempt_order)
    turns = {_turn_key(part) for part in parts}
    accepted = accepted_attempts(parts)
    statuses = {part.status for part in parts}
    if "incomplete" in statuses:
        status = "incomplete"
    elif len(accepted) < len(turns):
        status = "error"
    else:
        status = "ok"
    activity = [part.last_activity for part in parts if part.last_activity is not None]
    return {
        "session_id": session,
        "turns": len(turns),
        "attempts": len(parts),
        "status": status,
        "wall_ms": round(sum(part.wall_ms for part in parts), 3),
        "tokens": sum(part.tokens for part in parts),
        "cost_usd": round(sum(part.cost_usd for part in parts), 8),
        "waste_usd": round(sum(p.cost_usd for p in parts if p.status == "error"), 8),
        "errors": sum(part.errors for part in parts),
        "last_activity": max(activity) if activity else None,
        "runs": sorted({part.run_id for part in parts}),
    }


def summarize_session(attempts: list[Attempt]) -> dict[str, Any]:
    """A session's totals and its attempts, each turn's accepted one marked.

    Returns:
        ``{session_id, status, turns, attempts, totals: {wall_ms, tokens,
        tokens_by_type, cost_usd, waste_usd, errors}, attempt_list}``; each entry of
        ``attempt_list`` is an attempt's figures with ``accepted`` and ``wasted``.
    """
    row = group_sessions(attempts)[0]
    accepted = {id(a) for a in accepted_attempts(attempts).values()}
    by_type: dict[str, int] = {}
    for attempt in attempts:
        for key, value in attempt.tokens_by_type.items():
            by_type[key] = by_type.get(key, 0) + int(value)
    ordered = sorted(attempts, key=lambda a: (a.turn is None, a.turn or 0, a.attempt or 0))
    return {
        "session_id": row["session_id"],
        "status": row["status"],
        "turns": row["turns"],
        "attempts": row["attempts"],
        "totals": {
            "wall_ms": row["wall_ms"],
            "tokens": row["tokens"],
            "tokens_by_type": by_type,
            "cost_usd": row["cost_usd"],
            "waste_usd": row["waste_usd"],
            "errors": row["errors"],
        },
        "attempt_list": [
            {**a.to_dict(), "accepted": id(a) in accepted, "wasted": a.status == "error"}
            for a in ordered
        ],
    }
