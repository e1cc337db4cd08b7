"""Safe, bounded capture of Python values: short previews and JSON-ready copies.

Nothing here raises on odd values: captured arguments come from user code, and
tracing must never break it. Every public function applies redaction (see
``spanline._capture._redact``) before any truncation, so a secret is never shown in part.
"""

from __future__ import annotations

import codecs
import datetime
import enum
import math
import os
import sys
from collections.abc import Iterable, Mapping, Sequence, ValuesView
from collections.abc import Set as AbstractSet
from typing import Any

from spanline._capture._redact import (
    CYCLE,
    REDACTED,
    bytes_window,
    hide_flag_values,
    hides,
    is_secret_flag,
    mark_redacted,
    redact_captured,
    redact_text,
    redacted_window,
)

__all__ = ["CaptureMode", "capture_value", "preview", "to_jsonable"]

_ELLIPSIS = "\u2026"
_PREVIEW_DEPTH = 20
_SORT_CAP = 10_000  # sets up to this size are sorted so captures are deterministic
_KEY_CAP = 1024
_LONG_TEXT = 16_384
_I64_MIN, _U64_MAX = -(2**63), 2**64 - 1
# str() of a huge int is quadratic and capped by sys.set_int_max_str_digits: describe it.
_INT_MAX_BITS = 3000


class CaptureMode(str, enum.Enum):
    """How much of a traced call's arguments and result is recorded."""

    OFF = "off"  # nothing
    PREVIEW = "preview"  # a short redacted string (``preview``)
    FULL = "full"  # a complete redacted JSON structure (``to_jsonable``)

    def __str__(self) -> str:
        return self.value


def capture_value(value: object, mode: CaptureMode | str, limit: int = 200) -> object | None:
    """Capture a value as the capture mode asks.

    Args:
        value: Any argument or result.
        mode: A ``CaptureMode`` or its string value.
        limit: Maximum preview length in ``PREVIEW`` mode.

    Returns:
        None for ``OFF``, ``preview(value, limit)`` for ``PREVIEW``, ``to_jsonable(value)``
        for ``FULL`` with no character budget (a large value is stored out of line by the
        writer, see ``blob_threshold``); always redacted.

    Raises:
        ValueError: ``mode`` is not a capture mode.
    """
    mode = CaptureMode(mode)
    if mode is CaptureMode.OFF:
        return None
    if mode is CaptureMode.PREVIEW:
        return preview(value, limit)
    if isinstance(value, str):  # the value itself: the writer may store it out of line
        return _Jsonifier(sys.maxsize, 20, 10_000).text(value, whole=True)
    return to_jsonable(value, max_chars=sys.maxsize)


def _type_name(value: object) -> str:
    try:
        return str(type(value).__qualname__)
    except Exception:
        return "object"


def _int_text(value: int) -> str:
    bits = value.bit_length()
    return int.__repr__(value) if bits <= _INT_MAX_BITS else f"<int with {bits} bits>"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + _ELLIPSIS


def _loaded_instance(value: object, module: str, name: str) -> bool:
    # Check types from modules the program already imported, so importing us stays cheap:
    # a value of a type whose module was never imported cannot exist.
    cls = getattr(sys.modules.get(module), name, None)
    return cls is not None and isinstance(value, cls)


class _Kind(enum.Enum):
    ITEMS = "items"  # list-like: values only
    PAIRS = "pairs"  # mapping: keys are values too
    FIELDS = "fields"  # object fields: keys are names


def _shape(value: object, *, preview: bool) -> tuple[_Kind, str, str, Iterable[Any]] | None:
    """Describe a container as (kind, opening, closing, members), or None for a leaf."""
    cls = type(value)
    name = cls.__name__
    if isinstance(value, type):
        return None
    if hasattr(cls, "__dataclass_fields__"):  # a dataclass: its module is loaded already
        import dataclasses

        fields = [f for f in dataclasses.fields(value) if f.repr or not preview]  # type: ignore[arg-type]
        return _Kind.FIELDS, f"{name}(", ")", ((f.name, getattr(value, f.name)) for f in fields)
    if callable(getattr(cls, "model_dump", None)):  # pydantic, duck-typed to avoid importing it
        try:
            dumped = value.model_dump(warnings=False)  # type: ignore[attr-defined]
        except TypeError:
            dumped = value.model_dump()  # type: ignore[attr-defined]
        if isinstance(dumped, Mapping):
            return _Kind.FIELDS, f"{name}(", ")", dumped.items()
        return _shape(dumped, preview=preview)
    names = getattr(cls, "_fields", None)  # a named tuple
    if isinstance(value, tuple) and isinstance(names, tuple):
        return _Kind.FIELDS, f"{name}(", ")", zip(names, value, strict=False)
    if isinstance(value, Mapping):
        return _Kind.PAIRS, *_brackets(value, dict, "{", "}"), value.items()
    if isinstance(value, AbstractSet):
        if not value:
            return _Kind.ITEMS, f"{name}()", "", ()
        return _Kind.ITEMS, *_brackets(value, set, "{", "}"), _ordered(value)
    if isinstance(value, (Sequence, ValuesView)) and not isinstance(
        value, (str, bytes, bytearray, memoryview, range)
    ):
        if isinstance(value, tuple):
            closing = ",)" if len(value) == 1 else ")"  # (x,) is a tuple, (x) is not
            return _Kind.ITEMS, *_brackets(value, tuple, "(", closing), value
        return _Kind.ITEMS, *_brackets(value, list, "[", "]"), value
    return None


def _brackets(value: object, exact: type, opening: str, closing: str) -> tuple[str, str]:
    if type(value) is exact:
        return opening, closing
    return f"{type(value).__name__}({opening}", f"{closing})"


def _ordered(items: AbstractSet[Any]) -> Iterable[Any]:
    if len(items) <= _SORT_CAP:
        try:
            return sorted(items)
        except Exception:
            pass  # mixed or unorderable members: keep iteration order
    return items


def preview(value: object, limit: int = 200) -> str:
    """Render any value as a short, redacted, human-readable string; never raises.

    Args:
        value: Anything. A string is shown as is; nested strings are quoted.
        limit: Maximum length of the result (at least 1).

    Returns:
        At most ``limit`` characters, ending with ``…`` when cut. Cycles show as
        ``<cycle>``; a value whose ``repr`` fails shows as ``<unrepresentable Type>``.
    """
    limit = max(limit, 1)
    try:
        if isinstance(value, str):
            return _clip(redacted_window(value, limit), limit)
        walker = _Previewer(limit + 1)
        walker.value(value, 0)
        return _clip("".join(walker.parts), limit)
    except Exception:
        return _clip(f"<unrepresentable {_type_name(value)}>", limit)


class _Previewer:
    """Writes a value as text pieces and stops as soon as its character budget is spent."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.parts: list[str] = []
        self._active: set[int] = set()

    def emit(self, text: str) -> None:
        self.parts.append(text)
        self.budget -= len(text)

    def value(self, value: object, depth: int) -> None:
        if self.budget <= 0:
            return
        try:
            self._render(value, depth)
        except Exception:
            self.emit(f"<unrepresentable {_type_name(value)}>")

    def _render(self, value: object, depth: int) -> None:
        if isinstance(value, enum.Enum):
            self.emit(redacted_window(repr(value), self.budget))
        elif isinstance(value, str):
            self.emit(repr(redacted_window(value, self.budget)))
        elif value is None or isinstance(value, (bool, float)):
            self.emit(repr(value))
        elif isinstance(value, int):
            self.emit(_int_text(value))
        elif isinstance(value, (bytes, bytearray)):
            self.emit(redact_text(repr(bytes_window(value, self.budget))))
        elif isinstance(value, memoryview):
            self.emit(f"<memoryview nbytes={value.nbytes}>")
        elif id(value) in self._active:
            self.emit(CYCLE)
        else:
            self._structured(value, depth)

    def _structured(self, value: object, depth: int) -> None:
        shape = _shape(value, preview=True)
        if shape is None:
            self.emit(redacted_window(repr(value), self.budget))
            return
        kind, opening, closing, members = shape
        self._active.add(id(value))
        try:
            self.emit(opening)
            if depth >= _PREVIEW_DEPTH:
                self.emit(_ELLIPSIS)
            else:
                self._members(kind, members, depth)
            self.emit(closing)
        finally:
            self._active.discard(id(value))

    def _members(self, kind: _Kind, members: Iterable[Any], depth: int) -> None:
        flag = False  # the previous item was a secret flag: this one is its value
        for index, member in enumerate(members):
            if self.budget <= 0:
                return  # the caller's final clip adds the ellipsis
            if index:
                self.emit(", ")
            if kind is _Kind.ITEMS:
                if flag and isinstance(member, str):
                    self.emit(repr(REDACTED))
                else:
                    self.value(member, depth + 1)
                flag = is_secret_flag(member)
                continue
            key, item = member
            if kind is _Kind.FIELDS:
                self.emit(f"{key}=")
            else:
                self.value(key, depth + 1)
                self.emit(": ")
            if hides(key, item):
                self.emit(repr(REDACTED))
            else:
                self.value(item, depth + 1)


def to_jsonable(
    value: object, *, max_chars: int = 1_000_000, max_depth: int = 20, max_items: int = 10_000
) -> object:
    """Convert any value into redacted, JSON-serialisable data; never raises.

    Args:
        value: Anything.
        max_chars: Budget of string characters for the whole result; longer strings end
            with ``…[+N chars]``.
        max_depth: Containers nested deeper become ``"<max depth: preview>"``.
        max_items: Budget of container members for the whole result; a cut list ends
            with ``"…[+N items]"``, a cut dict gets the key ``"…"``.

    Returns:
        dicts with str keys, lists, str, int (within 64 bits), finite float, bool or
        None. Dataclasses, pydantic models and named tuples become dicts; tuples and
        sets become lists (small sets sorted); bytes become their UTF-8 text or
        ``"<bytes len=N, not UTF-8>"``; other objects their redacted ``repr``.
    """
    return _Jsonifier(max_chars, max_depth, max_items).convert(value, 0)


class _Jsonifier:
    """One conversion: shared character and item budgets plus the cycle guard."""

    def __init__(self, max_chars: int, max_depth: int, max_items: int) -> None:
        self.chars_left = max_chars
        self.items_left = max_items
        self.max_depth = max_depth
        self._active: set[int] = set()

    def convert(self, value: object, depth: int) -> object:
        try:
            return self._convert(value, depth)
        except Exception:
            return f"<unrepresentable {_type_name(value)}>"

    def _convert(self, value: object, depth: int) -> object:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, enum.Enum):
            return self.convert(value.value, depth + 1)
        if isinstance(value, int):
            return int(value) if _I64_MIN <= value <= _U64_MAX else _int_text(value)
        if isinstance(value, float):
            return float(value) if math.isfinite(value) else repr(float(value))
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return self._bytes(value)
        if isinstance(value, (datetime.date, datetime.time)):
            return self.text(value.isoformat())
        if isinstance(value, (os.PathLike, complex)) or any(
            _loaded_instance(value, mod, name) for mod, name in _STRING_TYPES
        ):
            return self.text(str(value))
        if id(value) in self._active:
            return CYCLE
        return self._structured(value, depth)

    def _structured(self, value: object, depth: int) -> object:
        shape = _shape(value, preview=False)
        if shape is None:
            return self.text(repr(value))
        if depth >= self.max_depth:
            return self.text(f"<max depth: {preview(value, 100)}>")
        kind, _, _, members = shape
        try:
            total: int | None = len(value)  # type: ignore[arg-type]
        except Exception:
            total = None
        self._active.add(id(value))
        try:
            if kind is _Kind.ITEMS:
                return self._list(members, total, depth)
            return self._dict(members, total, depth)
        finally:
            self._active.discard(id(value))

    def _list(self, members: Iterable[Any], total: int | None, depth: int) -> list[object]:
        out: list[object] = []
        more = None
        for shown, item in enumerate(members):
            if self.items_left <= 0:
                more = _more(total, shown)
                break
            self.items_left -= 1
            out.append(self.convert(item, depth + 1))
        hide_flag_values(out)  # an argv list: ["--password", "x"]
        if more is not None:
            out.append(more)
        return out

    def _dict(self, members: Iterable[Any], total: int | None, depth: int) -> dict[str, object]:
        out: dict[str, object] = {}
        for shown, (key, item) in enumerate(members):
            if self.items_left <= 0:
                out[_ELLIPSIS] = _more(total, shown)
                break
            self.items_left -= 1
            name = self._key(key)
            out[name] = REDACTED if hides(name, item) else self.convert(item, depth + 1)
        return out

    def _key(self, key: object) -> str:
        if isinstance(key, enum.Enum):
            key = key.value
        if isinstance(key, str):
            text = str.__str__(key)
        elif key is None or isinstance(key, bool):
            text = "null" if key is None else str(key).lower()  # as JSON spells them
        elif isinstance(key, (int, float)):
            text = _int_text(key) if isinstance(key, int) else repr(float(key))
        else:
            text = preview(key, _KEY_CAP)
        return _clip(redacted_window(text, _KEY_CAP), _KEY_CAP)

    def text(self, s: str, *, whole: bool = False) -> str:
        """``s`` redacted and cut to the budget. ``whole``: ``s`` is the whole captured value,
        which the writer stores out of line by its attribute (so its encoding and hash may
        be made meanwhile); a text inside a dict or list is stored with its container."""
        budget = max(self.chars_left, 0)
        if len(s) <= budget:
            out = str.__str__(s)
            out = redact_captured(out) if whole else redact_text(out)
            if len(out) > _LONG_TEXT:  # marked: the writer need not redact it again
                out = mark_redacted(out)
        else:
            out = redacted_window(s, budget)[:budget] + f"{_ELLIPSIS}[+{len(s) - budget} chars]"
        self.chars_left -= len(out)
        return out

    def _bytes(self, value: bytes | bytearray | memoryview) -> str:
        size = memoryview(value).nbytes
        budget = max(self.chars_left, 0)
        head = bytes_window(value, budget)
        complete = len(head) == size
        try:
            # An incremental decoder tolerates a multi-byte character cut at the end.
            text = codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
        except UnicodeDecodeError:
            return f"<{type(value).__name__} len={size}, not UTF-8>"
        if complete:
            return self.text(text)
        out = redact_text(text)[:budget] + f"{_ELLIPSIS}[{size} bytes in all]"
        self.chars_left -= len(out)
        return out


_STRING_TYPES = (("uuid", "UUID"), ("decimal", "Decimal"))


def _more(total: int | None, shown: int) -> str:
    return f"{_ELLIPSIS}[+{total - shown} items]" if total is not None else f"{_ELLIPSIS}[cut]"
