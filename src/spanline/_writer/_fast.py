"""The common span's lines, formatted straight from its record.

Most spans carry no attributes, no counters and no error: their two lines differ
from one span to the next only by ids and times. For those, the writer formats
the line's bytes from a template instead of building an event dict, running the
transform (redaction) on it and encoding it. The templates come from that full
path itself: the first span of each name, component and kind goes through it
with sample ids and times, the sample line becomes the template, and a second
sample must come out byte for byte as the full path writes it, or that name is
never taken this way. So the bytes are the same either way, and what redaction
does to a name is decided by redaction. A template is dropped when the
transform's settings change (a redaction rule added at run time).

A batch is formatted in two calls of bytes formatting, whatever its length: the
ids first, then the floats (times, durations), which are encoded together in one
call of the encoder the full path uses, so they read the same as there. Records
this path does not take (attributes, counters, an error, events, phases, plans,
ids or times of unusual types) go through the full path, and their lines fill
the batch's gaps.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from spanline._lines._encode import Event, encode, encode_many
from spanline._lines._encode import encode_value as dumps
from spanline.schema import END, START

__all__ = ["Batch", "LineTemplates", "encoded"]

#: Templates kept at most (name, component and kind triples; root and child apart):
#: a run naming every span differently keeps the full path and bounded memory.
_MAX_TEMPLATES = 2_048
_NONE = b""  # a template looked for and refused: this name takes the full path


class Batch:
    """The lines of one batch: templates with their ids and floats, and the gaps the
    full path's lines fill (see :meth:`render`)."""

    __slots__ = ("floats", "gaps", "ids", "parts")

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.ids: list[int] = []
        self.floats: list[float] = []
        self.gaps: list[int] = []

    def __len__(self) -> int:
        return len(self.parts)

    def render(self, events: list[Event]) -> bytes:
        """The batch's bytes, ``events`` (the full path's, one per gap) in their places."""
        parts = self.parts
        for index, event in zip(self.gaps, events, strict=True):
            # Through both formatting passes, "%%%%" comes out as one "%".
            parts[index] = encode(event).replace(b"%", b"%%%%")
        floats = self.floats
        texts = tuple(dumps(floats)[1:-1].split(b",")) if floats else ()
        return b"".join(parts) % tuple(self.ids) % texts


def encoded(events: list[Event], lines: Batch | None) -> bytes | bytearray:
    """A batch's bytes: ``events`` encoded one after another, or in the gaps of ``lines``."""
    if lines is not None:
        return lines.render(events)
    buffer = bytearray()
    encode_many(events, buffer.extend)
    return buffer


class LineTemplates:
    """Formats the common ``span_start`` and ``span_end`` lines from their records.

    Args:
        trace_id: the run's trace id.
        make: record -> event, through the transform (what the full path writes).
        transform_key: returns an object that changes whenever the transform may
            change what it does (None: it never does).
    """

    def __init__(
        self,
        trace_id: str,
        make: Callable[[tuple[Any, ...]], Event],
        transform_key: Callable[[], object] | None = None,
    ) -> None:
        self._trace_id = trace_id
        self._make = make
        self._transform_key = transform_key
        self._key: object = _NONE
        self._count = 0
        # Spans with neither component nor kind, by name (the usual case: no key tuple
        # to build); the others by (name, component, kind, is root).
        self._roots: dict[str, bytes] = {}
        self._children: dict[str, bytes] = {}
        self._others: dict[tuple[Any, ...], bytes] = {}
        self._end = _NONE

    def split(self, records: list[tuple[Any, ...]]) -> tuple[Batch, list[tuple[Any, ...]]]:
        """The batch's lines from templates, and the records the full path must write
        (in their order: their lines go in the batch's gaps). A process with exporters
        does not ask: they take every event."""
        self._refresh()
        roots, children, end = self._roots, self._children, self._end
        batch = Batch()
        parts, ids, floats, gaps = batch.parts, batch.ids, batch.floats, batch.gaps
        part, number, text = parts.append, ids.append, floats.append
        rest: list[tuple[Any, ...]] = []
        for record in records:
            tag = record[0]
            if tag == START:
                _, span_id, parent, name, component, kind, ts, attributes = record
                if attributes is None and ts.__class__ is float and span_id.__class__ is int:
                    if component is None and kind is None and name.__class__ is str:
                        found = (roots if parent is None else children).get(name)
                    else:
                        found = None
                    if found is None:
                        found = self._start_template(name, component, kind, parent is None)
                    if found:
                        if parent is None:
                            part(found)
                            number(span_id)
                            text(ts)
                            continue
                        if parent.__class__ is int:
                            part(found)
                            number(span_id)
                            number(parent)
                            text(ts)
                            continue
            elif tag == END:
                _, span_id, status, duration, ts, error, attributes, counters = record
                if (
                    status == "ok"
                    and error is None
                    and attributes is None
                    and counters is None
                    and end
                    and span_id.__class__ is int
                    and duration.__class__ is ts.__class__ is float
                ):
                    part(end)
                    number(span_id)
                    text(round(duration * 1000.0, 3))  # as the full path rounds it
                    text(ts)
                    continue
            gaps.append(len(parts))
            part(_NONE)
            rest.append(record)
        return batch, rest

    def _refresh(self) -> None:
        """Drop every template when the transform's settings changed."""
        key = self._transform_key() if self._transform_key is not None else None
        if key is not self._key:
            self._key = key
            self._roots, self._children, self._others, self._count = {}, {}, {}, 0
            self._end = self._template(
                (END, 1, "ok", 0.0025, 1.5, None, None, None),
                (END, 2**64 - 1, "ok", 12.3456789, 1765000000.123456, None, None, None),
            )

    def _start_template(self, name: Any, component: Any, kind: Any, root: bool) -> bytes:
        """The template of these spans' start lines (empty: the full path writes them)."""
        if not (name.__class__ is str and _TEXT[component.__class__] and _TEXT[kind.__class__]):
            return _NONE  # no user code here (a subclass's hash): the full path guards it
        key = (name, component, kind, root)
        found = self._others.get(key)
        if found is not None:
            return found
        if self._count >= _MAX_TEMPLATES:
            return _NONE  # no new template: this name takes the full path
        first = (START, 1, None if root else 2, name, component, kind, 1.5, None)
        second = (START, 2**64 - 1, None if root else 3, name, component, kind, 1.7e9, None)
        found = self._template(first, second)
        self._count += 1
        self._others[key] = found
        if component is None and kind is None and name.__class__ is str:
            (self._roots if root else self._children)[name] = found
        return found

    def _template(self, first: tuple[Any, ...], second: tuple[Any, ...]) -> bytes:
        """The line of ``first`` with its ids and floats as format specifiers, if it
        formats ``second`` exactly as the full path writes it (empty otherwise)."""
        try:
            event = self._make(first)
            # Two formatting passes: ids, then floats; a "%" of the line survives both.
            template = encode(event).replace(b"%", b"%%%%")
            for field in _FIELDS[first[0]]:
                if field == "parent" and first[2] is None:
                    continue  # a root's "parent":null stays as it is
                found = encode({field: event[field]})[1:-2]  # '"ts":1.5', as in the line
                if template.count(found) != 1:
                    return _NONE
                spec = b'"%016x"' if field in ("span_id", "parent") else b"%%s"
                template = template.replace(found, b'"%s":%s' % (field.encode(), spec))
            ids, floats = _values(second)
            if template % ids % floats != encode(self._make(second)):
                return _NONE
            return template
        except Exception:  # a transform that refuses a sample: no template
            return _NONE


#: Whether a component or kind of this type may take a template (None or plain text).
_TEXT: defaultdict[type, bool] = defaultdict(bool, {str: True, type(None): True})

#: The fields a template leaves open, in the order of the line (and of ``_values``).
_FIELDS = {START: ("span_id", "parent", "ts"), END: ("span_id", "duration_ms", "ts")}


def _values(record: tuple[Any, ...]) -> tuple[tuple[int, ...], tuple[bytes, ...]]:
    """A record's ids and float texts, as :meth:`LineTemplates.split` takes them."""
    if record[0] == START:
        _, span_id, parent, _name, _component, _kind, ts, _ = record
        return (span_id,) if parent is None else (span_id, parent), (dumps(ts),)
    _, span_id, _status, duration, ts = record[:5]
    return (span_id,), (dumps(round(duration * 1000.0, 3)), dumps(ts))
