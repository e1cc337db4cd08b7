"""The published JSON Schema of telemetry.jsonl lines."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["SCHEMA_VERSION", "schema", "schema_text"]

#: Bumped when a field of telemetry.jsonl changes meaning.
SCHEMA_VERSION = 1


def schema_text() -> str:
    """The schema file's text (``spanline/telemetry.schema.json``)."""
    return resources.files("spanline").joinpath("telemetry.schema.json").read_text("utf-8")


@cache
def schema() -> dict[str, Any]:
    """The schema as a dict (JSON Schema draft 2020-12)."""
    return json.loads(schema_text())
