"""A tiny OTLP/HTTP receiver for wire details (status codes, retries, outages).

Built on opentelemetry-proto: every request body is parsed as the real
``ExportTraceServiceRequest``. It complements the real receiver (Phoenix), which
cannot be told to answer 503 or to hang.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


class Receiver:
    """Collects the spans it receives; ``failures`` answers 503 that many times first
    (after the first ``accept_first`` requests), ``delay`` holds every request that long
    before answering."""

    def __init__(
        self, *, failures: int = 0, delay: float = 0.0, port: int = 0, accept_first: int = 0
    ) -> None:
        self.failures = failures
        self.accept_first = accept_first
        self.delay = delay
        self.requests = 0
        self.arrived = 0  # counted before the delay
        self.refused = 0
        self.spans: list[Any] = []
        self.resources: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}/v1/traces"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                with receiver._lock:
                    receiver.arrived += 1
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver._lock:
                    receiver.requests += 1
                    receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
                    if receiver.failures > 0 and receiver.requests > receiver.accept_first:
                        receiver.failures -= 1
                        receiver.refused += 1
                        code = 503
                    else:
                        code = 200
                        request = ExportTraceServiceRequest.FromString(body)
                        for resource_spans in request.resource_spans:
                            resource = {
                                a.key: a.value.WhichOneof("value")
                                and getattr(a.value, a.value.WhichOneof("value"))
                                for a in resource_spans.resource.attributes
                            }
                            for scope in resource_spans.scope_spans:
                                for span in scope.spans:
                                    receiver.spans.append(span)
                                    receiver.resources.append(resource)
                self.send_response(code)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop serving and close the socket (later requests are refused)."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def wait_for(self, count: int | set[str], timeout: float = 30.0) -> list[Any]:
        """The spans received, once there are at least ``count`` of them, or once every
        span id of a set has arrived (polled, bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if isinstance(count, int):
                    if len(self.spans) >= count:
                        return list(self.spans)
                elif count <= {span.span_id.hex() for span in self.spans}:
                    return list(self.spans)
            time.sleep(0.05)
        with self._lock:
            return list(self.spans)


@contextmanager
def receiver(**options: Any) -> Iterator[Receiver]:
    """A started :class:`Receiver`, stopped afterwards."""
    with Receiver(**options) as started:
        yield started


def free_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
