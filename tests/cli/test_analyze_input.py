"""``spanline analyze`` through its entry point: where the report goes, baselines, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from tests._helpers import run_cli
from tests.folds.test_analysis import SECRET, run_events

OLD, NEW, OTHER = (
    "svc-20260101T000000-aaaaaa",
    "svc-20260102T000000-bbbbbb",
    "other-20260101T120000-cccccc",
)


def write_run(base: Path, run_id: str, service: str = "svc", *, name: str = "root") -> Path:
    """A run of the small hand-made shape, its root span called ``name``."""
    directory = base / "runs" / run_id
    directory.mkdir(parents=True)
    head = {"event": "run_start", "run_id": run_id, "pid": 1, "ts": 0.0, "schema_version": 1,
            "service_name": service}  # fmt: skip
    events = [head, *run_events()]
    events[1]["name"] = name
    (directory / "telemetry.jsonl").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return directory


@pytest.fixture
def base(tmp_path: Path) -> Path:
    for run_id, service in ((OLD, "svc"), (OTHER, "other"), (NEW, "svc")):
        write_run(tmp_path, run_id, service)
    return tmp_path


def test_the_report_is_written_into_the_run_and_its_path_printed(base: Path) -> None:
    result = run_cli("analyze", "--dir", str(base))  # the latest run
    assert result.returncode == 0, result.stderr
    report = base / "runs" / NEW / "ANALYSIS_REPORT.md"
    assert result.stdout == f"{report}\n"
    assert report.read_text().startswith(f"# Analysis of run {NEW}\n")
    assert not (base / "runs" / OLD / "ANALYSIS_REPORT.md").exists()


def test_previous_is_the_run_of_the_same_service_before(base: Path) -> None:
    result = run_cli("analyze", NEW, "--baseline", "previous", "--json", "--dir", str(base))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["sections"]["baseline"]["baseline_run"] == OLD
    named = run_cli("analyze", NEW, "--baseline", OTHER, "--json", "--dir", str(base))
    assert json.loads(named.stdout)["sections"]["baseline"]["baseline_run"] == OTHER
    # A run given as a path finds its previous run in its own base, not in --dir's.
    by_path = run_cli("analyze", str(base / "runs" / NEW), "--baseline", "previous", "--json",
                      "--dir", str(base / "elsewhere"))  # fmt: skip
    assert by_path.returncode == 0, by_path.stderr
    assert json.loads(by_path.stdout)["sections"]["baseline"]["baseline_run"] == OLD


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["svc-20990101T000000-dddddd"], "no run"),
        (["bad id!"], "invalid run id"),
        ([NEW, "--baseline", "svc-20990101T000000-dddddd"], "baseline: no run"),
        ([NEW, "--baseline", "../x"], "baseline"),
        ([OLD, "--baseline", "previous"], "no previous run of service 'svc'"),
        ([NEW, "--baseline", NEW], "the baseline is the run itself"),
        (["./empty"], "no events"),
        ([NEW, "--baseline", "./empty"], "baseline"),
        (["./garbage"], "no events"),
    ],
)
def test_bad_input_exits_2_with_one_line(base: Path, args: list[str], needle: str) -> None:
    (base / "empty").mkdir()
    (base / "empty" / "telemetry.jsonl").write_bytes(b"")
    (base / "garbage").mkdir()
    (base / "garbage" / "telemetry.jsonl").write_bytes(bytes(range(256)) * 4)
    result = run_cli("analyze", *args, "--dir", str(base), cwd=base)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert needle in result.stderr
    assert "Traceback" not in result.stderr


def test_a_report_that_cannot_be_written_is_bad_input(base: Path) -> None:
    (base / "runs" / NEW / "ANALYSIS_REPORT.md").mkdir()  # a directory in the report's place
    (base / "runs" / NEW / "ANALYSIS_REPORT.md" / "x").write_text("x")
    result = run_cli("analyze", NEW, "--dir", str(base))
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1 and "cannot write" in result.stderr


def test_json_and_report_redact_what_they_quote(tmp_path: Path) -> None:
    write_run(tmp_path, NEW, name=f"lead {SECRET}")
    result = run_cli("analyze", NEW, "--json", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "sk-ant-api03" not in result.stdout
    assert json.loads(result.stdout)["sections"]["critical_path"]["root"]["name"] == (
        "lead [REDACTED]"
    )
    assert "sk-ant-api03" not in (tmp_path / "runs" / NEW / "ANALYSIS_REPORT.md").read_text()
