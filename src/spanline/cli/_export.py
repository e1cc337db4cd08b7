"""``spanline export``: a run in another format (MLflow, MassGen, OTLP JSON, a share bundle,
a web page).

Each format is a function found by its dotted name and imported only when asked
for, so a format's code (and whatever it needs) loads with that format alone.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import click
import orjson

from spanline._runs._store import Run
from spanline.cli._app import CliError, cli, find_run, read_options
from spanline.cli._format import parse_size
from spanline.cli._redacted import deliver, redacted_run, use_environment_rules

__all__ = ["FORMATS", "export", "export_html", "export_mlflow", "export_otlp_json"]

#: Format name -> ``module.function(run, out, **options) -> list[Path]``.
FORMATS = {
    "bundle": "spanline.cli._bundle.export_bundle",
    "html": "spanline.cli._export.export_html",
    "massgen": "spanline.cli._export_massgen.export_massgen",
    "mlflow": "spanline.cli._export.export_mlflow",
    "otlp-json": "spanline.cli._export.export_otlp_json",
    "parquet": "spanline.cli._archive.export_parquet",
}
_DEFAULT_LIMIT = "500KB"


def _load(fmt: str) -> Any:
    module_name, _, function = FORMATS[fmt].rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise CliError(f"export format {fmt!r} is not available in this version") from None
    return getattr(module, function)


@cli.command()
@click.argument("run", required=False)
@click.option(
    "--format", "fmt", required=True, type=click.Choice(sorted(FORMATS)), help="what to write"
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, allow_dash=True),
    help="file or directory to write ('-': stdout, mlflow, otlp-json and html only)",
)
@click.option("--dry-run", is_flag=True, help="bundle: list what would be included, write nothing")
@click.option(
    "--limit", default=_DEFAULT_LIMIT, show_default=True, help="bundle: largest file included"
)
@click.option(
    "--session",
    "session_id",
    metavar="ID",
    help="massgen: every run of a session, as turn_N/attempt_M/ and turn_N/final/",
)
@read_options
def export(
    run: str | None,
    fmt: str,
    out: Path | None,
    dry_run: bool,
    limit: str,
    session_id: str | None,
    directory: Path | None,
    as_json: bool,
) -> None:
    """Export RUN (an id, 'latest' by default, or a path) as FORMAT; prints what it wrote."""
    if fmt != "bundle" and (dry_run or limit != _DEFAULT_LIMIT):
        raise click.UsageError("--dry-run and --limit apply to --format bundle only")
    if session_id is not None:
        if fmt != "massgen" or run is not None:
            raise click.UsageError("--session applies to --format massgen, without a run")
        from spanline.cli._export_massgen import export_massgen_session

        for path in export_massgen_session(session_id, directory, out):
            sys.stdout.write(f"{path}\n")
        return
    function = _load(fmt)
    found = find_run(run, directory)
    if not found.telemetry_path.is_file():
        raise CliError(f"no telemetry.jsonl in {found.directory}")
    if fmt == "bundle":  # redacts file by file itself, and says what it left out
        use_environment_rules()
        written = function(found, out, limit=parse_size(limit), dry_run=dry_run, as_json=as_json)
    else:
        # Every other format reads a redacted copy of the run: one pass on the way out.
        with redacted_run(found) as view:
            written = deliver(function(view, out), view, found)
    for path in written:
        sys.stdout.write(f"{path}\n")


def export_mlflow(run: Run, out: Path | None) -> list[Path]:
    """Write the run as one MLflow trace JSON.

    Args:
        run: the run.
        out: a file, a directory (``<run_id>.mlflow.json`` in it), ``-`` for stdout,
            or None for ``mlflow_trace.json`` in the run directory.

    Returns:
        The file written (none for stdout).
    """
    from spanline.folds.mlflow import mlflow_trace_file

    trace, problems = mlflow_trace_file(run.telemetry_path)
    from spanline.cli._read import warn_skipped

    warn_skipped(problems)
    data = orjson.dumps(trace, option=orjson.OPT_INDENT_2) + b"\n"
    return _write_one(data, out, run.directory / "mlflow_trace.json", f"{run.run_id}.mlflow.json")


def export_otlp_json(run: Run, out: Path | None) -> list[Path]:
    """Write the run as OTLP JSON: one ``ExportTraceServiceRequest`` that any OTLP/HTTP
    receiver taking JSON accepts (``curl -H 'Content-Type: application/json' --data @file``).

    Args:
        run: the run.
        out: a file, a directory (``<run_id>.otlp.json`` in it), ``-`` for stdout, or
            None for ``otlp_traces.json`` in the run directory.

    Returns:
        The file written (none for stdout).
    """
    from spanline.folds.otlp_json import otlp_json_file

    request, unfinished, problems = otlp_json_file(run.telemetry_path)
    from spanline.cli._read import warn_skipped

    warn_skipped(problems)
    if unfinished:
        sys.stderr.write(
            f"spanline: warning: skipped {unfinished} spans that never ended "
            "(OTLP needs an end time)\n"
        )
    data = orjson.dumps(request) + b"\n"
    return _write_one(data, out, run.directory / "otlp_traces.json", f"{run.run_id}.otlp.json")


def export_html(run: Run, out: Path | None) -> list[Path]:
    """Write the run as the dashboard page with its events embedded: a static report.

    It opens from disk with no server and no network. Only the page builder is
    imported, never the server, so the ``[dashboard]`` extra is not needed.

    Args:
        run: the run.
        out: a file, a directory (``<run_id>.html`` in it), ``-`` for stdout, or
            None for ``report.html`` in the run directory.

    Returns:
        The file written (none for stdout).
    """
    from spanline.dashboard.page import build_page, report_data

    report = report_data(run.directory)
    nonfinite = report["snapshot"]["nonfinite_lines"]
    if nonfinite:
        sys.stderr.write(
            f"spanline: warning: read NaN or infinity as null in {nonfinite} line(s) of"
            f" {run.telemetry_path}, kept\n"
        )
    data = build_page(report).encode("utf-8")
    return _write_one(data, out, run.directory / "report.html", f"{run.run_id}.html")


def _write_one(data: bytes, out: Path | None, default: Path, name_in_dir: str) -> list[Path]:
    """Write one exported file: to stdout (``-``), ``out``, ``name_in_dir`` inside a
    directory ``out``, or ``default``; return what was written (none for stdout)."""
    if out is not None and str(out) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return []
    if out is None:
        out = default
    elif out.is_dir():
        out = out / name_in_dir
    out.write_bytes(data)
    return [out]
