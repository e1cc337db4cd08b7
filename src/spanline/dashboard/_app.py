"""The Starlette application: the page, the JSON API and the ``/events`` stream.

Every endpoint is a GET and none writes. Run ids go through the run store
before any file is touched: a malformed id gets 400, an unknown one 404, at
once. A guard in front of the application checks the ``Host`` header (DNS
rebinding), the key of a server reachable from other machines, and adds the
security headers to every response.
"""

from __future__ import annotations

import hmac
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from spanline._lines._read import NONFINITE_HINT, finite_line
from spanline._runs._store import Run
from spanline.dashboard import _data
from spanline.dashboard._streams import BUFFER_BYTES, Tails, stream_lines
from spanline.exceptions import InvalidRunIdError, RunNotFoundError

__all__ = ["DashboardConfig", "content_security_policy", "create_app", "read_page"]

_SCRIPT = re.compile(rb"<script(?:\s[^>]*)?>(.*?)</script\s*>", re.DOTALL | re.IGNORECASE)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass
class DashboardConfig:
    """What one server serves, and how.

    Attributes:
        base: the base directory holding ``runs/``.
        allowed_hosts: ``Host`` header values accepted (``host:port``); a value
            ``*:<port>`` accepts any host name on that port (wildcard binds).
        poll_s: how often a stream looks for new lines.
        ping_s: seconds between keep-alive comments on a stream.
        stopping: set when the server stops: streams end.
        token: the key every request must carry (served remotely), or None (no key):
            ``?token=<key>`` once, which sets a cookie, then the cookie.
        token_cookie: the cookie's name (one per port: cookies ignore ports).
        stops_with: the run whose process serves this server (it stops when that
            run ends), or None.
        reopen: the command that serves ``stops_with`` again once it has ended.
        requests: the requests being answered now (streams included).
        last_request: when the last request ended (``time.monotonic()``), or None.
        streams: the ``/events`` streams open now.
        snapshots: the snapshot requests answered so far.
        buffer_bytes: how many bytes of messages one stream may have waiting before
            it is resynced (see :mod:`spanline.dashboard._streams`).
        resyncs: the ``resync`` events sent so far.
        tails: the shared tail of each run being streamed.
    """

    base: Path
    allowed_hosts: set[str] = field(default_factory=set)
    poll_s: float = 0.1
    ping_s: float = 15.0
    stopping: threading.Event = field(default_factory=threading.Event)
    token: str | None = None
    token_cookie: str = "spanline_token"
    stops_with: str | None = None
    reopen: str | None = None
    requests: int = 0
    last_request: float | None = None
    streams: int = 0
    snapshots: int = 0
    buffer_bytes: int = BUFFER_BYTES
    resyncs: int = 0
    tails: Tails = field(default_factory=Tails)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def request_started(self) -> None:
        """Count a request in (see :meth:`DashboardServer.stop`)."""
        with self.lock:
            self.requests += 1

    def request_ended(self) -> None:
        """Count a request out, and note when."""
        with self.lock:
            self.requests -= 1
            self.last_request = time.monotonic()


@cache
def read_page() -> bytes:
    """The page: one HTML file with D3 and the app inlined (built once per process)."""
    from spanline.dashboard.page import build_page

    return build_page().encode("utf-8")


def content_security_policy(page: bytes) -> str:
    """A Content-Security-Policy allowing exactly the page's inline script and style, by hash."""
    from spanline.dashboard.page import script_hash, style_hash

    html = page.decode("utf-8")
    return (
        f"default-src 'none'; script-src {script_hash(html)}; style-src {style_hash(html)}; "
        "connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


_BASE_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
_API_CSP = b"default-src 'none'; frame-ancestors 'none'"


class _Guard:
    """Refuses other ``Host`` headers (DNS rebinding) and, when the server has a key,
    requests without it (401); adds the security headers to every response."""

    def __init__(self, app: ASGIApp, config: DashboardConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refused, cookie = None, None
        if not self._allowed((request.headers.get("host") or "").lower()):
            refused = PlainTextResponse("invalid Host header", status_code=400)
        elif self.config.token is not None:
            cookie, known = self._key(request)
            if not known:
                refused = PlainTextResponse(
                    "this dashboard needs its key: open the address `spanline serve` printed "
                    "(it ends with ?token=...)",
                    status_code=401,
                )
        if refused is not None:
            await refused(scope, receive, self._secured(send))
            return
        self.config.request_started()
        try:
            await self.app(scope, receive, self._secured(send, cookie))
        finally:
            self.config.request_ended()

    def _key(self, request: Request) -> tuple[bytes | None, bool]:
        """Whether the request carries the key, and the cookie to set when it came in
        the address (the page's own requests then carry the cookie)."""
        config = self.config
        token = (config.token or "").encode()
        given = request.query_params.get("token")
        if given is not None and hmac.compare_digest(given.encode("utf-8", "replace"), token):
            cookie = f"{config.token_cookie}={config.token}; Path=/; HttpOnly; SameSite=Strict"
            return cookie.encode("latin-1"), True
        held = request.cookies.get(config.token_cookie)
        known = held is not None and hmac.compare_digest(held.encode("utf-8", "replace"), token)
        return None, known

    def _allowed(self, host: str) -> bool:
        allowed = self.config.allowed_hosts
        if host in allowed:
            return True
        port = host.rsplit(":", 1)[-1] if ":" in host else ""
        return bool(port) and f"*:{port}" in allowed

    @staticmethod
    def _secured(send: Send, cookie: bytes | None = None) -> Send:
        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                names = {name.lower() for name, _ in headers}
                headers.extend(item for item in _BASE_HEADERS if item[0] not in names)
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", _API_CSP))
                if cookie is not None:
                    headers.append((b"set-cookie", cookie))
                message["headers"] = headers
            await send(message)

        return secured


def _json(value: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(value), status_code=status, media_type="application/json")


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


#: A byte offset as a parameter: ASCII digits only (``str.isdigit`` also takes ``²`` and
#: the digits of other scripts, which ``int`` refuses or reads), at most 19 of them.
_OFFSET = re.compile(r"[0-9]{1,19}")
_OFFSET_MAX = 2**63 - 1  # what a file offset can be


def _offset(raw: str | None, name: str) -> int | None:
    """The one reading of a number a request carries (query parameters, ``Last-Event-ID``).

    Raises:
        BadOffset: anything but ASCII digits naming a whole number up to 2**63 - 1
            (the caller answers 400).
    """
    if raw is None or raw == "":
        return None
    if _OFFSET.fullmatch(raw) is None or int(raw) > _OFFSET_MAX:
        raise _data.BadOffset(
            f"{name} must be a byte offset: a whole number from 0 to {_OFFSET_MAX}, in ASCII digits"
        )
    return int(raw)


async def _resolve(config: DashboardConfig, run_id: str | None) -> Run:
    if run_id is None:
        return await run_in_threadpool(_data.latest_run, config.base)
    return await run_in_threadpool(_data.get_run, config.base, run_id)


def _handled(
    endpoint: Callable[[Request, DashboardConfig], Awaitable[Response]], config: DashboardConfig
) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint with the run store's errors as 400 and 404."""

    async def handle(request: Request) -> Response:
        try:
            return await endpoint(request, config)
        except (InvalidRunIdError, _data.BadOffset) as exc:
            return _error(400, str(exc))
        except RunNotFoundError as exc:
            return _error(404, str(exc))

    return handle


async def _page(request: Request, config: DashboardConfig) -> Response:
    page = await run_in_threadpool(read_page)
    return HTMLResponse(
        page,
        headers={
            "content-security-policy": content_security_policy(page),
            "cache-control": "no-cache",
        },
    )


async def _runs(request: Request, config: DashboardConfig) -> Response:
    return _json(await run_in_threadpool(_data.run_list, config.base))


async def _session(request: Request, config: DashboardConfig) -> Response:
    session_id = request.path_params["session_id"]
    return _json(await run_in_threadpool(_data.session_view, config.base, session_id))


async def _summary(request: Request, config: DashboardConfig) -> Response:
    run = await _resolve(config, request.path_params["run_id"])
    return _json(await run_in_threadpool(_data.summary, run))


async def _report(request: Request, config: DashboardConfig) -> Response:
    """The run's analysis report as plain text, so a browser shows it as it is."""
    run = await _resolve(config, request.path_params["run_id"])
    text = await run_in_threadpool(_data.report, run)
    return Response(text, media_type="text/plain; charset=utf-8")


_SHA256 = re.compile(r"[0-9a-f]{64}")


async def _blob(request: Request, config: DashboardConfig) -> Response:
    """A value the run stored out of line (``blobs/``), as text (a JSON value as its JSON):
    whole, as a download, or with ``?head=N`` its first N bytes, for the span details."""
    from spanline._lines._blobs import BlobError, read_blob

    run = await _resolve(config, request.path_params["run_id"])
    digest = request.path_params["sha256"]
    if not _SHA256.fullmatch(digest):
        return _error(400, "a blob is named by 64 lower-case hex digits")
    try:
        data = await run_in_threadpool(read_blob, run.directory, digest)
    except BlobError as exc:
        return _error(422, str(exc))
    if data is None:
        return _error(404, "no file for this blob: its process ended before writing it")
    head = _offset(request.query_params.get("head"), "head")
    if head is not None:  # what the span details show: the first bytes only
        return Response(data[:head], media_type="text/plain; charset=utf-8")
    return Response(
        data,
        media_type="text/plain; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{digest}"'},
    )


async def _snapshot(request: Request, config: DashboardConfig) -> Response:
    run = await _resolve(config, request.path_params["run_id"])
    offset = _offset(request.query_params.get("offset"), "offset")
    data = await run_in_threadpool(_data.snapshot, run, offset)
    with config.lock:
        config.snapshots += 1
    data["server"] = _server_info(config, run)
    return _json(data)


def _server_info(config: DashboardConfig, run: Run) -> dict[str, Any]:
    with config.lock:  # a rotation moves both at once
        own, reopen = config.stops_with, config.reopen
    return {
        "stops_with_run": own == run.run_id,
        "reopen": reopen if own == run.run_id else None,
        # The run the serving process writes now: another once the process rotated.
        "live_run": own,
    }


async def _events_page(request: Request, config: DashboardConfig) -> Response:
    run = await _resolve(config, request.path_params["run_id"])
    start = _offset(request.query_params.get("from"), "from") or 0
    limit = _offset(request.query_params.get("limit"), "limit")
    limit = 1000 if limit is None else min(limit, _data.MAX_LIMIT)
    return _json(await run_in_threadpool(_data.event_page, run, start, limit))


async def _stream(request: Request, config: DashboardConfig) -> Response:
    run = await _resolve(config, request.query_params.get("run"))
    start = _offset(request.headers.get("last-event-id"), "Last-Event-ID")
    if start is None:
        start = _offset(request.query_params.get("from"), "from") or 0
    await run_in_threadpool(_data.check_offset, run.telemetry_path, start)
    return EventSourceResponse(
        _tail(run, start, config),
        ping=config.ping_s,
        headers={"x-accel-buffering": "no"},
    )


async def _tail(run: Run, start: int, config: DashboardConfig) -> AsyncIterator[bytes]:
    """Each line from ``start``, then each new one, as it is completed.

    The run's lines are read once for every client (a shared tail); a client that
    falls behind gets a ``resync`` event instead of slowing the others.
    """

    async def resync() -> tuple[int, bytes]:
        data = await run_in_threadpool(_data.snapshot, run, None)
        data["server"] = _server_info(config, run)
        with config.lock:
            config.resyncs += 1
        body = orjson.dumps({"offset": data["offset"], "snapshot": data}).decode()
        message = ServerSentEvent(data=body, event="resync", id=str(data["offset"]))
        return data["offset"], message.encode()

    with config.lock:
        config.streams += 1
    try:
        async for messages in stream_lines(
            config.tails,
            run.telemetry_path,
            start,
            encode=_messages,
            resync=resync,
            poll_s=config.poll_s,
            stopping=config.stopping.is_set,
            limit=config.buffer_bytes,
        ):
            yield messages
    finally:
        with config.lock:
            config.streams -= 1


def _messages(block: bytes, position: int) -> bytes:
    return encode_lines(block, position)[0]


def encode_lines(block: bytes, position: int) -> tuple[bytes, int]:
    """The SSE messages for ``block`` (whole lines read at ``position``), and the offset after it.

    One message per non-empty line: its ``data`` the line, its ``id`` the byte offset
    just past it. They go out as one write: building each message as an object and
    sending it on its own cost the server most of a core with ten clients on a busy
    run, a core the traced program needs. The bytes are the ones sse-starlette writes
    for the same message; a line it would change (carriage returns, bad UTF-8) is
    left to it.
    """
    parts: list[bytes] = []
    lines = block.split(b"\n")
    lines.pop()  # block ends with a newline: nothing after it
    hinted = NONFINITE_HINT.search(block) is not None
    try:
        block.decode("utf-8")
        plain = b"\r" not in block
    except UnicodeDecodeError:
        plain = False
    for line in lines:
        position += len(line) + 1  # the offset past the line as it is in the file
        if not line:
            continue
        if hinted:
            line = finite_line(line)[0]  # a browser's JSON.parse refuses NaN
        if plain:
            parts.append(b"id: %d\r\ndata: %s\r\n\r\n" % (position, line))
        else:
            text = line.decode("utf-8", "replace")
            parts.append(ServerSentEvent(data=text, id=str(position)).encode())
    return b"".join(parts), position


async def _not_found(request: Request) -> Response:
    return _error(404, "not found")


def create_app(config: DashboardConfig) -> ASGIApp:
    """The dashboard's ASGI application, behind its Host check and security headers.

    Args:
        config: what to serve and which ``Host`` headers to accept.

    Returns:
        The application.
    """
    routes = [
        Route("/", _handled(_page, config)),
        Route("/api/runs", _handled(_runs, config)),
        # ``:path`` so that ``../x`` (however encoded) reaches the run store and gets 400.
        Route("/api/runs/{run_id:path}/summary", _handled(_summary, config)),
        Route("/api/runs/{run_id:path}/snapshot", _handled(_snapshot, config)),
        Route("/api/runs/{run_id:path}/report", _handled(_report, config)),
        Route("/api/runs/{run_id:path}/events", _handled(_events_page, config)),
        Route("/api/sessions/{session_id:path}", _handled(_session, config)),
        Route("/api/runs/{run_id:path}/blobs/{sha256}", _handled(_blob, config)),
        Route("/events", _handled(_stream, config)),
        Route("/{rest:path}", _not_found),
    ]
    return _Guard(Starlette(routes=routes), config)
