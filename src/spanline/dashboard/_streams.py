"""Live streams that scale: one tail of a run's log, shared by every client of that run.

Each run being streamed has one :class:`RunTail`: one task reads the new whole
lines of its ``telemetry.jsonl`` (:class:`~spanline._lines._read.Follow`),
encodes them as SSE messages once, and hands the same bytes to every client's
own bounded buffer. A client never reads the file while it keeps up, so two
hundred clients cost about what one does. A client whose buffer is full (it reads
slower than the run writes) is not waited for: its buffer is dropped, and it gets
one ``resync`` event carrying a fresh snapshot and the offset it continues from.

Every other message is one line of the log verbatim, its ``id`` the byte offset
just past it, as before: a client that connects at an offset first gets the lines
from there up to where the shared tail is (read by itself), then the shared ones.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path

from spanline._lines._read import Follow

__all__ = ["BUFFER_BYTES", "Client", "RunTail", "Tails", "stream_lines"]

#: How many bytes of messages one client may have waiting before it is resynced.
BUFFER_BYTES = 4 * 1024 * 1024


@dataclass(eq=False)  # one per stream: kept in sets by identity
class Client:
    """One stream's bounded buffer of ``(start, end, messages)`` blocks from the tail."""

    limit: int
    blocks: deque[tuple[int, int, bytes, bytes]] = field(default_factory=deque)
    size: int = 0
    behind: bool = False
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, start: int, end: int, raw: bytes, messages: bytes) -> None:
        """Take a block, or, past the bound, drop everything and mark the client behind."""
        if self.behind:
            return
        if self.size + len(messages) > self.limit:
            self.blocks.clear()
            self.size = 0
            self.behind = True
        else:
            self.blocks.append((start, end, raw, messages))
            self.size += len(messages)
        self.ready.set()

    def take(self) -> list[tuple[int, int, bytes, bytes]]:
        """Every block waiting, oldest first (the buffer is then empty)."""
        taken = list(self.blocks)
        self.blocks.clear()
        self.size = 0
        self.ready.clear()
        return taken


class RunTail:
    """The one reader of a run's log for every client streaming it (see the module).

    Args:
        path: the run's ``telemetry.jsonl``.
        start: where the tail starts (a line's start: the first client's offset).
        encode: turns a block of whole lines read at an offset into SSE messages.
        poll_s: how often to look for new lines.
        stopping: when it is set, the tail reads what is left and ends.
    """

    def __init__(
        self,
        path: Path,
        start: int,
        encode: Callable[[bytes, int], bytes],
        poll_s: float,
        stopping: Callable[[], bool],
    ) -> None:
        self.path = path
        self.offset = start
        self.clients: set[Client] = set()
        self.ended = False
        self._follow = Follow(path, start)
        self._encode = encode
        self._poll_s = poll_s
        self._stopping = stopping
        self._wake = asyncio.Event()
        #: The task running :meth:`run`, once started.
        self.task: asyncio.Task[None] | None = None

    def join(self, limit: int) -> tuple[Client, int]:
        """A new client's buffer, and the offset from which the tail will fill it."""
        client = Client(limit=limit)
        self.clients.add(client)
        self._wake.set()
        return client, self.offset

    def leave(self, client: Client) -> None:
        """Forget a client; the tail stops when none is left."""
        self.clients.discard(client)
        self._wake.set()

    async def run(self) -> None:
        """Read and hand out new lines while anyone listens (one task per run)."""
        try:
            while self.clients:
                stopping = self._stopping()  # read what is there before giving up
                position = self._follow.offset
                block = await asyncio.to_thread(self._follow.read)
                if block:
                    messages = self._encode(block, position)
                    self.offset = self._follow.offset
                    for client in list(self.clients):
                        client.offer(position, self.offset, block, messages)
                    await asyncio.sleep(0)
                    continue
                if stopping:
                    break
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self._poll_s)
                except asyncio.TimeoutError:
                    pass
        finally:
            self.ended = True
            self._follow.close()
            for client in list(self.clients):
                client.ready.set()


class Tails:
    """The tails of one server, by run file: made on a run's first client, gone after its last."""

    def __init__(self) -> None:
        self._tails: dict[Path, RunTail] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def tail(
        self,
        path: Path,
        start: int,
        encode: Callable[[bytes, int], bytes],
        poll_s: float,
        stopping: Callable[[], bool],
    ) -> RunTail:
        """The run's tail; a new one (starting at ``start``) when none runs."""
        found = self._tails.get(path)
        if found is not None and not found.ended:
            return found
        tail = RunTail(path, start, encode, poll_s, stopping)
        self._tails[path] = tail
        return tail

    def start(self, tail: RunTail) -> None:
        """Start the tail's task unless it runs already."""
        if tail.task is not None:
            return
        task = tail.task = asyncio.get_running_loop().create_task(self._run(tail))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, tail: RunTail) -> None:
        try:
            await tail.run()
        finally:
            if self._tails.get(tail.path) is tail:
                del self._tails[tail.path]


async def _history(
    path: Path, start: int, end: int, encode: Callable[[bytes, int], bytes]
) -> AsyncGenerator[bytes, None]:
    """The messages of the whole lines in ``[start, end)``, read by the client itself, a
    block at a time (a replay of a large log never sits in memory whole)."""
    follow = Follow(path, start)
    try:
        while follow.offset < end:
            position = follow.offset
            block = await asyncio.to_thread(follow.read)
            if not block:
                break
            yield encode(block[: end - position], position)
    finally:
        follow.close()


async def stream_lines(
    tails: Tails,
    path: Path,
    start: int,
    *,
    encode: Callable[[bytes, int], bytes],
    resync: Callable[[], Awaitable[tuple[int, bytes]]],
    poll_s: float,
    stopping: Callable[[], bool],
    limit: int = BUFFER_BYTES,
) -> AsyncIterator[bytes]:
    """One client's stream: the lines from ``start``, then the shared tail's.

    Args:
        tails: the server's tails.
        path: the run's log.
        start: a line's start.
        encode: block of whole lines at an offset -> SSE messages.
        resync: a fresh snapshot as ``(offset, resync message)``, for a client behind.
        poll_s: how often the tail looks for new lines.
        stopping: whether the server is stopping.
        limit: the client's buffer bound in bytes.

    Yields:
        SSE messages, each written as it comes.
    """
    while True:
        tail = tails.tail(path, start, encode, poll_s, stopping)
        client, joined = tail.join(limit)
        tails.start(tail)
        try:
            if start < joined:
                # Closed here, not when collected: a client gone mid-replay leaves no open file.
                async with aclosing(_history(path, start, joined, encode)) as history:
                    async for messages in history:
                        yield messages
                start = joined
            behind = False
            while not behind:
                if not client.blocks and not client.behind:
                    if tail.ended:
                        return
                    await client.ready.wait()
                behind = client.behind
                for first, end, raw, messages in client.take():
                    if end <= start:
                        continue  # before where this client is: it has those lines
                    yield messages if first >= start else encode(raw[start - first :], start)
                    start = end
        finally:
            tail.leave(client)
        try:
            start, message = await resync()
        except Exception:  # the run went away meanwhile: end this stream, never the server
            return
        yield message
