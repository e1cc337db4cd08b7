"""OTLP exporter: every finished span to an OpenTelemetry receiver, over HTTP/protobuf or gRPC.

Selected with ``SPANLINE_EXPORTERS=otlp`` or ``configure_observability(exporters=["otlp"])``;
needs ``pip install 'spanline[otlp]'``. It sends through OpenTelemetry's official OTLP
exporters, so their standard variables apply: ``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, ``OTEL_EXPORTER_OTLP_HEADERS``,
``OTEL_EXPORTER_OTLP_PROTOCOL`` (``http/protobuf``, the default, or ``grpc``),
``OTEL_EXPORTER_OTLP_TIMEOUT``, ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from spanline._version import __version__
from spanline.exceptions import ConfigurationError
from spanline.exporters._otel_mapping import (
    INSTRUMENTATION_SCOPE,
    OtelSpan,
    SpanAssembler,
    resource_attributes,
)

__all__ = ["OtlpExporter"]

PROTOCOLS = ("http/protobuf", "grpc")
_STATUS = {"ok": StatusCode.OK, "error": StatusCode.ERROR, "unset": StatusCode.UNSET}
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_SCOPE = InstrumentationScope(INSTRUMENTATION_SCOPE, __version__)
# The official exporters already retry with backoff inside each request's deadline, and
# log every failed batch. spanline counts and reports losses once itself, so their log
# lines must not reach a host that configured no logging (Python's last-resort handler
# would print each one); a host that did configure logging still gets them.
logging.getLogger("opentelemetry.exporter.otlp").addHandler(logging.NullHandler())

# Set on spanline's own requests: httpx, requests, urllib3 and gRPC instrumentations of
# the host check it and trace nothing. The key lives in the API's private namespace, as
# the SDK's own processors use it.
_SUPPRESS_KEYS = [
    key
    for key in (
        getattr(otel_context, "_SUPPRESS_INSTRUMENTATION_KEY", None),
        getattr(otel_context, "_SUPPRESS_HTTP_INSTRUMENTATION_KEY", None),
    )
    if key is not None
]


def _protocol(given: str | None) -> str:
    protocol = (
        given
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if protocol not in PROTOCOLS:
        raise ConfigurationError(
            f"OTLP protocol {protocol!r} is not supported; use one of {', '.join(PROTOCOLS)}"
        )
    return protocol


def _resource_from_environment() -> dict[str, str]:
    """``OTEL_RESOURCE_ATTRIBUTES`` as OpenTelemetry parses it (percent-decoded)."""
    from opentelemetry.sdk.resources import OTELResourceDetector

    detected = OTELResourceDetector().detect().attributes
    return {key: str(value) for key, value in detected.items()}


def load_sender(target: str) -> Any:
    """The sender class named ``module:class``."""
    import importlib

    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


class OtlpSender:
    """Assembles spans from batches of events and sends them with the official OTLP client,
    on the calling thread. :class:`OtlpExporter` runs one in a process of its own; the
    arguments are the exporter's.
    """

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        protocol: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        max_batch: int = 512,
        max_open: int = 100_000,
    ) -> None:
        if max_batch < 1 or max_open < 1:
            raise ConfigurationError("max_batch and max_open must be at least 1")
        self.protocol = _protocol(protocol)
        self.max_batch = max_batch
        self._settings: dict[str, Any] = {
            "endpoint": endpoint,
            "headers": dict(headers) if headers is not None else None,
            "timeout": timeout,
        }
        self._max_open = max_open
        self._extra_resource = _resource_from_environment()
        self._client: Any = None
        self._open()

    def _open(self) -> None:
        self._assembler = SpanAssembler(self._max_open)
        self._resource: Resource | None = None
        self._resource_has_header = False
        # Spans assembled from the batch being exported and not yet accepted by the
        # receiver: a retry of that same batch sends only these, never a span twice.
        self._batch: object | None = None
        self._unsent: list[ReadableSpan] = []
        if self.protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter as GrpcSpanExporter,
            )

            settings = dict(self._settings)
            if settings["endpoint"] and settings["endpoint"].startswith("http://"):
                settings["insecure"] = True
            self._client = GrpcSpanExporter(**settings)
        else:
            self._client = HttpSpanExporter(**self._settings)

    def export(self, batch: Sequence[Mapping[str, Any]]) -> None:
        """Send the spans that end in ``batch``.

        Raises:
            ConnectionError: the receiver did not take them (the platform retries the
                same batch, which resumes where this attempt stopped).
        """
        if batch is not self._batch:
            self._batch = batch
            self._unsent = self._spans(batch)
        while self._unsent:
            chunk = self._unsent[: self.max_batch]
            if self._send(chunk) is not SpanExportResult.SUCCESS:
                raise ConnectionError(
                    f"the OTLP receiver did not accept {len(chunk)} spans "
                    f"({self.protocol}; see the OpenTelemetry exporter's log for why)"
                )
            del self._unsent[: len(chunk)]

    def _spans(self, batch: Sequence[Mapping[str, Any]]) -> list[ReadableSpan]:
        """The spans to send for ``batch``: those it ends (an exporter built on this one
        may send more, such as Logfire's pending spans)."""
        return [
            self._readable(span) for span in map(self._assembler.add, batch) if span is not None
        ]

    def _resource_attributes(self, header: Mapping[str, Any] | None) -> dict[str, Any]:
        """The resource of every span, from the run's ``run_start`` line when seen."""
        return dict(resource_attributes(header, self._extra_resource))

    def _send(self, chunk: list[ReadableSpan]) -> SpanExportResult:
        ctx = otel_context.get_current()
        for key in _SUPPRESS_KEYS:
            ctx = otel_context.set_value(key, True, ctx)
        token = otel_context.attach(ctx)
        try:
            result: SpanExportResult = self._client.export(chunk)
        finally:
            otel_context.detach(token)
        return result

    def _readable(self, span: OtelSpan) -> ReadableSpan:
        header = self._assembler.header
        if self._resource is None or (header is not None and not self._resource_has_header):
            # Built once, and once more when run_start arrives (a child process never
            # sees it: its resource comes from the environment alone).
            self._resource = Resource(self._resource_attributes(header))
            self._resource_has_header = header is not None
        trace_id = int(span.trace_id, 16)
        parent = (
            SpanContext(trace_id, int(span.parent_span_id, 16), False, _SAMPLED)
            if span.parent_span_id
            else None
        )
        status = _STATUS[span.status]
        return ReadableSpan(
            name=span.name,
            context=SpanContext(trace_id, int(span.span_id, 16), False, _SAMPLED),
            parent=parent,
            resource=self._resource,
            attributes=span.attributes,
            events=[Event(e.name, e.attributes, e.time_ns) for e in span.events],
            kind=SpanKind.INTERNAL,
            status=Status(status, span.status_message or None)
            if status is StatusCode.ERROR
            else Status(status),
            start_time=span.start_ns,
            end_time=span.end_ns,
            instrumentation_scope=_SCOPE,
        )

    def shutdown(self) -> None:
        """Stop the client: a retry still waiting gives up at once."""
        self._client.shutdown()

    def after_fork(self) -> None:
        """A forked child gets its own connection and forgets the parent's open spans."""
        self._open()


class OtlpExporter:
    """Sends each spanline span, once it ends, as an OpenTelemetry span over OTLP.

    Spans keep their trace and span ids, parents, times, status, attributes (start
    merged with end) and events. The exporter runs on its own worker thread behind a
    bounded queue (the exporter platform), so a dead, slow or failing receiver never
    blocks the caller, ``telemetry.jsonl`` or other exporters; the official client
    retries with backoff within each request's timeout, the platform retries the batch
    (resuming where it stopped: no span is sent twice), and what is finally lost is
    counted in ``run_summary.json`` under ``exporters.otlp``.

    Spans are built, encoded and sent on the exporter's thread. With ``process=True``
    that work runs in a helper process instead: this object only hands it each batch
    (serialized in C) and waits for its answer without holding the GIL. That frees
    the GIL but takes a core: on the 2-core machine it was measured on, sending from
    the thread cost the traced program less (see docs/performance.md).

    Args:
        endpoint: the receiver; default from ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or
            ``OTEL_EXPORTER_OTLP_ENDPOINT`` (HTTP: ``http://localhost:4318/v1/traces``,
            gRPC: ``localhost:4317``).
        protocol: ``http/protobuf`` or ``grpc``; default from
            ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`` / ``OTEL_EXPORTER_OTLP_PROTOCOL``.
        headers: extra request headers; default from ``OTEL_EXPORTER_OTLP_HEADERS``.
        timeout: seconds per request, retries included; default from
            ``OTEL_EXPORTER_OTLP_TIMEOUT`` (10 s).
        max_batch: spans per request.
        max_open: spans started and not yet ended that are remembered.
        max_pending: events allowed to wait for this exporter; past it, batches are
            dropped and counted. Kept small (about 10 MB of events) because events
            held in memory cost the program garbage-collector time while it runs.
        process: send from a helper process (niced, ended with the program) instead
            of the exporter's thread.

    Raises:
        ConfigurationError: an unknown protocol or a non-positive size.
    """

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        protocol: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        max_batch: int = 512,
        max_open: int = 100_000,
        max_pending: int = 20_000,
        process: bool = False,
    ) -> None:
        if max_pending < 1:
            raise ConfigurationError("max_pending must be at least 1")
        #: Read by the exporter platform: the bound of this exporter's queue.
        self.max_pending = max_pending
        settings: dict[str, Any] = {
            "endpoint": endpoint,
            "protocol": _protocol(protocol),
            "headers": dict(headers) if headers is not None else None,
            "timeout": timeout,
            "max_batch": max_batch,
            "max_open": max_open,
            **self._sender_settings(),
        }
        self.protocol: str = settings["protocol"]
        self._sender: Any
        if process:
            from spanline.exporters._otlp_process import SenderProcess

            if max_batch < 1 or max_open < 1:
                raise ConfigurationError("max_batch and max_open must be at least 1")
            self._sender = SenderProcess({**settings, "sender": self.SENDER})
        else:
            self._sender = load_sender(self.SENDER)(**settings)

    #: The sender this exporter runs, as ``module:class``: the helper process imports it
    #: by that name. An exporter built on this one (Logfire's) names its own.
    SENDER = "spanline.exporters.otlp:OtlpSender"

    def _sender_settings(self) -> dict[str, Any]:
        """Keyword arguments of :attr:`SENDER` beyond the OTLP ones (JSON values)."""
        return {}

    def export(self, batch: Sequence[Mapping[str, Any]]) -> None:
        """Send the spans that end in ``batch``.

        Raises:
            ConnectionError: the receiver did not take them (the platform retries the
                same batch, which resumes where this attempt stopped).
        """
        self._sender.export(batch)

    def flush(self, timeout: float | None = None) -> bool:
        """Nothing is buffered between batches: each ``export`` sends before returning."""
        return True

    def shutdown(self, timeout: float | None = None) -> None:
        """Stop sending; a helper process gets ``timeout`` seconds (default 5) to finish."""
        if isinstance(self._sender, OtlpSender):
            self._sender.shutdown()
        else:
            self._sender.shutdown(5.0 if timeout is None else timeout)

    def after_fork(self) -> None:
        """A forked child sends on its own and forgets the parent's open spans."""
        self._sender.after_fork()
