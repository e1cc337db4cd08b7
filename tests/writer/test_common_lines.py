"""The common span's lines are formatted from templates: the same bytes as the full
path (event dict, redaction, encoding), far less work per line."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import spanline
from spanline._capture import _redact
from spanline._capture._redact import REDACTED, reset_redaction
from spanline._capture._scrub import redact_event
from spanline._lines._encode import encode
from spanline._writer._convert import EventMaker
from spanline._writer._pipeline import Pipeline
from spanline.schema import END, EVENT, START
from tests._helpers import configure, read_lines

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"


@pytest.fixture(autouse=True)
def _rules() -> Iterator[None]:
    reset_redaction()
    yield
    reset_redaction()


def _full_path(record: tuple[Any, ...]) -> bytes:
    return encode(EventMaker(TRACE_ID, redact_event).event(record))


def _templates() -> Any:
    from spanline._writer._fast import LineTemplates  # here: the other tests stand alone

    return LineTemplates(
        TRACE_ID, EventMaker(TRACE_ID, redact_event).event, lambda: _redact.registry
    )


SECRETS = [
    "postgres://admin:hunter2@db.internal/app",
    "Bearer abcdefghijklmnopqrstuvwxyz0123456789",
]
NAMES = ["hot", 'quo"te', "100% done", "%016x %r %s", "ünï-cødé ✓", "", "x" * 300, *SECRETS]
TIMES = [1765140000.123456, 1e-4, 9.99e-5, 0.0, 1e16, 1e20, -3.5, math.nan, math.inf, 1765140000]


class _Text(str):
    """A str subclass: its hash and text are user code, which the templates never run."""

    def __hash__(self) -> int:
        raise AssertionError("the writer's templates ran a subclass's __hash__")


def _records() -> list[tuple[Any, ...]]:
    records: list[tuple[Any, ...]] = []
    for index, name in enumerate(NAMES):
        for component, kind in ((None, None), ("api", "tool"), ('c"%', "agent")):
            for parent in (None, 7, 2**64 - 1):
                records.append((START, index + 1, parent, name, component, kind, 1765.5, None))
    for ts in TIMES:
        records.append((START, 5, None, "t", None, None, ts, None))
        records.append((END, 5, "ok", 0.25, ts, None, None, None))
    for duration in (0.0, 1e-7, 4e-7, 5e-7, 0.0123456, 1e13, 1e14, -0.0, 3, math.nan):
        records.append((END, 9, "ok", duration, 1765140000.5, None, None, None))
    records += [
        (START, 3, None, "with attributes", None, None, 1765.5, (("k", "v"),)),
        (END, 3, "error", 0.5, 1765.5, (("type", "ValueError"), ("message", "no")), None, None),
        (END, 3, "error", 0.5, 1765.5, None, None, None),
        (END, 3, "ok", 0.5, 1765.5, None, (("password", "hunter2"),), None),
        (END, 3, "ok", 0.5, 1765.5, None, None, (("tokens", 12),)),
        (EVENT, "vote", 3, 1765.5, None),
        (START, 2**64 - 1, 0, "edge ids", None, None, 1765.5, None),
        (START, 4, None, _Text("a str subclass"), None, None, 1765.5, None),
        (START, 4, None, "kind of a subclass", None, _Text("tool"), 1765.5, None),
        (START, 4, None, "a list for a component", ["c"], None, 1765.5, None),
    ]
    return records


def _written(templates: Any, records: list[tuple[Any, ...]]) -> tuple[bytes, int]:
    """The batch's bytes as the writer writes them, and how many lines the templates made."""
    batch, rest = templates.split(records)
    events = [EventMaker(TRACE_ID, redact_event).event(record) for record in rest]
    return batch.render(events), len(records) - len(rest)


def test_every_record_is_written_as_the_full_path_writes_it() -> None:
    records = _records()
    templates = _templates()
    for record in records:  # one at a time: each line on its own
        assert _written(templates, [record])[0] == _full_path(record), record
    # And all in one batch, the full path's lines in the gaps.
    written, formatted = _written(templates, records)
    assert written == b"".join(_full_path(record) for record in records)
    # The common spans did take the templates: plain names, "%" in them, usual times.
    assert _written(templates, records[:1])[1] == 1
    assert _written(templates, records[NAMES.index("100% done") * 9 :][:1])[1] == 1
    assert formatted > len(records) // 2


def _random_text(rng: random.Random) -> str:
    alphabet = ["a", "Z", "0", " ", "%", "%s", "%016x", '"', "\\", "/", ":", "@", "é", "✓", "日本",
                "\u2028", "\x00", "\n", "🚀", "-", "_", "="]  # fmt: skip
    text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
    return rng.choice([text, text, rng.choice(SECRETS), f"see {rng.choice(SECRETS)} {text}"])


def _random_float(rng: random.Random) -> Any:
    return rng.choice(
        [
            rng.uniform(1.6e9, 1.8e9),
            rng.uniform(0, 1e-3),
            rng.uniform(0, 10),
            rng.choice([0.0, -0.0, 1e-7, 5e-7, 1e16, 1e300, 2.5e-320, -1.5, math.nan, math.inf]),
            rng.randrange(0, 10**6),  # an int where a float usually is
            rng.uniform(1e-5, 1e-4),
        ]
    )


def _random_id(rng: random.Random) -> Any:
    return rng.choice([rng.randrange(1, 2**64), 1, 2**64 - 1, rng.randrange(1, 100), True])


def test_random_records_are_written_byte_for_byte_as_the_full_path_writes_them() -> None:
    """Many random names (redacted ones, non-ASCII, format specifiers), ids and times,
    in batches with the records the full path writes between them."""
    rng = random.Random(20261207)
    templates = _templates()
    names = [_random_text(rng) for _ in range(60)]
    for _ in range(40):
        records: list[tuple[Any, ...]] = []
        for _ in range(rng.randrange(1, 60)):
            span_id = _random_id(rng)
            name = rng.choice(names)
            component = rng.choice([None, None, None, "api", _random_text(rng)])
            kind = rng.choice([None, None, "tool", "agent"])
            parent = rng.choice([None, _random_id(rng), _random_id(rng)])
            attributes = rng.choice([None, None, None, (("k", _random_text(rng)),)])
            records.append((START, span_id, parent, name, component, kind, _random_float(rng),
                            attributes))  # fmt: skip
            status = rng.choice(["ok", "ok", "ok", "error"])
            counters = rng.choice([None, None, None, (("tokens", 3),)])
            records.append((END, span_id, status, _random_float(rng), _random_float(rng), None,
                            None, counters))  # fmt: skip
            if rng.random() < 0.1:
                records.append((EVENT, name, span_id, 1765.5, None))
        written, _ = _written(templates, records)
        assert written == b"".join(_full_path(record) for record in records)


def test_a_secret_in_a_name_is_redacted_in_the_template() -> None:
    name = "postgres://admin:hunter2@db.internal/app"
    written, formatted = _written(_templates(), [(START, 1, None, name, None, None, 1765.5, None)])
    assert formatted == 1 and b"hunter2" not in written and REDACTED.encode() in written


def test_common_spans_do_not_each_go_through_redaction(tmp_path: Path) -> None:
    """A thousand plain spans are written with a handful of redaction calls (the
    templates' samples), not two per span; the file holds every line."""
    calls = 0

    def counting(event: dict[str, Any]) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        return redact_event(event)

    pipeline = Pipeline(
        telemetry_path=tmp_path / "telemetry.jsonl",
        trace_id=TRACE_ID,
        flush_interval=0.05,
        max_queue=100_000,
        transform=counting,
    )
    pipeline.start()
    records = []
    for number in range(1, 1001):
        records.append((START, number, None if number % 2 else 1, "step", None, None, 1765.5, None))
        records.append((END, number, "ok", 0.001 * number, 1766.5, None, None, None))
    for record in records:
        pipeline.emit(record)
    assert pipeline.flush(timeout=60) is True
    pipeline.shutdown(timeout=60)
    written = (tmp_path / "telemetry.jsonl").read_bytes().splitlines(keepends=True)
    assert written[:-1] == [_full_path(record) for record in records]  # then process_end
    assert calls <= 10


def test_a_rule_added_during_a_run_redacts_the_names_after_it(tmp_path: Path) -> None:
    run = configure(tmp_path)
    with spanline.span("ticket ACME-123456"):
        pass
    assert spanline.flush(timeout=30) is True
    spanline.add_redaction_pattern(r"ACME-\d{6}")
    with spanline.span("ticket ACME-123456"):
        pass
    spanline.shutdown()
    names = [e["name"] for e in read_lines(run.telemetry_path) if e["event"] == "span_start"]
    assert names == ["ticket ACME-123456", f"ticket {REDACTED}"]
