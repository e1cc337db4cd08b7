"""Replay: a stored run's spans sent through a real exporter, resumable by offset.

The log is read once, in order. Each span is sent whole (its ``span_start``, its
``event`` lines and its ``span_end``) once its end line has been read, so the
spans go out in the order they ended and the offset just past a span's end line
tells exactly what has been delivered: a later replay to the same destination
sends only the spans whose end lies beyond it, and a span that straddles that
offset is sent whole. Every line is redacted again with the current rules on the
way out. Only the span's open lines are held in memory, never the whole log.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from spanline._capture._scrub import redact_event
from spanline._lines._read import lines
from spanline.exporters._otel_mapping import has_valid_ids

__all__ = ["ReplayOutcome", "count_spans", "read_state", "replay", "span_groups", "state_key"]

#: Attempts at one batch before the replay stops (the exporter retries inside each).
_ATTEMPTS = 3


@dataclass
class ReplayOutcome:
    """What a replay did.

    Attributes:
        sent: spans the destination accepted.
        failed: spans left undelivered (the replay stopped at the first batch that
            failed every attempt; a later replay resumes there).
        offset: the log offset delivered up to (past the last sent span's end line).
        error: the last exporter error, when something was not delivered.
        skipped_lines: lines that were not JSON objects (reported, not sent).
        invalid_ids: spans not sent because their trace or span id is not a valid
            one (all zeros, or not hex): OpenTelemetry receivers drop such spans
            without a word, so they are counted here as not delivered. A retry
            cannot help them, so the offset moves past them.
    """

    sent: int = 0
    failed: int = 0
    offset: int = 0
    error: str | None = None
    skipped_lines: int = 0
    invalid_ids: int = 0


def _decode(raw: bytes) -> dict[str, Any] | None:
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return event if isinstance(event, dict) else None


def count_spans(path: str | os.PathLike[str], since: int = 0) -> int:
    """How many spans end past ``since`` (for a progress bar; lines are not decoded)."""
    return sum(1 for raw, _ in lines(path, since, final=True) if b'"span_end"' in raw)


def span_groups(
    path: str | os.PathLike[str], since: int = 0, *, skipped: list[int] | None = None
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """Each span whose end line lies past ``since``, as ``(offset past its end, lines)``.

    The first group starts with the run's ``run_start`` line (the exporters take
    the service name and the resource from it). Lines are redacted again.

    Args:
        path: the run's telemetry.jsonl.
        since: the offset already delivered.
        skipped: gets one entry per line that is not a JSON object.
    """
    header: dict[str, Any] | None = None
    open_spans: dict[Any, list[dict[str, Any]]] = {}
    for raw, offset in lines(path, final=True):
        event = _decode(raw)
        if event is None:
            if skipped is not None:
                skipped.append(offset)
            continue
        tag = event.get("event")
        if tag == "run_start" and header is None:
            header = redact_event(event)
        elif tag == "span_start":
            open_spans[event.get("span_id")] = [event]
        elif tag == "event" and event.get("span_id") in open_spans:
            open_spans[event.get("span_id")].append(event)
        elif tag == "span_end":
            group = open_spans.pop(event.get("span_id"), None)
            if group is None or offset <= since:
                continue
            group.append(event)
            out = [redact_event(line) for line in group]
            if header is not None:
                out.insert(0, header)
                header = None
            yield offset, out


def replay(
    path: str | os.PathLike[str],
    exporter: Any,
    *,
    since: int = 0,
    batch_spans: int = 512,
    rate: float | None = None,
    delivered: Callable[[int, int], None] | None = None,
) -> ReplayOutcome:
    """Send the spans of ``path`` that end past ``since`` through ``exporter``.

    Args:
        path: the run's telemetry.jsonl.
        exporter: an exporter (``export(batch)`` raising when the destination did
            not take the batch; a retry of the same batch resumes where it stopped).
        since: the offset already delivered.
        batch_spans: spans per batch.
        rate: at most this many spans per second (None: as fast as it takes them).
        delivered: called after each accepted batch with ``(spans, offset)``.

    Returns:
        What was sent, what was not, and the offset delivered up to.
    """
    outcome = ReplayOutcome(offset=since)
    skipped: list[int] = []
    size = max(1, min(batch_spans, int(rate) if rate else batch_spans))
    started = time.monotonic()
    batch: list[dict[str, Any]] = []
    spans, end = 0, since
    header: dict[str, Any] | None = None
    groups = span_groups(path, since, skipped=skipped)
    for offset, group in groups:
        if not _ids_valid(group):
            outcome.invalid_ids += 1
            end = offset  # delivered or not, never worth sending again
            if group[0].get("event") == "run_start":
                header = group[0]  # the next span sent takes the run's header
            continue
        if header is not None:
            batch.append(header)
            header = None
        batch.extend(group)
        spans, end = spans + 1, offset
        if spans < size:
            continue
        if not _send(exporter, batch, spans, end, outcome, delivered):
            outcome.failed += sum(1 for _ in groups)  # what is left is not sent either
            spans = 0
            break
        batch, spans = [], 0
        if rate:
            _pace(started, outcome.sent, rate)
    if spans:
        _send(exporter, batch, spans, end, outcome, delivered)
    elif end > outcome.offset and not outcome.failed:  # only spans that cannot be sent
        outcome.offset = end
        if delivered is not None:
            delivered(0, end)
    outcome.skipped_lines = len(skipped)
    return outcome


def _ids_valid(group: list[dict[str, Any]]) -> bool:
    """Whether the span's start line has ids a receiver takes (the exporters' own rule)."""
    start = next((line for line in group if line.get("event") == "span_start"), {})
    return has_valid_ids(start)


def _send(
    exporter: Any,
    batch: list[dict[str, Any]],
    spans: int,
    end: int,
    outcome: ReplayOutcome,
    delivered: Callable[[int, int], None] | None,
) -> bool:
    for attempt in range(_ATTEMPTS):
        try:
            exporter.export(batch)
        except Exception as exc:
            outcome.error = f"{type(exc).__name__}: {exc}"
            if attempt + 1 < _ATTEMPTS:
                time.sleep(0.5 * 2**attempt)
            continue
        outcome.sent += spans
        outcome.offset = end
        if delivered is not None:
            delivered(spans, end)
        return True
    outcome.failed += spans
    return False


def _pace(started: float, sent: int, rate: float) -> None:
    """Sleep until ``sent`` spans are no more than ``rate`` a second since ``started``."""
    ahead = sent / rate - (time.monotonic() - started)
    if ahead > 0:
        time.sleep(ahead)


def state_key(destination: str, endpoint: str | None) -> str:
    """The key of a destination in the run's replay state."""
    return f"{destination} {endpoint or 'from the environment'}"


def read_state(data: bytes) -> dict[str, Mapping[str, Any]]:
    """The replay state file's destinations (an unreadable file is an empty state)."""
    try:
        state = orjson.loads(data)
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(state, dict):
        return {}
    return {key: value for key, value in state.items() if isinstance(value, dict)}
