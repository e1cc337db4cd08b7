"""``spanline query``: SQL over runs with DuckDB, through a Logfire-shaped ``records`` view."""

from __future__ import annotations

import datetime
import decimal
import re
import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click
import orjson

from spanline._runs._store import Run, list_runs
from spanline.cli._app import CliError, base_dir, cli, console, find_run, read_options

__all__ = ["query"]

_INT64 = 1 << 63


@cli.command()
@click.argument("sql")
@click.argument("run", required=False)
@click.option("--all-runs", is_flag=True, help="query every run under the base directory")
@click.option(
    "--archive", "archive_url", metavar="URL", help="query every run of an archive, in place"
)
@read_options
def query(
    sql: str,
    run: str | None,
    all_runs: bool,
    archive_url: str | None,
    directory: Path | None,
    as_json: bool,
) -> None:
    """Run SQL over the `records` view of RUN (default: latest), one row per span.

    Columns, as Logfire's: span_name, start_timestamp, end_timestamp, duration
    (seconds), attributes (JSON), trace_id, span_id, parent_span_id, level,
    is_exception, exception_type, exception_message, kind, status, agent_id, run_id.
    """
    if all_runs and run is not None:
        raise click.UsageError("give a RUN or --all-runs, not both")
    if archive_url is not None:
        if all_runs or run is not None:
            raise click.UsageError(
                "--archive queries the archive's runs: give no RUN or --all-runs"
            )
        columns, types, rows = run_query(sql, [], archive=archive_url)
        _print_json(columns, types, rows) if as_json else _print_table(columns, rows)
        return
    runs = _all_runs(directory) if all_runs else [find_run(run, directory)]
    for found in runs:
        if not found.telemetry_path.is_file():
            raise CliError(f"no telemetry.jsonl in {found.directory}")
    columns, types, rows = run_query(sql, runs)
    if as_json:
        _print_json(columns, types, rows)
    elif columns:
        _print_table(columns, rows)


def run_query(
    sql: str, runs: Sequence[Run], *, archive: str | None = None
) -> tuple[list[str], list[str], list[tuple[Any, ...]]]:
    """Create the ``records`` view over ``runs`` (or an archive's Parquet files, read in
    place), run ``sql`` and fetch its rows.

    Returns:
        The result's column names, their DuckDB types, and the rows (no columns
        when the statement returns no result).

    Raises:
        CliError: DuckDB is missing, or the SQL failed (its first line).
    """
    try:
        import duckdb
    except ImportError:
        from spanline._capture._install import install_command

        raise CliError(f"spanline query needs DuckDB: {install_command('query')}") from None
    import tempfile

    from spanline.folds.records import records_view_sql

    if archive is not None:
        return _run_sql(duckdb, sql, None, archive=archive)
    with tempfile.TemporaryDirectory(prefix="spanline-query-") as scratch:
        paths = [_finite_log(run.telemetry_path, Path(scratch) / f"{i}.jsonl")
                 for i, run in enumerate(runs)]  # fmt: skip
        return _run_sql(duckdb, sql, records_view_sql(
            [(run.run_id, path) for run, path in zip(runs, paths, strict=True)]
        ), blob_dirs={run.run_id: run.telemetry_path.parent for run in runs})  # fmt: skip


def _finite_log(path: Path, scratch: Path) -> Path:
    """``path``, or, when lines of it hold NaN or infinities, a copy with those values
    null as every reader reads them (DuckDB would read NaN), with one warning."""
    from spanline._lines._read import NONFINITE_HINT, blocks, finite_line

    if not any(NONFINITE_HINT.search(data) for data, _, _ in blocks(path, final=True)):
        return path
    count = 0
    with scratch.open("wb") as copy:
        for data, cut, _ in blocks(path, final=True):
            whole = data[:cut] if cut else data + b"\n"  # else: a last line without newline
            for line in whole.split(b"\n")[:-1]:
                line, changed = finite_line(line)
                count += changed
                copy.write(line + b"\n")
    if count:
        sys.stderr.write(
            f"spanline: warning: read NaN or infinity as null in {count} line(s) of {path}, kept\n"
        )
    return scratch


def _run_sql(
    duckdb: Any,
    sql: str,
    view: str | None,
    *,
    archive: str | None = None,
    blob_dirs: Mapping[str, Path] | None = None,
) -> tuple[list[str], list[str], list[tuple[Any, ...]]]:
    """Run ``sql`` over the ``view`` statement's records, or over an archive's Parquet
    files read in place (the archive's filesystem is registered with the connection).
    With ``blob_dirs`` (run id -> run directory), values stored out of line can be read
    (see :func:`_register_blobs`)."""
    with duckdb.connect(":memory:") as connection:
        connection.execute(_BLOB_MACRO)
        if blob_dirs is not None:
            _register_blobs(connection, sql, blob_dirs)
        if archive is not None:
            from spanline.cli._archive import records_parquet_view

            view = records_parquet_view(archive, connection)
        assert view is not None
        try:
            connection.execute("SET TimeZone = 'UTC'")
            connection.execute(view)
            cursor = connection.execute(sql)
            description = cursor.description
            rows = cursor.fetchall() if description else []
        except duckdb.Error as exc:
            raise CliError(_first_line(exc)) from None
    if not description:
        return [], [], []
    return [d[0] for d in description], [str(d[1]) for d in description], rows


#: What a query names to read values stored out of line: the ``blobs`` table is filled
#: (each run's ``blobs/`` read and decompressed by spanline) only when the SQL names it.
_BLOBS_NAMED = re.compile(r"\bblobs\b", re.IGNORECASE)
_BLOB_MACRO = (
    "CREATE TEMP MACRO blob_sha256(attrs, name) AS "
    "json_extract_string(attrs, '$.\"' || name || '\".\"spanline.blob\".sha256')"
)


def _register_blobs(connection: Any, sql: str, blob_dirs: Mapping[str, Path]) -> None:
    """``blob_sha256(attributes, name)``, the hash of a value stored out of line; and, when
    ``sql`` names it, the ``blobs`` table: ``(run_id, sha256, bytes, content)``.

    Raises:
        CliError: a blob file is corrupt.
    """
    if not _BLOBS_NAMED.search(sql):
        return
    from spanline._lines._blobs import BLOBS_DIR, BlobError, read_blob

    connection.execute(
        "CREATE TEMP TABLE blobs (run_id VARCHAR, sha256 VARCHAR, bytes BIGINT, content VARCHAR)"
    )
    for run_id, directory in blob_dirs.items():
        folder = directory / BLOBS_DIR
        names = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
        for name in names:
            digest = name.removesuffix(".zst")
            try:
                data = read_blob(directory, digest)
            except (BlobError, OSError) as exc:
                raise CliError(str(exc)) from None
            if data is None:
                continue  # not a blob's name (a file left half-written by a killed process)
            text = data.decode("utf-8", "replace")
            connection.execute(
                "INSERT INTO blobs VALUES (?, ?, ?, ?)", [run_id, digest, len(data), text]
            )


def _all_runs(directory: Path | None) -> list[Run]:
    base = base_dir(directory)
    runs = [run for run in list_runs(base) if run.telemetry_path.is_file()]
    if not runs:
        raise CliError(f"no runs under {base / 'runs'}")
    return runs


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _plain(value: Any, json_text: bool = False) -> Any:
    """A DuckDB value as JSON can hold it: timestamps as ISO strings, JSON parsed."""
    if value is None or (isinstance(value, (bool, float, str)) and not json_text):
        return value
    if json_text and isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else str(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (uuid.UUID, bytes, bytearray, memoryview)):
        return str(value) if isinstance(value, uuid.UUID) else bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, json_text) for v in value]
    return str(value)


def _print_json(columns: list[str], types: list[str], rows: list[tuple[Any, ...]]) -> None:
    is_json = [t == "JSON" or t == "JSON[]" for t in types]
    document = [
        {
            name: _plain(value, json_text)
            for name, value, json_text in zip(columns, row, is_json, strict=True)
        }
        for row in rows
    ]
    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)


def _print_table(columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for index, name in enumerate(columns):
        values = [row[index] for row in rows if row[index] is not None]
        numeric = bool(values) and all(
            isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool)
            for value in values
        )
        table.add_column(name, justify="right" if numeric else "left", overflow="fold")
    for row in rows:
        table.add_row(*(_cell(value) for value in row))
    out = console()
    if not out.is_terminal:  # piped or redirected: one line per row, never wrapped
        natural = out.measure(table, options=out.options.update_width(1 << 20)).maximum
        out = console(width=max(out.width, natural))
    out.print(table)
    out.print(f"({len(rows)} row{'' if len(rows) == 1 else 's'})")
