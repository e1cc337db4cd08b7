"""Redaction of structured values and whole events, on the writer thread.

Text-level rules live in :mod:`spanline._capture._redact`; objects are first turned into
JSON-like data by :func:`spanline._capture._previews.to_jsonable`, which redacts as it goes.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from spanline._capture import _redact as rules
from spanline._capture._redact import (
    CYCLE,
    NOT_SECRET,
    REDACTED,
    SECRET,
    WEAK,
    Registry,
    already_redacted,
    hide_flag_values,
    hides,
    key_level,
    redact_text,
)
from spanline._capture._tokens import credential_shaped

__all__ = ["redact", "redact_event"]

_REDACT_DEPTH = 100


def redact(value: object) -> object:
    """Redact a JSON-like structure recursively, returning a new structure.

    Strings go through ``redact_text``; the value under a secret key (see
    ``is_secret_key``) becomes ``[REDACTED]`` whatever its type, and so does the word
    after a secret flag in a list or tuple (``["--password", "x"]``, as in ``sys.argv``).
    Dicts, lists, tuples and sets are rebuilt; numbers, booleans and None are kept; any
    other object is converted with ``to_jsonable`` (which redacts what it produces).

    Args:
        value: Typically span attributes or a ``to_jsonable`` result.

    Returns:
        The redacted copy; cycles become ``"<cycle>"``. A part that cannot be walked is
        replaced by ``[REDACTED]`` rather than passed through.
    """
    return _redact(value, set(), 0)


def _redact(value: object, active: set[int], depth: int) -> object:
    try:
        if isinstance(value, str):
            # Long text captured in full was redacted by capture, with these same rules.
            return value if already_redacted(value) else redact_text(value)
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if not isinstance(value, (Mapping, list, tuple, set, frozenset)):
            # Objects (dataclasses, models, anything with a repr) would reach the
            # log through the JSON encoder unredacted: convert them here, where
            # the conversion redacts. (Loaded here: configure hands the writer this
            # module, and the converter brings datetime and the previews' tables.)
            from spanline._capture._previews import to_jsonable

            return to_jsonable(value)
        if id(value) in active:
            return CYCLE
        if depth >= _REDACT_DEPTH:
            return "<max depth>"
        active.add(id(value))
        try:
            if isinstance(value, Mapping):
                return {
                    _redact_key(k): REDACTED if hides(k, v) else _redact(v, active, depth + 1)
                    for k, v in value.items()
                }
            items = [_redact(item, active, depth + 1) for item in value]
        finally:
            active.discard(id(value))
        if isinstance(value, (list, tuple)):
            hide_flag_values(items)  # an argv list: ["--password", "x"]
            return items if isinstance(value, list) else tuple(items)
        return frozenset(items) if isinstance(value, frozenset) else set(items)
    except Exception:
        return REDACTED  # fail closed: an unwalkable part might hold a secret


def _redact_key(key: object) -> object:
    """A mapping key as it will be written: the encoder writes a key that is not a string or
    a number as its ``str()``, so that text is redacted here."""
    if isinstance(key, str):
        return redact_text(key)
    if key is None or isinstance(key, (bool, int, float)):
        return key
    try:
        return redact_text(str(key))
    except Exception:
        return f"<unrepresentable {type(key).__name__}>"


_PHASE_FIELDS = frozenset({"event", "name", "wall_ms", "ts"})
_ERROR_TEXTS = ("message", "stacktrace")
_FAILED = "spanline.redaction_failed"
_PLAIN = frozenset({int, float, bool, type(None)})


def redact_event(event: dict[str, Any]) -> dict[str, Any]:
    """Redact the user-supplied parts of one telemetry event; never raises.

    The writer thread calls this on every event, so an event with empty
    ``attributes`` and no ``error`` costs only a few dict look-ups.

    Args:
        event: A ``span_start``, ``span_end``, ``event``, ``phase``, ``run_start``,
            ``process_start`` or ``process_end`` dict, owned by the caller. It may be
            updated in place, but the ``attributes`` and ``error`` objects inside it
            are never mutated (user code may hold them): redacted copies replace them.

    Returns:
        The event with ``attributes`` redacted by ``redact``, ``error.message`` and
        ``error.stacktrace``, and the ``name``, ``component`` and ``query`` fields by
        ``redact_text``, a phase's extra fields redacted like attributes (a new dict for
        a phase that has any), and every field of a ``run_start``, ``process_start`` or
        ``process_end`` line (in place); other fields unchanged.
    """
    try:
        attributes = event.get("attributes")
        if attributes:
            # A new dict either way: user code may still hold the attributes it passed.
            if type(attributes) is dict:
                event["attributes"] = _redact_attributes(attributes)
            else:
                event["attributes"] = redact(attributes)
        error = event.get("error")
        if error:
            event["error"] = _redact_error(error)
        # Names are user text too (a URL with credentials, a token in an event name).
        for field in _NAME_FIELDS:
            value = event.get(field)
            if value.__class__ is str:
                event[field] = _redact_name(value, rules.registry)
        kind = event.get("event")
        if kind == "phase":
            return _redact_phase(event)
        if kind in _HEADERS:
            _redact_header(event)
        return event
    except Exception:
        return _fail_closed(event)


#: Process and run lines: once a process, with user text (a git remote with a token in its
#: URL, a service name, exporter names).
_HEADERS = frozenset({"run_start", "process_start", "process_end"})


def _redact_header(event: dict[str, Any]) -> None:
    for key, value in event.items():
        if value.__class__ is str:
            event[key] = redact_text(value)
        elif value.__class__ not in _PLAIN:
            event[key] = redact(value)


#: Top-level text fields of events that user code chooses.
_NAME_FIELDS = ("name", "component", "query")


@functools.lru_cache(maxsize=4096)
def _redact_name(name: str, registry: Registry) -> str:
    """``redact_text`` for names: they repeat, so their verdicts are cached (per set of
    user rules: the registry is replaced whole when a rule is added)."""
    return redact_text(name)


def _redact_attributes(attributes: dict[Any, Any]) -> dict[Any, Any]:
    """``redact(attributes)``, faster: attribute names repeat, so their verdicts are cached."""
    registry = rules.registry  # rebound when rules are added: read it each time
    active = {id(attributes)}  # as in redact(): a value holding the dict itself is a cycle
    out: dict[Any, Any] = {}
    name: object
    for key, value in attributes.items():
        if type(key) is str:
            name, level = _key_verdict(key, registry)
        else:
            name, level = _redact_key(key), NOT_SECRET
        if level == SECRET or (level == WEAK and credential_shaped(value)):
            out[name] = REDACTED
        elif type(value) in _PLAIN:
            out[name] = value  # what _redact() would return, without its isinstance checks
        else:
            out[name] = _redact(value, active, 1)
    return out


@functools.lru_cache(maxsize=4096)
def _key_verdict(key: str, registry: Registry) -> tuple[str, int]:
    # The registry is part of the cache key, as in key_level.
    return redact_text(key), key_level(key, registry)


def _redact_error(error: object) -> object:
    if not isinstance(error, Mapping):
        return redact(error)
    redacted = dict(error)  # a copy: the span may still hold the original
    for key in _ERROR_TEXTS:
        if key in redacted:
            # redact() is redact_text() for a string, and also walks a non-string message.
            redacted[key] = redact(redacted[key])
    return redacted


def _redact_phase(event: dict[str, Any]) -> dict[str, Any]:
    extras = {key: value for key, value in event.items() if key not in _PHASE_FIELDS}
    if not extras:
        return event
    # Fixed fields first, as the tracer writes them; redact() also redacts the count names.
    fields = {key: value for key, value in event.items() if key in _PHASE_FIELDS}
    redacted = redact(extras)
    fields.update(redacted if isinstance(redacted, dict) else dict.fromkeys(extras, REDACTED))
    return fields


def _fail_closed(event: dict[str, Any]) -> dict[str, Any]:
    # Only a malformed event gets here: drop whatever might hold a secret rather than
    # write it unredacted, and keep the line's shape so readers still parse it.
    try:
        if "attributes" in event:
            event["attributes"] = {_FAILED: True}
        if "error" in event:
            event["error"] = {"type": "unknown", "message": REDACTED}
        if event.get("event") == "phase":
            return {k: v if k in _PHASE_FIELDS else REDACTED for k, v in event.items()}
    except Exception:
        pass  # not a dict at all: nothing that could be redacted
    return event
