"""A shared archive of finished runs: ``export --format parquet``, ``archive push|pull``, and
``query --archive``.

An archive is a directory or an S3-compatible bucket (``s3://bucket/prefix``) holding
``runs/<run_id>/``: the run's text files redacted again with the current rules, and
``records.parquet``, the run's ``records`` view (built from the redacted log). SQL
over an archive reads the Parquet files in place through an fsspec filesystem
registered with DuckDB, so nothing is downloaded first and no DuckDB extension is
needed. S3 settings are the standard AWS ones (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL`` for a server other than AWS).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from spanline._runs._liveness import run_is_live
from spanline._runs._store import Run, list_runs, validate_run_id
from spanline.cli._app import DIR_HELP, CliError, base_dir, cli, find_run

__all__ = ["archive", "archive_filesystem", "export_parquet", "records_parquet_view"]

#: Files of a run that stay on the machine that wrote them.
_LOCAL_ONLY = {"replay_state.json", "records.parquet"}
PARQUET = "records.parquet"


def _duckdb() -> Any:
    try:
        import duckdb
    except ImportError:
        from spanline._capture._install import install_command

        raise CliError(f"Parquet and archives need DuckDB: {install_command('query')}") from None
    return duckdb


def archive_filesystem(url: str) -> tuple[Any, str, str]:
    """The filesystem of an archive URL, the archive's root in it, and its protocol.

    Raises:
        CliError: the URL is not a directory or ``s3://bucket[/prefix]``, or s3fs is missing.
    """
    if url.startswith("s3://"):
        root = url[len("s3://") :].strip("/")
        if not root or root.startswith("/"):
            raise CliError(f"{url!r} names no bucket: use s3://bucket[/prefix]")
        try:
            import s3fs
        except ImportError:
            from spanline._capture._install import install_command

            raise CliError(f"an s3:// archive needs s3fs: {install_command('archive')}") from None
        return s3fs.S3FileSystem(), root, "s3"
    if "://" in url and not url.startswith("file://"):
        raise CliError(f"{url!r} is not a directory or an s3:// URL")
    from fsspec.implementations.local import LocalFileSystem

    path = Path(url.removeprefix("file://")).expanduser().resolve()
    return LocalFileSystem(auto_mkdir=True), path.as_posix(), "file"


@contextmanager
def _redacted_log(run: Run, renames: dict[str, Any] | None = None) -> Iterator[Path]:
    """A temporary copy of the run's log, redacted with the current rules (its blob
    references renamed as ``renames`` says)."""
    from spanline.cli._redacted import redact_log

    with tempfile.TemporaryDirectory(prefix="spanline-parquet-") as folder:
        copy = Path(folder) / "telemetry.jsonl"
        # A block at a time: a log may not fit in memory.
        redact_log(run.telemetry_path, copy, renames)
        yield copy


def write_parquet(run: Run, target: Path, renames: dict[str, Any] | None = None) -> None:
    """Write the run's ``records`` view (redacted) as Parquet to ``target``; blob references
    follow ``renames`` (the blobs pushed beside it, redacted again)."""
    duckdb = _duckdb()
    from spanline.folds.records import records_view_sql

    with _redacted_log(run, renames) as log, duckdb.connect(":memory:") as connection:
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute(records_view_sql([(run.run_id, log)]))
        escaped = str(target).replace("'", "''")
        connection.execute(f"COPY (SELECT * FROM records) TO '{escaped}' (FORMAT parquet)")


def export_parquet(run: Run, out: Path | None) -> list[Path]:
    """Write the run's ``records`` (one row per span, secrets redacted) as Parquet.

    Args:
        run: the run.
        out: a file, a directory (``<run_id>.parquet`` in it), or None for
            ``records.parquet`` in the run directory.

    Returns:
        The file written.
    """
    if out is not None and str(out) == "-":
        raise CliError("Parquet is not written to stdout: give --out a file or directory")
    target = run.directory / PARQUET if out is None else out
    if target.is_dir():
        target = target / f"{run.run_id}.parquet"
    write_parquet(run, target)
    return [target]


def records_parquet_view(url: str, connection: Any) -> str:
    """Register the archive's filesystem with ``connection``; return the view statement."""
    filesystem, root, protocol = archive_filesystem(url)
    if not filesystem.glob(f"{root}/runs/*/{PARQUET}"):
        raise CliError(f"no archived runs at {url}")
    if protocol == "s3":
        connection.register_filesystem(filesystem)
    pattern = (
        f"{protocol}://{root}/runs/*/{PARQUET}" if protocol == "s3" else f"{root}/runs/*/{PARQUET}"
    )
    escaped = pattern.replace("'", "''")
    scan = f"read_parquet('{escaped}', union_by_name = true)"
    return f"CREATE OR REPLACE TEMP VIEW records AS SELECT * FROM {scan}"


@cli.group(name="archive")
def archive() -> None:
    """Copy finished runs to or from a shared archive (a directory or s3://bucket/prefix)."""


@archive.command(name="push")
@click.argument("run", required=False)
@click.option(
    "--to",
    "url",
    required=True,
    metavar="URL",
    help="the archive: a directory or s3://bucket/prefix",
)
@click.option("--all-runs", is_flag=True, help="every finished run under --dir")
@click.option("--force", is_flag=True, help="push runs the archive has already")
@click.option("--dir", "directory", type=click.Path(path_type=Path), help=DIR_HELP)
def push(run: str | None, url: str, all_runs: bool, force: bool, directory: Path | None) -> None:
    """Copy finished runs into the archive, redacted again, with their records as Parquet."""
    if all_runs and run is not None:
        raise CliError("give a run or --all-runs, not both")
    from spanline.cli._redacted import use_environment_rules

    use_environment_rules()  # the rules of now include the user's
    filesystem, root, _ = archive_filesystem(url)
    runs = list_runs(base_dir(directory))[::-1] if all_runs else [find_run(run, directory)]
    for each in runs:
        if run_is_live(each):
            if not all_runs:
                raise CliError(f"{each.run_id} is still being written: push it when it ends")
            click.echo(f"skipped {each.run_id}: still being written")
            continue
        target = f"{root}/runs/{each.run_id}"
        if not force and filesystem.exists(f"{target}/{PARQUET}"):
            click.echo(f"skipped {each.run_id}: already in the archive (--force pushes it again)")
            continue
        try:
            count = _push_run(each, filesystem, target)
        except OSError as exc:
            raise CliError(f"cannot write to {url}: {exc}") from None
        click.echo(f"pushed {each.run_id}: {count} file(s)")


def _push_run(run: Run, filesystem: Any, target: str) -> int:
    from spanline._lines._blobs import BLOBS_DIR
    from spanline.cli._redacted import redact_blobs, redact_file, redact_log

    count = 0
    with tempfile.TemporaryDirectory(prefix="spanline-archive-") as folder:
        blobs = redact_blobs(run.directory)  # redacted again, renamed by their new hash
        parquet = Path(folder) / PARQUET
        write_parquet(run, parquet, blobs.renames)
        for relative, payload in blobs.files.items():
            filesystem.pipe_file(f"{target}/{relative}", payload)
            count += 1
        for path in sorted(run.directory.rglob("*")):
            if not path.is_file() or path.is_symlink() or path.name in _LOCAL_ONLY:
                continue
            if path.parent.name == BLOBS_DIR:
                continue
            relative = path.relative_to(run.directory).as_posix()
            if path.suffix == ".jsonl":  # a log may not fit in memory: a block at a time
                log = Path(folder) / "log.jsonl"
                redact_log(path, log, blobs.renames)
                filesystem.put_file(str(log), f"{target}/{relative}")
                count += 1
                continue
            redacted = redact_file(path.name, path.read_bytes(), blobs.renames)
            if redacted is None:
                continue  # not text: it cannot be checked for secrets, so it stays here
            filesystem.pipe_file(f"{target}/{relative}", redacted)
            count += 1
        # The records last: their presence says the run is whole in the archive.
        filesystem.put_file(str(parquet), f"{target}/{PARQUET}")
    return count + 1


@archive.command(name="pull")
@click.argument("runs", nargs=-1)
@click.option(
    "--to", "--from", "url", required=True, metavar="URL", help="the archive to copy from"
)
@click.option("--force", is_flag=True, help="replace runs that are here already")
@click.option("--dir", "directory", type=click.Path(path_type=Path), help=DIR_HELP)
def pull(runs: tuple[str, ...], url: str, force: bool, directory: Path | None) -> None:
    """Copy runs from the archive into --dir (default: every run it holds)."""
    filesystem, root, _ = archive_filesystem(url)
    for run_id in runs:
        validate_run_id(run_id)
    wanted = list(runs) or sorted(
        Path(found).parent.name for found in filesystem.glob(f"{root}/runs/*/{PARQUET}")
    )
    local = base_dir(directory) / "runs"
    for run_id in wanted:
        source = f"{root}/runs/{run_id}"
        if not filesystem.exists(f"{source}/{PARQUET}"):
            raise CliError(f"no run {run_id!r} in {url}")
        destination = local / run_id
        if destination.exists() and not force:
            click.echo(f"skipped {run_id}: already here (--force replaces it)")
            continue
        try:
            for found in filesystem.find(source):
                relative = found[len(source) + 1 :]
                target = destination / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(filesystem.cat_file(found))
        except OSError as exc:
            raise CliError(f"cannot copy {run_id}: {exc}") from None
        click.echo(f"pulled {run_id}")
    if not wanted:
        from spanline.folds.display import one_line

        sys.stderr.write(f"spanline: warning: no runs in {one_line(url)}\n")
