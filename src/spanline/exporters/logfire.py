"""Logfire exporter: spans as Pydantic Logfire builds them, sent to its OTLP ingest endpoint.

Selected with ``SPANLINE_EXPORTERS=logfire`` or ``configure_observability(logfire=True)``;
needs ``pip install 'spanline[logfire]'``. Every span carries the attributes Logfire's
own SDK sets (``logfire.msg_template``, ``logfire.msg``, ``logfire.span_type``,
``logfire.level_num``, ``logfire.json_schema``, ``logfire.tags``); a *pending span* is
sent when a span starts, so Logfire's live view shows agents in flight; coordination
events (``spanline.event``) become Logfire logs under their span.

Where it sends, resolved as Logfire's SDK resolves it: the write token from the
argument, ``LOGFIRE_TOKEN``, or the project credentials file
``<LOGFIRE_CREDENTIALS_DIR or .logfire>/logfire_credentials.json`` (written by
``logfire projects use``); the base URL from the argument, ``LOGFIRE_BASE_URL``, that
file's ``logfire_api_url``, or the region named in the token. ``LOGFIRE_SERVICE_NAME``
and ``LOGFIRE_ENVIRONMENT`` name the service and environment in the resource.
"""

from __future__ import annotations

import os
import random
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
from opentelemetry.sdk.trace import ReadableSpan

from spanline._version import __version__
from spanline.exceptions import ConfigurationError, SpanlineWarning
from spanline.exporters._otel_mapping import AttributeValue, OtelSpan, attribute_value
from spanline.exporters.otlp import OtlpExporter

__all__ = ["DEFAULT_BASE_URL", "LEVEL_ERROR", "LEVEL_INFO", "LogfireExporter", "logfire_exporter"]

#: Where a token that names no known region sends (Logfire's own default).
DEFAULT_BASE_URL = "https://logfire-us.pydantic.dev"
_REGIONS = {"us": DEFAULT_BASE_URL, "eu": "https://logfire-eu.pydantic.dev"}
_TOKEN_REGION = re.compile(r"^pylf_v[0-9]+_(?P<region>[a-z]+)_")
CREDENTIALS_FILE = "logfire_credentials.json"

#: Logfire's level numbers (OpenTelemetry severity numbers) for info and error.
LEVEL_INFO = 9
LEVEL_ERROR = 17

#: How to authenticate, said when no token is found.
NO_TOKEN = (
    "no Logfire write token: set LOGFIRE_TOKEN, or run `logfire auth` and "
    "`logfire projects use <project>` in this directory (writes "
    ".logfire/logfire_credentials.json)"
)
_NO_PARENT = "0" * 16


def _credentials(directory: Path) -> tuple[str | None, str | None]:
    """(token, base URL) from Logfire's project credentials file, or Nones when absent."""
    path = directory / CREDENTIALS_FILE
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None, None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ConfigurationError(
            f"cannot read the Logfire credentials file {path}: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"the Logfire credentials file {path} is not a JSON object")
    token, url = data.get("token"), data.get("logfire_api_url")
    return (
        token if isinstance(token, str) and token.strip() else None,
        url if isinstance(url, str) and url.strip() else None,
    )


def _region_url(token: str) -> str:
    match = _TOKEN_REGION.match(token)
    return _REGIONS.get(match.group("region"), DEFAULT_BASE_URL) if match else DEFAULT_BASE_URL


def resolve_destination(
    token: str | None = None,
    base_url: str | None = None,
    credentials_dir: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[str, str]:
    """The write token and base URL, each from the argument, the environment, then the
    credentials file (the base URL last from the token's region).

    Raises:
        ConfigurationError: no token anywhere, or an unreadable credentials file.
    """
    env = os.environ if environ is None else environ
    # Logfire accepts several comma-separated tokens; this exporter sends to the first.
    token = token or env.get("LOGFIRE_TOKEN", "").split(",")[0].strip() or None
    base_url = base_url or env.get("LOGFIRE_BASE_URL", "").strip() or None
    directory = Path(
        credentials_dir or env.get("LOGFIRE_CREDENTIALS_DIR", "").strip() or ".logfire"
    )
    if token is None or base_url is None:
        file_token, file_url = _credentials(directory)
        token = token or file_token
        base_url = base_url or file_url
    if token is None:
        raise ConfigurationError(NO_TOKEN)
    base_url = base_url or _region_url(token)
    if not base_url.startswith(("http://", "https://")):
        raise ConfigurationError(f"the Logfire base URL {base_url!r} is not an http(s) URL")
    return token, base_url.rstrip("/")


def _structured(value: Any) -> bool:
    """Logfire sends str, bool, int and float as they are, anything else as JSON text."""
    return not isinstance(value, str | bool | int | float)


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=repr).decode()


def _schema(value: Any) -> dict[str, str]:
    """The JSON schema Logfire's SDK gives a plain JSON value (what its UI renders by)."""
    if value is None:
        return {"type": "null"}
    if isinstance(value, Mapping):
        return {"type": "object"}
    if isinstance(value, list | tuple):
        return {"type": "array"}
    return {"type": "string"}


def _template(name: str) -> str:
    # Logfire reads the template as a format string: braces in a name are literal.
    return name.replace("{", "{{").replace("}", "}}")


def _tags(kind: Any, component: Any, attributes: Mapping[str, Any]) -> tuple[str, ...]:
    """The span's kind and component, then the strings of a ``tags`` attribute."""
    tags = [str(part) for part in (kind, component) if isinstance(part, str) and part]
    given = attributes.get("tags")
    if isinstance(given, list | tuple):
        tags += [tag for tag in given if isinstance(tag, str)]
    return tuple(dict.fromkeys(tags))


def _valid_id(value: Any, size: int) -> bool:
    if not isinstance(value, str) or len(value) != size:
        return False
    try:
        return int(value, 16) != 0
    except ValueError:
        return False


def _new_id() -> str:
    # random's module instance is reseeded in a forked child, so ids never repeat there.
    return f"{random.getrandbits(64) or 1:016x}"


class LogfireExporter(OtlpExporter):
    """Sends spanline spans to Logfire as its own SDK would: OTLP/HTTP with the write token.

    On top of the OTLP mapping (ids, parents, times, status, merged attributes, events),
    each span gets ``logfire.span_type`` (``span``), ``logfire.msg_template`` and
    ``logfire.msg`` (the span name), ``logfire.level_num`` (9 info, 17 error),
    ``logfire.tags`` (kind, component, a ``tags`` attribute) and, for attributes that are
    not str/bool/int/float, JSON text with ``logfire.json_schema`` describing them. A span
    still open when its start is exported is announced by a pending span (a child with
    ``logfire.span_type = pending_span`` and ``logfire.pending_parent_id``, the real span's
    parent); a span that starts and ends in one batch needs none, as Logfire's SDK drops
    those too. Each ``event`` line becomes a Logfire log under its span.

    Runs behind the exporter platform's bounded queue like the OTLP exporter, with the
    same retries, counters and failure handling.

    Args:
        token: the project's write token (default: ``LOGFIRE_TOKEN``, then the credentials
            file).
        base_url: Logfire's API base; spans go to ``<base_url>/v1/traces`` (default:
            ``LOGFIRE_BASE_URL``, the credentials file's ``logfire_api_url``, then the
            token's region).
        credentials_dir: where ``logfire_credentials.json`` is looked for (default:
            ``LOGFIRE_CREDENTIALS_DIR``, then ``.logfire``).
        service_name: ``service.name`` of the resource (default: ``LOGFIRE_SERVICE_NAME``,
            then the run's service name).
        environment: ``deployment.environment.name`` (default: ``LOGFIRE_ENVIRONMENT``,
            then the run's environment).
        pending_spans: send pending spans at span start.
        timeout: seconds per request, retries included (default 10).
        max_batch: spans per request.
        max_open: spans started and not yet ended that are remembered.

    Raises:
        ConfigurationError: no token, an unreadable credentials file or a bad base URL.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        base_url: str | None = None,
        credentials_dir: str | os.PathLike[str] | None = None,
        service_name: str | None = None,
        environment: str | None = None,
        pending_spans: bool = True,
        timeout: float | None = None,
        max_batch: int = 512,
        max_open: int = 100_000,
    ) -> None:
        secret, self.base_url = resolve_destination(token, base_url, credentials_dir)
        self.service_name = service_name or os.environ.get("LOGFIRE_SERVICE_NAME") or None
        self.environment = environment or os.environ.get("LOGFIRE_ENVIRONMENT") or None
        self.pending_spans = pending_spans
        super().__init__(
            endpoint=f"{self.base_url}/v1/traces",
            protocol="http/protobuf",
            # Logfire takes the bare token, as its SDK sends it (no "Bearer").
            headers={"Authorization": secret, "User-Agent": f"spanline/{__version__}"},
            timeout=timeout,
            max_batch=max_batch,
            max_open=max_open,
        )

    def __repr__(self) -> str:  # never the token
        return f"LogfireExporter(base_url={self.base_url!r})"

    def _open(self) -> None:
        super()._open()
        # span id -> (trace id, its structured start attributes): what the end and the
        # span's logs need that the OTLP mapping does not keep. Bounded like the mapping.
        self._starts: dict[str, tuple[str, dict[str, Any]]] = {}

    def _resource_attributes(self, header: Mapping[str, Any] | None) -> dict[str, Any]:
        attributes = super()._resource_attributes(header)
        if self.service_name:
            attributes["service.name"] = self.service_name
        if self.environment:
            attributes["deployment.environment.name"] = self.environment
        return attributes

    def _spans(self, batch: Sequence[Mapping[str, Any]]) -> list[ReadableSpan]:
        ended = (
            {event.get("span_id") for event in batch if event.get("event") == "span_end"}
            if self.pending_spans
            else set()
        )
        out: list[ReadableSpan] = []
        for event in batch:
            tag = event.get("event")
            if tag == "span_start":
                started = self._remember(event)
                if started and self.pending_spans and event["span_id"] not in ended:
                    out.append(self._readable(self._pending(event)))
            elif tag == "event":
                log = self._log(event)
                if log is not None:
                    out.append(self._readable(log))
            span = self._assembler.add(event)
            if span is not None and tag == "span_end":
                out.append(self._readable(self._finished(span, event)))
        return out

    def _remember(self, start: Mapping[str, Any]) -> bool:
        span_id, trace_id = start.get("span_id"), start.get("trace_id")
        if not (_valid_id(span_id, 16) and _valid_id(trace_id, 32)):
            return False
        if len(self._starts) >= self._max_open:
            self._starts.pop(next(iter(self._starts)))  # the oldest, as the mapping does
        attributes = start.get("attributes")
        structured = (
            {key: value for key, value in attributes.items() if _structured(value)}
            if isinstance(attributes, Mapping)
            else {}
        )
        self._starts[str(span_id).lower()] = (str(trace_id).lower(), structured)
        return True

    def _pending(self, start: Mapping[str, Any]) -> OtelSpan:
        """The pending span Logfire's SDK sends at span start: a child of the real span,
        starting and ending when it starts, whose ``pending_parent_id`` is the real parent."""
        attributes = start.get("attributes")
        raw = dict(attributes) if isinstance(attributes, Mapping) else {}
        for key in ("kind", "component"):
            if start.get(key) is not None:
                raw[f"spanline.{key}"] = start[key]
        name = str(start.get("name") or "")
        parent = start.get("parent")
        converted = {str(key): attribute_value(value) for key, value in raw.items()}
        logfire = _logfire_attributes(name, "pending_span", LEVEL_INFO, raw, converted)
        logfire["logfire.pending_parent_id"] = (
            str(parent).lower() if _valid_id(parent, 16) else _NO_PARENT
        )
        tags = _tags(start.get("kind"), start.get("component"), raw)
        if tags:
            logfire["logfire.tags"] = tags
        start_ns = round(float(start["ts"]) * 1_000_000) * 1000 if _number(start.get("ts")) else 0
        return OtelSpan(
            trace_id=str(start["trace_id"]).lower(),
            span_id=_new_id(),
            parent_span_id=str(start["span_id"]).lower(),
            name=name,
            start_ns=start_ns,
            end_ns=start_ns,
            status="unset",
            status_message="",
            attributes=logfire,
            events=(),
        )

    def _finished(self, span: OtelSpan, end: Mapping[str, Any]) -> OtelSpan:
        _, structured = self._starts.pop(span.span_id, ("", {}))
        attributes = end.get("attributes")
        if isinstance(attributes, Mapping):
            for key, value in attributes.items():
                if _structured(value):
                    structured[key] = value
                else:
                    structured.pop(key, None)  # the end's scalar wins
        level = LEVEL_ERROR if span.status == "error" else LEVEL_INFO
        logfire = _logfire_attributes(span.name, "span", level, structured, span.attributes)
        tags = _tags(
            span.attributes.get("spanline.kind"),
            span.attributes.get("spanline.component"),
            structured,
        )
        if tags:
            logfire["logfire.tags"] = tags
        return replace(span, attributes=logfire)

    def _log(self, event: Mapping[str, Any]) -> OtelSpan | None:
        """A coordination event as a Logfire log: an info record under its span."""
        raw_id = event.get("span_id")
        span_id = raw_id.lower() if isinstance(raw_id, str) else ""
        opened = self._starts.get(span_id)
        if opened is None or not _number(event.get("ts")):
            return None
        attributes = event.get("attributes")
        raw = dict(attributes) if isinstance(attributes, Mapping) else {}
        name = str(event.get("name") or "event")
        converted = {str(key): attribute_value(value) for key, value in raw.items()}
        time_ns = round(float(event["ts"]) * 1_000_000) * 1000
        return OtelSpan(
            trace_id=opened[0],
            span_id=_new_id(),
            parent_span_id=span_id,
            name=name,
            start_ns=time_ns,
            end_ns=time_ns,
            status="unset",
            status_message="",
            attributes=_logfire_attributes(name, "log", LEVEL_INFO, raw, converted),
            events=(),
        )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _logfire_attributes(
    name: str,
    span_type: str,
    level: int,
    raw: Mapping[str, Any],
    converted: Mapping[str, AttributeValue],
) -> dict[str, AttributeValue]:
    """``converted`` with structured values (``raw``) as JSON text, plus logfire.* keys."""
    out = dict(converted)
    schema: dict[str, Any] = {}
    for key, value in raw.items():
        if _structured(value):
            out[str(key)] = _json_text(value)
            schema[str(key)] = _schema(value)
    out["logfire.span_type"] = span_type
    out["logfire.msg_template"] = _template(name)
    out["logfire.msg"] = name
    out["logfire.level_num"] = level
    if schema:
        out["logfire.json_schema"] = _json_text({"type": "object", "properties": schema})
    return out


def logfire_exporter(**settings: Any) -> LogfireExporter | None:
    """The exporter registered as ``logfire``: None, after one warning, when no write
    token is configured (tracing to ``telemetry.jsonl`` goes on).

    Args:
        **settings: keyword arguments of :class:`LogfireExporter`.
    """
    try:
        return LogfireExporter(**settings)
    except ConfigurationError as exc:
        if settings:
            raise  # the caller's own arguments are wrong: misuse, said at once
        warnings.warn(
            f"exporter 'logfire' is skipped: {exc}; telemetry.jsonl is still written",
            SpanlineWarning,
            stacklevel=5,
        )
        return None
