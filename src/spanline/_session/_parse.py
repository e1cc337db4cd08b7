"""The settings' parsers: each takes an argument value or a variable's text, and returns
the value or raises ``ValueError`` (``PartialValue``: keep the good parts, and warn)."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from spanline._runs._store import validate_run_id
from spanline.exceptions import InvalidRunIdError
from spanline.schema import FALSE_WORDS, INTEGRATION_NAMES, TRUE_WORDS, traceparent_ids

__all__ = [
    "PartialValue",
    "agent_kinds_value",
    "budget_value",
    "byte_limit",
    "callable_value",
    "capture_mode",
    "duration",
    "exporter_names",
    "parse_bool",
    "parse_resource_attributes",
    "parse_run_id",
    "parse_traceparent",
    "path_value",
    "prices_value",
    "redact_patterns_value",
    "seconds",
    "secret_names_value",
    "service_name_value",
    "session_id_value",
    "switched_on",
    "text_value",
    "whole_number",
]


class PartialValue(ValueError):
    """A value with some bad parts: use ``value`` (the good parts) and warn."""

    def __init__(self, message: str, value: Any, kept: str = "the valid pairs") -> None:
        super().__init__(message)
        self.value = value
        #: What the warning says is used instead.
        self.kept = kept


# -- parsers: each takes an argument value or a variable's text, returns the value or raises
def parse_bool(raw: Any) -> bool:
    """Parse a boolean setting.

    Args:
        raw: a bool, or text such as "1", "true", "off".

    Returns:
        True or False.

    Raises:
        ValueError: the value is none of the accepted spellings.
    """
    if isinstance(raw, bool):
        return raw
    value = raw.strip().lower() if isinstance(raw, str) else None
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    words = (*TRUE_WORDS, *(word for word in FALSE_WORDS if word))
    raise ValueError(f"accepted values: {', '.join(words)}")


def budget_value(name: str) -> Callable[[Any], Any]:
    """The parser ``name`` of ``spanline._capture._budget_values``, loaded only when a
    budget is set (configuring without one loads nothing more)."""

    def parse(raw: Any) -> Any:
        from spanline._capture import _budget_values

        return getattr(_budget_values, name)(raw)

    return parse


def switched_on(raw: str) -> bool:
    """Whether ``SPANLINE_ENABLED``'s text turns tracing on; a word that is not a boolean
    counts as on, so that ``configure_observability()`` warns about it as for any variable."""
    try:
        return parse_bool(raw)
    except ValueError:
        return True


def whole_number(low: int, high: int | None) -> Callable[[Any], int]:
    upper = f" to {high}" if high is not None else " up"

    def parse(raw: Any) -> int:
        try:
            # bool is an int subclass: enabled-style True must not read as 1 ms.
            if isinstance(raw, bool) or not isinstance(raw, (int, str)):
                raise TypeError
            value = int(raw)
        except (TypeError, ValueError):
            raise ValueError(f"expected a whole number from {low}{upper}") from None
        if value < low or (high is not None and value > high):
            raise ValueError(f"expected a whole number from {low}{upper}")
        return value

    return parse


def seconds(raw: Any) -> float:
    try:
        # bool is an int subclass: enabled-style True must not read as 1 s.
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            raise TypeError
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError("expected a number of seconds greater than 0") from None
    if not 0 < value < math.inf:
        raise ValueError("expected a number of seconds greater than 0")
    return value


def byte_limit(raw: Any) -> int:
    """A size in bytes: a whole number, or text such as ``500MB``, ``2GiB`` (at least 1 KiB:
    a smaller run could not hold its own header and one span)."""
    from spanline._runs._retention import parse_bytes

    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise ValueError("expected a size in bytes (an int, or text such as 500MB)")
    value = raw if isinstance(raw, int) else parse_bytes(raw)
    if value < 1024:
        raise ValueError(f"expected a size of at least 1024 bytes, not {value}")
    return value


def duration(raw: Any) -> float:
    """Seconds: a number, or text such as ``90s``, ``30m``, ``1h``, ``7d``."""
    from spanline._runs._retention import parse_age

    if isinstance(raw, str) and raw.strip() and raw.strip()[-1:].isalpha():
        value = parse_age(raw)
        if not 0 < value < math.inf:
            raise ValueError("expected a duration greater than 0")
        return value
    try:
        return seconds(raw)
    except ValueError:
        raise ValueError("expected a duration: seconds, or text such as 30m, 1h, 7d") from None


def text_value(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError("expected a string")
    return raw


def service_name_value(raw: Any) -> str:
    # Any text will do: run ids use run_id_prefix(), the attribute keeps the original.
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("expected a non-empty string")
    return raw


def path_value(raw: Any) -> Path:
    if not isinstance(raw, (str, os.PathLike)) or not os.fspath(raw):
        raise ValueError("expected a directory path")
    return Path(raw)


def exporter_names(raw: Any) -> tuple[Any, ...]:
    if isinstance(raw, str):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if isinstance(raw, (list, tuple)):
        return tuple(raw)  # names and objects are checked when exporters are built
    raise ValueError("expected a list of exporter names or objects, or comma-separated names")


def integration_names(raw: Any) -> tuple[str, ...]:
    """``SPANLINE_INSTRUMENT``: comma-separated integration names (or ``all``); unknown
    names are left out with a warning."""
    if not isinstance(raw, str):
        raise ValueError("expected comma-separated integration names")
    names = [part.strip() for part in raw.split(",") if part.strip()]
    known = (*INTEGRATION_NAMES, "all")
    unknown = [name for name in names if name not in known]
    good = tuple(dict.fromkeys(name for name in names if name in known))
    if unknown:
        message = (
            f"unknown integration {', '.join(map(repr, unknown))}; the names are {', '.join(known)}"
        )
        if not good:
            raise ValueError(message)
        raise PartialValue(message, good, kept="the known names")
    return good


def capture_mode(raw: Any) -> str:
    value = raw.strip().lower() if isinstance(raw, str) else None
    if value not in ("off", "preview", "full"):
        raise ValueError("accepted values: off, preview, full")
    return value


def prices_value(raw: Any) -> Any:
    if isinstance(raw, Mapping):
        return dict(raw)
    if isinstance(raw, (str, os.PathLike)) and os.fspath(raw):
        return raw  # read (and checked) when the session loads the price table
    raise ValueError("expected a mapping of models to prices, or a JSON/YAML file path")


def agent_kinds_value(raw: Any) -> frozenset[str]:
    # A bare string is iterable too; its letters are never what was meant.
    if isinstance(raw, Iterable) and not isinstance(raw, str):
        kinds = frozenset(raw)
        if all(isinstance(kind, str) and kind for kind in kinds):
            return kinds
    raise ValueError("expected a collection of non-empty span kind names")


def callable_value(raw: Any) -> Any:
    if not callable(raw):
        raise ValueError("expected a function taking no arguments")
    return raw


def session_id_value(raw: Any) -> str:
    """Validate a session id: a safe name, by the rule of run ids' characters.

    Raises:
        ValueError: it is not.
    """
    from spanline._runs._sessions import validate_session_id

    return validate_session_id(raw)


def parse_run_id(raw: Any) -> str:
    """Validate a run id to create or join.

    Accepted: the ids spanline creates (``<service>-<YYYYMMDDTHHMMSS>-<6 hex>``), or
    any chosen id of letters, digits, ``.``, ``_`` and ``-`` (at most 128, starting
    with a letter or digit, without ``..``). Both name one directory under
    ``<base>/runs/``: no separators, no absolute paths, no parent references.

    Args:
        raw: the argument value or the variable's text.

    Returns:
        The id, unchanged.

    Raises:
        ValueError: the id is not a safe directory name.
    """
    try:
        return validate_run_id(raw)
    except InvalidRunIdError:
        raise ValueError(
            "expected <service>-<YYYYMMDDTHHMMSS>-<6 hex>, or letters, digits, '.', '_' and '-'"
            " (at most 128, starting with a letter or digit, no '..')"
        ) from None


def parse_traceparent(raw: Any) -> tuple[str, int]:
    """Parse a W3C ``traceparent``: ``00-<32 hex trace id>-<16 hex span id>-<2 hex flags>``.

    Args:
        raw: the variable's text (upper-case hex is tolerated).

    Returns:
        (trace id as 32 hex characters, parent span id as an int).

    Raises:
        ValueError: malformed, another version than 00, or an all-zero id.
    """
    parsed = traceparent_ids(raw)
    # W3C: an all-zero trace id or parent id is invalid.
    if parsed is None or not int(parsed[0], 16) or not int(parsed[1], 16):
        raise ValueError("expected 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>, not zero")
    return parsed[0], int(parsed[1], 16)


def parse_resource_attributes(raw: Any) -> dict[str, str]:
    """Parse ``OTEL_RESOURCE_ATTRIBUTES``: comma-separated ``key=value``, values percent-encoded.

    Args:
        raw: the variable's text, e.g. ``service.name=my%20app,team=core``.

    Returns:
        The attributes, keys and values stripped, values percent-decoded.

    Raises:
        ValueError: a part is not ``key=value``; its ``value`` attribute holds the
            pairs that were valid, which are still used (as OpenTelemetry SDKs do).
    """
    attributes: dict[str, str] = {}
    junk: list[str] = []
    for pair in text_value(raw).split(","):
        key, equals, value = pair.partition("=")
        if equals and key.strip():
            attributes[key.strip()] = unquote(value.strip())
        elif pair.strip():
            junk.append(pair.strip())
    if junk:
        raise PartialValue(f"ignored parts that are not key=value: {', '.join(junk)}", attributes)
    return attributes


def redact_patterns_value(raw: Any) -> tuple[re.Pattern[str], ...]:
    """Redaction patterns: a regex or a list of them; the variable holds one regex, or a
    JSON list of them. A regex that does not compile or matches the empty string is bad."""
    if isinstance(raw, str):
        items: list[Any] = [raw]
        if raw.lstrip().startswith("["):
            import json  # loaded only for a list of patterns

            try:
                loaded = json.loads(raw)
            except ValueError:
                loaded = None
            if isinstance(loaded, list):
                items = loaded
    elif isinstance(raw, (list, tuple, re.Pattern)):
        items = list(raw) if isinstance(raw, (list, tuple)) else [raw]
    else:
        raise ValueError("expected a regex or a list of regexes")
    good: list[re.Pattern[str]] = []
    bad: list[str] = []
    for item in items:
        try:
            compiled = re.compile(item)
        except (re.error, TypeError) as exc:
            bad.append(f"{item!r}: {exc}")
            continue
        if compiled.match("") is not None:
            bad.append(f"{item!r} matches the empty string")
        else:
            good.append(compiled)
    if bad:
        raise PartialValue("; ".join(bad), tuple(good), kept="the valid patterns")
    return tuple(good)


def secret_names_value(raw: Any) -> frozenset[str]:
    """Key names: a list of them, or comma-separated text."""
    if isinstance(raw, str):
        raw = raw.split(",")
    if not isinstance(raw, (list, tuple, set, frozenset)) or not all(
        isinstance(name, str) for name in raw
    ):
        raise ValueError("expected a list of key names, or comma-separated names")
    return frozenset(name.strip() for name in raw if name.strip())
