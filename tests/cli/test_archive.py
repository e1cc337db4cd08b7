"""A shared archive: runs pushed as Parquet and redacted files to a directory or a real
S3-compatible server (moto's server mode on loopback), queried in place, pulled back."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli._entry import spanline
from tests.cli._runs import make_golden_run

SECRET = "sk-proj-" + "Z9y8X7w6V5u4T3s2" * 3
PER_RUN = "select run_id, count(*) as spans from records group by run_id order by run_id"


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, str]]:
    """A moto S3 server on a free loopback port, with a bucket; the AWS settings to reach it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=2).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "moto did not start"
                time.sleep(0.2)
        env = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": url,
        }
        request = urllib.request.Request(f"{url}/archive", method="PUT")
        urllib.request.urlopen(request, timeout=10).close()  # the bucket
        yield env
    finally:
        server.kill()
        server.wait()


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three finished runs; the first holds a secret its log kept (written by hand)."""
    base = tmp_path_factory.mktemp("archive")
    for index in range(3):
        run = make_golden_run(base, f"golden-2026120{index + 1}T000000-00000{index}",
                              start=1_700_000_000.0 + index * 3600)  # fmt: skip
        if index == 0:
            log = run / "telemetry.jsonl"
            log.write_text(log.read_text().replace("looks fine", f"looks fine {SECRET}"))
    return base


def _json(result: subprocess.CompletedProcess[str]) -> list[dict]:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("where", ["directory", "s3"])
def test_pushed_runs_query_in_place_as_they_do_locally(
    base: Path, s3: dict[str, str], tmp_path: Path, where: str
) -> None:
    url = str(tmp_path / "archive") if where == "directory" else f"s3://archive/{tmp_path.name}"
    env = s3 if where == "s3" else None
    pushed = spanline("archive", "push", "--all-runs", "--to", url, "--dir", str(base), env=env)
    assert pushed.returncode == 0, pushed.stderr
    assert pushed.stdout.count("pushed ") == 3
    local = _json(spanline("query", PER_RUN, "--all-runs", "--json", "--dir", str(base)))
    archived = _json(spanline("query", PER_RUN, "--archive", url, "--json", env=env))
    assert archived == local and len(local) == 3
    again = spanline("archive", "push", "--all-runs", "--to", url, "--dir", str(base), env=env)
    assert again.stdout.count("skipped ") == 3  # already there


def test_what_is_pushed_is_redacted(base: Path, s3: dict[str, str], tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    assert (
        spanline(
            "archive", "push", "--all-runs", "--to", str(archive), "--dir", str(base)
        ).returncode
        == 0
    )
    stored = b"".join(path.read_bytes() for path in archive.rglob("*") if path.is_file())
    assert SECRET.encode() not in stored
    found = _json(
        spanline("query", "select attributes from records", "--archive", str(archive), "--json")
    )
    assert found and SECRET not in json.dumps(found)


def test_pull_brings_runs_back(base: Path, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    assert (
        spanline(
            "archive", "push", "--all-runs", "--to", str(archive), "--dir", str(base)
        ).returncode
        == 0
    )
    elsewhere = tmp_path / "elsewhere"
    pulled = spanline("archive", "pull", "--from", str(archive), "--dir", str(elsewhere))
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.count("pulled ") == 3
    local = _json(spanline("query", PER_RUN, "--all-runs", "--json", "--dir", str(base)))
    assert (
        _json(spanline("query", PER_RUN, "--all-runs", "--json", "--dir", str(elsewhere))) == local
    )


def test_export_parquet_writes_the_records(base: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    result = spanline("export", "golden-20261201T000000-000000", "--format", "parquet",
                      "--out", str(out), "--dir", str(base))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    import duckdb

    with duckdb.connect() as connection:
        (count,) = connection.execute(f"select count(*) from read_parquet('{out}')").fetchone()
    first = "golden-20261201T000000-000000"
    count_sql = "select count(*) as n from records"
    local = _json(spanline("query", count_sql, first, "--json", "--dir", str(base)))
    assert count == local[0]["n"] > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["archive", "push", "--to", "ftp://host/x"], "is not a directory or an s3:// URL"),
        (["archive", "push", "--to", "s3://"], "names no bucket"),
        (["archive", "pull", "--from", "{archive}", "golden-20990101T000000-000000"], "no run"),
        (["query", "select 1", "--archive", "{archive}"], "no archived runs"),
    ],
)
def test_bad_input_is_one_line_and_status_2(
    base: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "empty").mkdir()
    filled = [arg.replace("{archive}", str(tmp_path / "empty")) for arg in args]
    result = spanline(*filled, "--dir", str(base))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert message in result.stderr


def test_a_bucket_that_refuses_writes_is_status_2(base: Path, s3: dict[str, str]) -> None:
    result = spanline("archive", "push", "--all-runs", "--to", "s3://no-such-bucket/x",
                      "--dir", str(base), env=s3)  # fmt: skip
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "cannot write to s3://no-such-bucket/x" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_log_is_pushed_a_block_at_a_time(tmp_path: Path) -> None:
    """Pushing redacts the log a block at a time (it was read, joined and redacted whole:
    three copies of a log in memory). What Python allocates stays far under its size."""
    import tracemalloc

    import orjson
    from fsspec.implementations.local import LocalFileSystem

    from spanline._runs._store import Run
    from spanline.cli._archive import _push_run

    directory = tmp_path / "runs" / "big-20261207T000000-aaaaaa"
    directory.mkdir(parents=True)
    line = orjson.dumps({"event": "phase", "name": "p", "wall_ms": 1.0, "ts": 1800000000.0,
                         "items": "x" * 1000}) + b"\n"  # fmt: skip
    head = orjson.dumps({"event": "run_start", "ts": 1800000000.0, "run_id": directory.name,
                         "pid": 1, "schema_version": 1}) + b"\n"  # fmt: skip
    (directory / "telemetry.jsonl").write_bytes(head + line * 16_000)  # 16 MB
    run = Run(directory.name, directory)
    tracemalloc.start()
    try:
        _push_run(run, LocalFileSystem(auto_mkdir=True), str(tmp_path / "archive" / run.run_id))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    pushed = tmp_path / "archive" / run.run_id / "telemetry.jsonl"
    assert pushed.stat().st_size == (directory / "telemetry.jsonl").stat().st_size
    assert peak < 8 * 1024 * 1024, peak
