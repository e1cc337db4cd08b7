"""Fixtures of the bridge tests: an OpenTelemetry SDK provider with an in-memory exporter,
and a loopback HTTP server for real httpx requests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import spanline
import spanline.otel


class Host:
    """What a host application's own OpenTelemetry setup looks like (not the global one)."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = self.provider.get_tracer("host-app")


@pytest.fixture
def host() -> Iterator[Host]:
    made = Host()
    yield made
    made.provider.shutdown()


@pytest.fixture(autouse=True)
def _clean_bridge() -> Iterator[None]:
    yield
    spanline.shutdown()
    spanline.otel.uninstall()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 (stopped after the module)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join()
