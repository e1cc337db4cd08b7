"""The published schema is valid JSON Schema and rejects malformed lines."""

from __future__ import annotations

import jsonschema
import pytest

from spanline.schema import SCHEMA_VERSION, schema

GOOD_END = {
    "event": "span_end",
    "span_id": "00000000000000ff",
    "status": "ok",
    "duration_ms": 1.5,
    "tokens": 0,
    "tool_uses": 0,
    "ts": 1.0,
    "attributes": {},
    "analyses_written": 2,
}


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())
    assert schema()["$defs"]["run_start"]["properties"]["schema_version"]["const"] == SCHEMA_VERSION


@pytest.mark.parametrize(
    "change",
    [
        {"status": "fine"},
        {"span_id": "xyz"},
        {"tokens": "12"},
        {"analyses_written": "two"},  # counters must be numbers
        {"duration_ms": -1},
    ],
)
def test_bad_span_end_lines_are_rejected(change: dict) -> None:
    validator = jsonschema.Draft202012Validator(schema())
    assert validator.is_valid(GOOD_END)
    assert not validator.is_valid({**GOOD_END, **change})


def test_unknown_event_kind_is_rejected() -> None:
    assert not jsonschema.Draft202012Validator(schema()).is_valid({"event": "mystery", "ts": 1})
