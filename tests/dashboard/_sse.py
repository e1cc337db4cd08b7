"""A small Server-Sent Events reader over httpx streaming, for the tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx


@dataclass
class Message:
    """One dispatched event (``comments`` holds the comment lines seen before it)."""

    data: str
    id: str | None
    comments: list[str] = field(default_factory=list)
    event: str | None = None


def messages(response: httpx.Response, *, comments: list[str] | None = None) -> Iterator[Message]:
    """The events of an open ``text/event-stream`` response, as the EventSource API sees them."""
    data: list[str] = []
    event_id: str | None = None
    name_of: str | None = None
    for line in response.iter_lines():
        if line == "":
            if data:
                yield Message("\n".join(data), event_id, event=name_of)
            data, event_id, name_of = [], None, None
        elif line.startswith(":"):
            if comments is not None:
                comments.append(line)
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            elif name == "id":
                event_id = value
            elif name == "event":
                name_of = value
