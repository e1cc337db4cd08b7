"""Text of the MassGen-style artifacts: the coordination table and each step's files."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spanline.folds.massgen import CoordinationEvent, MassgenArtifacts, Step, TraceEntry

__all__ = [
    "coordination_table",
    "display_width",
    "execution_trace",
    "iso_timestamp",
    "step_texts",
]


def iso_timestamp(ts: float) -> str:
    """ISO 8601 UTC with milliseconds, e.g. ``2023-11-14T22:13:20.000Z``."""
    moment = datetime.fromtimestamp(ts, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_EVENT_WIDTH = 10
_COLUMN_WIDTH = 29

_LEGEND = (
    "Event symbols: 💭 started streaming · ✨ new answer · 🗳️ vote · 💭 reason · 👁️ preview"
    " · 🔁 restart · ✅ restart completed · 🎯 final answer · 🏆 winner selected",
    "Status: ⏳ (waiting) · 🔄 (streaming) · ✅ (answered) · ✅ (voted) · 🔁 (restarting)"
    " · 🎯 (final answer given)",
    "Answer labels: agent{N}.{attempt} is agent N's answer number attempt",
)

_STATUS = {
    "started_streaming": "🔄 (streaming)",
    "new_answer": "✅ (answered)",
    "vote": "✅ (voted)",
    "restart": "🔁 (restarting)",
    "restart_completed": "🔄 (streaming)",
    "final_answer": "🎯 (final answer given)",
}
_WAITING = "⏳ (waiting)"


def display_width(text: str) -> int:
    """Terminal cells of ``text``: wide characters count 2, combining marks 0.

    A character followed by the emoji presentation selector (U+FE0F) is drawn wide.
    """
    width = 0
    previous = ""
    for char in text:
        if char == "\ufe0f":
            if previous and unicodedata.east_asian_width(previous) not in ("W", "F"):
                width += 1
        elif char == "\u200d" or unicodedata.combining(char):
            pass
        else:
            width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
        previous = char
    return width


def _fit(text: str, width: int) -> str:
    """``text`` on one line, cut with ``…`` to at most ``width`` cells."""
    text = " ".join(text.split())
    if display_width(text) <= width:
        return text
    kept = ""
    for char in text:
        if display_width(kept + char) > width - 1:
            break
        kept += char
    return kept + "…"


def _center(text: str, width: int) -> str:
    text = _fit(text, width - 2)
    room = width - display_width(text)
    left = room // 2
    return " " * left + text + " " * (room - left)


def _row(first: str, cells: list[list[str]]) -> list[str]:
    height = max([1, *(len(cell) for cell in cells)])
    lines = []
    for index in range(height):
        label = first if index == 0 else ""
        parts = [_center(label, _EVENT_WIDTH)]
        parts += [
            _center(cell[index] if index < len(cell) else "", _COLUMN_WIDTH) for cell in cells
        ]
        lines.append("|" + "|".join(parts) + "|")
    return lines


def _wide_row(first: str, text: str, columns: int) -> str:
    width = columns * (_COLUMN_WIDTH + 1) - 1
    body = " " + _fit(text, width - 2)
    return (
        "|" + _center(first, _EVENT_WIDTH) + "|" + body + " " * (width - display_width(body)) + "|"
    )


def _rule(columns: int, fill: str = "-", edge: str = "|") -> str:
    return edge + "+".join([fill * _EVENT_WIDTH] + [fill * _COLUMN_WIDTH] * columns) + edge


def _actions(event: CoordinationEvent, seen: list[str]) -> list[str]:
    data = event.data
    kind = event.event_type
    if kind == "started_streaming":
        return [f"📋 Context: [{', '.join(seen)}]", "💭 Started streaming"]
    if kind == "new_answer":
        return [f"✨ NEW ANSWER: {data.get('label')}", f"👁️  Preview: {_str(data.get('content'))}"]
    if kind == "vote":
        return [f"🗳️ VOTE: {data.get('voted_for')}", f"💭 Reason: {_str(data.get('reason'))}"]
    if kind == "restart":
        return ["🔁 RESTART TRIGGERED", f"💭 Reason: {_str(data.get('reason'))}"]
    if kind == "restart_completed":
        return ["✅ RESTART COMPLETED"]
    if kind == "final_answer":
        return [f"🎯 FINAL ANSWER: {data.get('label')}", f"👁️  Preview: {_str(data.get('content'))}"]
    counts = data.get("vote_counts") or {}
    tally = ", ".join(f"{label}: {count}" for label, count in counts.items())
    return ["🏆 Winner selected", f"Votes: {tally}"] if tally else ["🏆 Winner selected"]


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _winner_agent(artifacts: MassgenArtifacts) -> str | None:
    winner = artifacts.vote.get("winner")
    if winner in artifacts.agents:
        return str(winner)
    for answer in artifacts.answers:
        if answer.label == winner:
            return answer.agent_id
    return None


def coordination_table(artifacts: MassgenArtifacts) -> str:
    """``coordination_table.txt``: legend, one row per event, per-agent summary, totals."""
    agents = artifacts.agents
    columns = max(1, len(agents))
    winner_agent = _winner_agent(artifacts)
    status = dict.fromkeys(agents, _WAITING)
    latest: dict[str, str] = {}
    lines = [f"Coordination table · run {artifacts.run_id or '-'}", *_LEGEND, ""]
    lines.append("+" + "-" * (_EVENT_WIDTH + columns * (_COLUMN_WIDTH + 1)) + "+")
    lines += _row("Event", [[agent] for agent in agents] or [[""]])
    lines.append(_rule(columns))
    lines.append(_wide_row("USER", artifacts.query or "(no query recorded)", columns))
    lines.append(_rule(columns, "="))
    for event in artifacts.events:
        owner = event.agent_id
        if owner is None and event.event_type == "winner_selected":
            owner = winner_agent
        if owner not in status:
            text = " · ".join(_actions(event, []))
            lines.append(_wide_row(event.event_id, text, columns))
        else:
            seen = [label for agent, label in latest.items() if agent != owner]
            cells = [
                _actions(event, seen) if agent == owner else [status[agent]] for agent in agents
            ]
            lines += _row(event.event_id, cells)
            if event.event_type in _STATUS:
                status[owner] = _STATUS[event.event_type]
        if event.event_type == "new_answer" and event.agent_id is not None:
            latest[event.agent_id] = str(event.data.get("label"))
        lines.append(_rule(columns))
    lines += _summary(artifacts, status, columns)
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _summary(artifacts: MassgenArtifacts, status: dict[str, str], columns: int) -> list[str]:
    agents = artifacts.agents

    def count(kind: str, agent: str) -> list[str]:
        return [
            str(sum(1 for e in artifacts.events if e.event_type == kind and e.agent_id == agent))
        ]

    lines = _row("SUMMARY", [[agent] for agent in agents] or [[""]])
    lines.append(_rule(columns))
    lines += _row("Answers", [count("new_answer", agent) for agent in agents] or [[""]])
    lines += _row("Votes", [count("vote", agent) for agent in agents] or [[""]])
    lines += _row("Restarts", [count("restart", agent) for agent in agents] or [[""]])
    lines += _row("Status", [[status[agent]] for agent in agents] or [[""]])
    lines.append("+" + "-" * (_EVENT_WIDTH + columns * (_COLUMN_WIDTH + 1)) + "+")
    vote = artifacts.vote
    totals = {kind: sum(1 for e in artifacts.events if e.event_type == kind) for kind in _STATUS}
    lines.append(
        f"Totals: {len(artifacts.events)} events · {len(agents)} agents"
        f" · {totals['new_answer']} answers · {totals['vote']} votes"
        f" · {totals['restart']} restarts"
    )
    lines.append(
        f"Winner: {vote.get('winner') or '-'}"
        f" · consensus: {'yes' if vote.get('consensus_reached') else 'no'}"
    )
    return lines


def _context(step: Step) -> str:
    if not step.context:
        return "(no answers from other agents yet)\n"
    parts = [f"Answers from other agents before {step.event.event_id} ({step.agent_id}):\n"]
    for answer in step.context:
        parts.append(f"\n[{answer.label}] {answer.agent_id} at {iso_timestamp(answer.ts)}\n")
        parts.append(answer.content.rstrip("\n") + "\n")
    return "".join(parts)


def step_texts(step: Step) -> dict[str, str]:
    """A step's ``answer.txt`` (``vote.txt`` for a vote) and ``context.txt``."""
    data = step.event.data
    if step.event.event_type == "vote":
        main = (
            "vote.txt",
            f"Voted for: {data.get('voted_for')}\nReason: {_str(data.get('reason'))}\n",
        )
    else:
        content = _answer_text(data.get("content"))
        main = ("answer.txt", content if content.endswith("\n") else content + "\n")
    return {main[0]: main[1], "context.txt": _context(step)}


def _answer_text(value: Any) -> str:
    return "" if value is None else _plain(value)


def _plain(value: Any) -> str:
    if isinstance(value, str):
        return value
    import orjson

    return orjson.dumps(value, option=orjson.OPT_INDENT_2, default=repr).decode()


def _clock(ts: float, pattern: str = "%Y-%m-%d %H:%M:%S") -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime(pattern)


def _fence(text: str, language: str = "") -> list[str]:
    """A fenced block longer than any run of backticks inside ``text``."""
    longest, run = 0, 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    return [fence + language, text.rstrip("\n"), fence, ""]


def _entry_lines(entry: TraceEntry) -> list[str]:
    when = f"*{_clock(entry.ts, '%H:%M:%S')}*"
    if entry.kind == "tool":
        lines = [f"### Tool Call: {entry.name}", when, "**Args**:"]
        lines += _fence(entry.args or "", "json")
        if entry.error is not None:
            return [*lines, f"### Tool Error: {entry.name}", *_fence(entry.error)]
        return [*lines, f"### Tool Result: {entry.name}", *_fence(entry.result or "")]
    if entry.kind == "llm":
        lines = [f"### Model Call: {entry.model or entry.name}", when, "**Input**:"]
        lines += _fence(entry.args or "", "json")
        if entry.error is not None:
            return [*lines, f"### Model Error: {entry.model or entry.name}", *_fence(entry.error)]
        return [*lines, "### Model Response", *_fence(entry.result or "")]
    lines = [f"### Span: {entry.name} ({entry.status})", when, ""]
    return lines + (_fence(entry.error) if entry.error is not None else [])


def _rounds(entries: Iterable[TraceEntry]) -> list[str]:
    lines: list[str] = []
    current: tuple[Any, Any] = (None, None)
    for entry in sorted(entries, key=lambda e: e.ts):
        key = (entry.round_number, entry.round_type)
        if entry.round_number is not None and key != current:
            suffix = f" ({entry.round_type})" if entry.round_type is not None else ""
            lines += [f"## Round {entry.round_number}{suffix}", ""]
        current = key
        lines += _entry_lines(entry)
    return lines


def execution_trace(step: Step) -> str:
    """``execution_trace.md``: the agent's spans since its previous step, then the step."""
    event, data = step.event, step.event.data
    model = next((e.model for e in step.entries if e.kind == "llm" and e.model), None)
    started = min([e.ts for e in step.entries] + [event.ts])
    lines = [
        f"# Execution Trace: {step.agent_id}",
        f"**Model**: {model or 'unknown'} | **Started**: {_clock(started)}",
        "",
    ]
    if step.omitted:
        lines += [f"*({step.omitted} earlier calls not kept)*", ""]
    lines += _rounds(step.entries)
    when = f"*{_clock(event.ts, '%H:%M:%S')}* ({event.event_id})"
    if event.event_type == "vote":
        lines += [f"### Vote Cast ({data.get('voted_for')})", when, _str(data.get("reason")), ""]
    else:
        title = "Final Answer" if event.event_type == "final_answer" else "Answer Submitted"
        lines += [f"### {title} ({data.get('label')})", when, _answer_text(data.get("content")), ""]
    return "\n".join(lines).rstrip("\n") + "\n"
