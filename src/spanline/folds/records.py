"""The ``records`` view: one row per span, shaped like Logfire's ``records`` table.

This module holds the SQL text only (no DuckDB import), so the view's shape is
defined, documented and tested in one place; ``spanline query`` runs it.

Two DuckDB traps are avoided here:

* ``read_json`` infers a schema from the first lines only, and silently drops
  keys first seen later. The columns are therefore given explicitly, and
  everything variable stays in the JSON ``attributes`` (and ``error``) column.
* A torn last line (a run still being written) or a malformed line would stop
  the read; ``ignore_errors`` turns such a line into an all-NULL row, which the
  view filters out (every real event has an ``event`` tag).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["EVENT_COLUMNS", "RECORDS_COLUMNS", "RecordsColumn", "records_view_sql"]

#: The event fields the view reads, with their DuckDB types. Any other key is ignored.
EVENT_COLUMNS: dict[str, str] = {
    "event": "VARCHAR",
    "span_id": "VARCHAR",
    "parent": "VARCHAR",
    "trace_id": "VARCHAR",
    "name": "VARCHAR",
    "kind": "VARCHAR",
    "ts": "DOUBLE",
    "status": "VARCHAR",
    "duration_ms": "DOUBLE",
    "attributes": "JSON",
    "error": "JSON",
    # The run_start line's session, turn and attempt (text: a hostile value reads as NULL).
    "session_id": "VARCHAR",
    "turn": "VARCHAR",
    "attempt": "VARCHAR",
}


@dataclass(frozen=True)
class RecordsColumn:
    """One column of the ``records`` view.

    Attributes:
        name: the column's name.
        type: its SQL type.
        meaning: what it holds.
    """

    name: str
    type: str
    meaning: str


#: The columns of ``records``, in order.
RECORDS_COLUMNS: tuple[RecordsColumn, ...] = (
    RecordsColumn("span_name", "VARCHAR", "the span's name (`tool.read_file`, `llm.call_model`)"),
    RecordsColumn("start_timestamp", "TIMESTAMPTZ", "when the span started"),
    RecordsColumn("end_timestamp", "TIMESTAMPTZ", "when it ended; NULL while it is open"),
    RecordsColumn("duration", "DOUBLE", "its duration in seconds; NULL while it is open"),
    RecordsColumn("attributes", "JSON", "start attributes merged with end attributes (end wins)"),
    RecordsColumn("trace_id", "VARCHAR", "32 hex characters, one per run"),
    RecordsColumn("span_id", "VARCHAR", "16 hex characters, unique in the run"),
    RecordsColumn("parent_span_id", "VARCHAR", "the parent's span_id; NULL at a root"),
    RecordsColumn("level", "VARCHAR", "`error` when the span failed, else `info`"),
    RecordsColumn("is_exception", "BOOLEAN", "whether the span ended with an error record"),
    RecordsColumn(
        "exception_type",
        "VARCHAR",
        "the error's type, e.g. `ValueError`, `pkg.MyError`, or `status` (from `set_status`)",
    ),
    RecordsColumn("exception_message", "VARCHAR", "the error's message"),
    RecordsColumn("kind", "VARCHAR", "spanline's span kind (`agent`, `tool`, `llm`, `phase`...)"),
    RecordsColumn("status", "VARCHAR", "`ok` or `error`; NULL while the span is open"),
    RecordsColumn("agent_id", "VARCHAR", "the `gen_ai.agent.id` attribute"),
    RecordsColumn("run_id", "VARCHAR", "the run the span belongs to"),
    RecordsColumn("session_id", "VARCHAR", "the span's `session.id` attribute (its conversation)"),
    RecordsColumn(
        "turn", "BIGINT", "the run's turn in that session (from the run header); NULL if none"
    ),
    RecordsColumn("attempt", "BIGINT", "the run's attempt of that turn; NULL if none"),
)

# Merging is skipped when one side is empty (most spans), which is also faster.
_MERGED = (
    "CASE WHEN end_attributes IS NULL OR end_attributes = '{}' THEN start_attributes"
    " WHEN start_attributes IS NULL OR start_attributes = '{}' THEN end_attributes"
    " ELSE json_merge_patch(start_attributes, end_attributes) END"
)

# One pass over the events, grouped by span (measured: a join of starts and ends
# needs the file twice or a materialized copy, and DuckDB then computes every
# column even for ``count(*)``; unused aggregates are pruned).
_VIEW = """CREATE OR REPLACE TEMP VIEW records AS
WITH spans AS (
  SELECT
    run_id,
    span_id,
    count(*) FILTER (WHERE event = 'span_start') AS starts,
    -- A span classified at its end (the bridge's) carries its final name and kind
    -- on span_end: the end wins.
    coalesce(
      any_value(name) FILTER (WHERE event = 'span_end'),
      any_value(name) FILTER (WHERE event = 'span_start')
    ) AS name,
    any_value(ts) FILTER (WHERE event = 'span_start') AS start_ts,
    any_value(ts) FILTER (WHERE event = 'span_end') AS end_ts,
    any_value(duration_ms) FILTER (WHERE event = 'span_end') AS duration_ms,
    any_value(attributes) FILTER (WHERE event = 'span_start') AS start_attributes,
    any_value(attributes) FILTER (WHERE event = 'span_end') AS end_attributes,
    any_value(trace_id) FILTER (WHERE event = 'span_start') AS trace_id,
    any_value(parent) FILTER (WHERE event = 'span_start') AS parent,
    coalesce(
      any_value(kind) FILTER (WHERE event = 'span_end'),
      any_value(kind) FILTER (WHERE event = 'span_start')
    ) AS kind,
    any_value(status) FILTER (WHERE event = 'span_end') AS status,
    any_value(error) FILTER (WHERE event = 'span_end') AS error,
    any_value(session_id) FILTER (WHERE event = 'run_start') AS header_session,
    any_value(TRY_CAST(turn AS BIGINT)) FILTER (WHERE event = 'run_start') AS header_turn,
    any_value(TRY_CAST(attempt AS BIGINT)) FILTER (WHERE event = 'run_start') AS header_attempt
  FROM (
{events}
  )
  WHERE event IN ('span_start', 'span_end', 'run_start')
  GROUP BY run_id, span_id
),
-- The run header's session, turn and attempt, on each span of its run: one pass still.
runs AS (
  SELECT
    *,
    max(header_session) OVER (PARTITION BY run_id) AS run_session,
    max(header_turn) OVER (PARTITION BY run_id) AS run_turn,
    max(header_attempt) OVER (PARTITION BY run_id) AS run_attempt,
    coalesce(end_attributes ->> 'session.id', start_attributes ->> 'session.id') AS span_session
  FROM spans
)
SELECT
  name AS span_name,
  to_timestamp(start_ts) AS start_timestamp,
  to_timestamp(end_ts) AS end_timestamp,
  round(duration_ms / 1000.0, 6) AS duration,
  {merged} AS attributes,
  trace_id,
  span_id,
  parent AS parent_span_id,
  CASE WHEN status = 'error' THEN 'error' ELSE 'info' END AS level,
  coalesce(error IS NOT NULL, false) AS is_exception,
  error ->> 'type' AS exception_type,
  error ->> 'message' AS exception_message,
  kind,
  status,
  coalesce(end_attributes ->> 'gen_ai.agent.id', start_attributes ->> 'gen_ai.agent.id')
    AS agent_id,
  run_id,
  span_session AS session_id,
  CASE WHEN span_session = run_session THEN run_turn END AS turn,
  CASE WHEN span_session = run_session THEN run_attempt END AS attempt
FROM runs
WHERE starts > 0
"""

_SCAN = (
    "    SELECT *, {run_id} AS run_id FROM read_json({path}, format = 'newline_delimited',"
    " columns = {columns}, ignore_errors = true, maximum_object_size = {max_size})"
    " WHERE event IS NOT NULL"
)

#: The longest line read (bytes); previews keep lines far shorter, full capture may not.
MAX_LINE_BYTES = 1 << 24


def _literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _columns() -> str:
    return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in EVENT_COLUMNS.items()) + "}"


def records_view_sql(runs: Sequence[tuple[str, str | os.PathLike[str]]]) -> str:
    """The statement creating the ``records`` view over some runs' event logs.

    Args:
        runs: ``(run_id, telemetry.jsonl path)`` for each run; at least one.

    Returns:
        One ``CREATE OR REPLACE TEMP VIEW records AS ...`` statement.

    Raises:
        ValueError: ``runs`` is empty.
    """
    if not runs:
        raise ValueError("records_view_sql needs at least one run")
    columns = _columns()
    scans = "\n    UNION ALL\n".join(
        _SCAN.format(
            run_id=_literal(run_id),
            path=_literal(os.fspath(path)),
            columns=columns,
            max_size=MAX_LINE_BYTES,
        )
        for run_id, path in runs
    )
    return _VIEW.format(events=scans, merged=_MERGED)
