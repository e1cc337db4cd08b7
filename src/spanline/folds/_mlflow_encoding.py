"""MLflow's encodings of what a trace holds: JSON text attributes, base64 ids, RFC 3339
times (for :mod:`spanline.folds.mlflow`)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import orjson

from spanline.folds._limits import TS_MAX

__all__ = ["b64_id", "digest_id", "event_attribute", "hex_id", "json_text", "ns", "rfc3339"]

_PRIMITIVE = (str, bool, int, float)


def json_text(value: Any) -> str:
    """An attribute value as MLflow stores it: JSON text."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=repr).decode()
    except TypeError:  # an integer past 64 bits, handed over in process
        return json.dumps(value, default=repr)


def b64_id(hex_id: str, size: int) -> str:
    return base64.b64encode(int(hex_id, 16).to_bytes(size, "big")).decode()


def hex_id(value: Any, size: int) -> str | None:
    """A span or trace id as ``size`` bytes of lower-case hex, or None if it is not hex."""
    if not isinstance(value, str) or not value:
        return None
    try:
        number = int(value, 16)
    except ValueError:
        return None
    if number == 0 or number >= 1 << (8 * size):
        return None
    return f"{number:0{2 * size}x}"


def digest_id(text: str, size: int) -> str:
    """A stable non-zero id derived from text (for ids the log does not give)."""
    digest = hashlib.sha256(text.encode()).hexdigest()[: 2 * size]
    return digest if int(digest, 16) else "1".rjust(2 * size, "0")


def ns(ts: Any) -> int | None:
    """Nanoseconds of a plausible timestamp (seconds since the epoch), else None."""
    if (ts.__class__ is not int and ts.__class__ is not float) or not 0 <= ts <= TS_MAX:
        return None  # not a number, not finite, or far outside any run
    return round(float(ts) * 1e9)


def rfc3339(ns: int) -> str:
    seconds, rest = divmod(ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{stamp}.{rest // 1_000_000:03d}Z"


def event_attribute(value: Any) -> Any:
    """OpenTelemetry event attributes are primitives: anything else becomes JSON text."""
    return value if isinstance(value, _PRIMITIVE) else json_text(value)
