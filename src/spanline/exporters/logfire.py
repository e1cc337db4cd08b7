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
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from spanline._version import __version__
from spanline.exceptions import ConfigurationError, SpanlineWarning
from spanline.exporters._logfire_spans import LEVEL_ERROR, LEVEL_INFO
from spanline.exporters.otlp import OtlpExporter

__all__ = [
    "DEFAULT_BASE_URL",
    "LEVEL_ERROR",
    "LEVEL_INFO",
    "LogfireExporter",
    "logfire_exporter",
    "resolve_destination",
]

#: Where a token that names no known region sends (Logfire's own default).
DEFAULT_BASE_URL = "https://logfire-us.pydantic.dev"
_REGIONS = {"us": DEFAULT_BASE_URL, "eu": "https://logfire-eu.pydantic.dev"}
_TOKEN_REGION = re.compile(r"^pylf_v[0-9]+_(?P<region>[a-z]+)_")
CREDENTIALS_FILE = "logfire_credentials.json"

#: How to authenticate, said when no token is found.
NO_TOKEN = (
    "no Logfire write token: set LOGFIRE_TOKEN, or run `logfire auth` and "
    "`logfire projects use <project>` in this directory (writes "
    ".logfire/logfire_credentials.json)"
)


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


class LogfireExporter(OtlpExporter):
    """Sends spanline spans to Logfire as its own SDK would: OTLP/HTTP with the write token.

    Spans carry the logfire.* attributes, a pending span announces each span still open
    when its start is exported, and event lines become Logfire logs (see
    :class:`~spanline.exporters._logfire_spans.LogfireSender`). It runs like the OTLP
    exporter: behind the exporter platform's bounded queue, building and sending on the
    exporter's thread (or a helper process), with the same retries, counters and
    failure handling.

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
        process: build and send from a helper process, as the OTLP exporter's
            ``process=True`` does, instead of on the exporter's thread.

    Raises:
        ConfigurationError: no token, an unreadable credentials file or a bad base URL.
    """

    SENDER = "spanline.exporters._logfire_spans:LogfireSender"

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
        process: bool = False,
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
            process=process,
        )

    def _sender_settings(self) -> dict[str, Any]:
        return {
            "service_name": self.service_name,
            "environment": self.environment,
            "pending_spans": self.pending_spans,
        }

    def __repr__(self) -> str:  # never the token
        return f"LogfireExporter(base_url={self.base_url!r})"


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
