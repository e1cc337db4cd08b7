"""A SMALL STAND-IN for spanline's dashboard server, for the page's browser tests.

It stands in for the real server (Starlette + sse-starlette, built on another
branch) until both land; then these tests should run against `spanline serve`
and this module goes. It implements only what the page reads, exactly as the
API is specified:

- ``GET /``: ``build_page()``, with the CSP header the real server sends;
- ``GET /api/runs``: ``[{run_id, created, status, service_name, query, has_summary}]``,
  newest first;
- ``GET /api/runs/{id}/snapshot``: ``{run_id, offset, summary, lanes, open_spans}``,
  the folds of the complete lines up to ``offset``; ``lanes`` include planned agents
  not started yet (``status: "queued"``, ``plan_id``), and ``open_spans`` the spans
  open at ``offset`` (``span_id, parent, name, kind, start_ts``) so the page can
  link later lines to them -- both asked of the real server;
- ``GET /events?run=ID&from=OFFSET``: SSE, ``data`` = one line verbatim, ``id`` =
  the byte offset just past it; ``Last-Event-ID`` wins over ``from``.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import spanline
from spanline._runs import list_runs, read_run_start, validate_run_id
from spanline.dashboard.page import build_page, script_hash, style_hash

AGENT_KINDS = set(spanline.AGENT_KINDS)


def complete_lines(path: Path, start: int = 0) -> list[tuple[int, bytes]]:
    """(offset just past the line, line) for each newline-terminated line from ``start``."""
    with open(path, "rb") as handle:
        handle.seek(start)
        data = handle.read()
    out, pos = [], start
    for line in data.split(b"\n")[:-1]:  # a partial last line waits for its newline
        pos += len(line) + 1
        out.append((pos, line))
    return out


def lanes_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One lane per agent span: subtree sums of tokens, tool uses and cost."""
    kinds = AGENT_KINDS
    spans: dict[str, dict[str, Any]] = {}
    lanes: dict[str, dict[str, Any]] = {}
    plans: dict[str, dict[str, Any]] = {}  # planned agents not started yet: queued lanes
    for ev in events:
        kind = ev.get("event")
        if kind == "run_start" and ev.get("agent_kinds"):
            kinds = set(ev["agent_kinds"])
        elif kind == "span_planned":
            plans[ev["plan_id"]] = {
                "span_id": ev["plan_id"], "plan_id": ev["plan_id"], "name": ev["name"],
                "kind": ev.get("kind"), "agent_id": None, "phase": None, "start_ts": None,
                "end_ts": None, "status": "queued", "tokens": 0, "tool_uses": 0,
                "cost_usd": 0.0, "error": None, "parent": ev.get("parent"),
            }  # fmt: skip
        elif kind == "span_start":
            parent = spans.get(ev.get("parent") or "", {})
            phase = ev["name"] if ev.get("kind") == "phase" else parent.get("phase")
            lane = parent.get("lane")
            attrs = ev.get("attributes") or {}
            if ev.get("kind") in kinds or attrs.get("gen_ai.operation.name") == "invoke_agent":
                lane = ev["span_id"]
                lanes[lane] = {
                    "span_id": lane, "name": ev["name"], "kind": ev.get("kind"),
                    "agent_id": attrs.get("gen_ai.agent.id"), "phase": phase,
                    "start_ts": ev["ts"], "end_ts": None, "status": None, "tokens": 0,
                    "tool_uses": 0, "cost_usd": 0.0, "error": None,
                }  # fmt: skip
                fulfilled = [p for p, plan in plans.items() if plan["name"] == ev["name"]]
                if fulfilled:
                    lanes[lane]["plan_id"] = plans.pop(fulfilled[0])["plan_id"]
            spans[ev["span_id"]] = {"lane": lane, "phase": phase}
        elif kind == "span_end":
            span = spans.get(ev["span_id"], {})
            lane_id = span.get("lane")
            if lane_id in lanes:
                lane = lanes[lane_id]
                lane["tokens"] += ev.get("tokens", 0)
                lane["tool_uses"] += ev.get("tool_uses", 0)
                if lane_id == ev["span_id"]:
                    lane.update(end_ts=ev["ts"], status=ev["status"], error=ev.get("error"))
    return [*lanes.values(), *plans.values()]


def open_spans(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Spans started and not ended: ``{span_id, parent, name, kind, start_ts}``."""
    spans: dict[str, dict[str, Any]] = {}
    for ev in events:
        if ev.get("event") == "span_start":
            spans[ev["span_id"]] = {
                "span_id": ev["span_id"], "parent": ev.get("parent"), "name": ev.get("name"),
                "kind": ev.get("kind"), "start_ts": ev.get("ts"),
            }  # fmt: skip
        elif ev.get("event") == "span_end":
            spans.pop(ev["span_id"], None)
    return list(spans.values())


class StandIn(ThreadingHTTPServer):
    """Serves one base directory on 127.0.0.1; ``stop()`` ends every stream."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, base: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.base = base
        self.stopping = threading.Event()
        self.page = build_page()
        self.csp = (
            f"default-src 'none'; script-src {script_hash(self.page)}; "
            f"style-src {style_hash(self.page)}; connect-src 'self'; img-src 'self' data:; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> StandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: StandIn

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        parts = [unquote(p) for p in url.path.split("/") if p]
        if url.path == "/":
            self._send(200, "text/html; charset=utf-8", self.server.page.encode())
        elif parts == ["api", "runs"]:
            self._json([self._run_row(run) for run in list_runs(self.server.base)])
        elif len(parts) == 4 and parts[:2] == ["api", "runs"] and parts[3] == "snapshot":
            directory = self._run_dir(parts[2])
            if directory is not None:
                self._json(self._snapshot(directory))
        elif url.path == "/events":
            directory = self._run_dir(query.get("run", [""])[0])
            if directory is not None:
                start = self.headers.get("Last-Event-ID") or query.get("from", ["0"])[0]
                self._stream(directory / "telemetry.jsonl", int(start))
        else:
            self._send(404, "text/plain", b"not found")

    def _run_dir(self, run_id: str) -> Path | None:
        try:
            validate_run_id(run_id)
        except ValueError:
            self._send(400, "text/plain", b"malformed run id")
            return None
        directory = self.server.base / "runs" / run_id
        if not directory.is_dir():
            self._send(404, "text/plain", b"unknown run")
            return None
        return directory

    def _run_row(self, run: Any) -> dict[str, Any]:
        start = read_run_start(run) or {}
        summary = run.summary_path
        status = json.loads(summary.read_text())["status"] if summary.exists() else "incomplete"
        return {
            "run_id": run.run_id, "created": start.get("ts"), "status": status,
            "service_name": start.get("service_name"), "query": start.get("query"),
            "has_summary": summary.exists(),
        }  # fmt: skip

    def _snapshot(self, directory: Path) -> dict[str, Any]:
        lines = complete_lines(directory / "telemetry.jsonl")
        offset = lines[-1][0] if lines else 0
        events = [json.loads(line) for _, line in lines]
        summary = spanline.summarize(events, run_id=directory.name).to_dict()
        return {"run_id": directory.name, "offset": offset, "summary": summary,
                "lanes": lanes_of(events), "open_spans": open_spans(events)}  # fmt: skip

    def _stream(self, path: Path, offset: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        last_write = time.monotonic()
        try:
            while not self.server.stopping.is_set():
                lines = complete_lines(path, offset)
                for end, line in lines:
                    self.wfile.write(b"id: %d\ndata: %s\n\n" % (end, line))
                    self.wfile.flush()  # one event at a time, as the real server
                    offset = end
                if lines:
                    last_write = time.monotonic()
                elif time.monotonic() - last_write > 5:
                    self.wfile.write(b": keep-alive\n\n")
                    self.wfile.flush()
                    last_write = time.monotonic()
                self.server.stopping.wait(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the page closed the stream

    def _json(self, value: Any) -> None:
        self._send(200, "application/json", json.dumps(value).encode())

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if content_type.startswith("text/html"):
            self.send_header("Content-Security-Policy", self.server.csp)
        self.end_headers()
        self.wfile.write(body)
