"""The benchmarks in benchmarks/ run end to end on tiny sizes.

Behaviour only: the machine is shared and noisy, so no timing is asserted. The
script runs in a subprocess, which keeps logfire's and OpenTelemetry's global
state and warnings out of this pytest process.
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests._helpers import ROOT, run_interpreter

SCRIPT = ROOT / "benchmarks" / "hot_path.py"
CONTENDERS = {"spanline", "otel-sdk", "logfire", "loguru", "structlog"}
CONTENDERS |= {"spanline-bridge", "otel-bridged"}  # the OpenTelemetry bridge's rows
CONTENDERS |= {"tuple-floor"}  # the memory floor: bare records held, nothing written
THREADED = {"spanline", "otel-sdk", "tuple-floor"}
TINY = ["--quick", "--spans", "2000", "--repeats", "1", "--threads-spans", "5000"]


def run_script(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_interpreter(str(SCRIPT), *args, cwd=cwd)


@pytest.fixture(scope="module")
def bench(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """One tiny run of the whole benchmark, shared by the tests of this module."""
    directory = tmp_path_factory.mktemp("bench")
    out = directory / "results.json"
    result = run_script(*TINY, "--json", str(out), cwd=directory)
    assert result.returncode == 0, result.stderr
    return result, json.loads(out.read_text())


def rows(document: dict[str, Any], threads: int) -> dict[str, dict[str, Any]]:
    return {r["contender"]: r for r in document["results"] if r["threads"] == threads}


def test_every_contender_is_measured_single_and_threaded(bench) -> None:
    _, document = bench
    assert set(rows(document, 1)) == CONTENDERS
    assert set(rows(document, 2)) == THREADED
    for row in document["results"]:
        for key in ("hot_us", "e2e_us", "hot_ratio", "e2e_ratio"):
            assert math.isfinite(row[key]) and row[key] > 0, (row["label"], key)
        assert 0 <= row["lost_events"] <= row["expected_lines"]
        assert row["all_drained"], row["label"]


def test_spanline_loses_no_event(bench) -> None:
    _, document = bench
    for threads, spans, name in (
        (1, 2000, "spanline"),
        (2, 2 * 5000, "spanline"),
        (1, 2000, "spanline-bridge"),
        (1, 2000, "otel-bridged"),  # OTel spans recorded through the bridge: 2 lines too
    ):
        row = rows(document, threads)[name]
        # 2 lines a span, plus run_start.
        assert row["expected_lines"] == 2 * spans + 1
        assert row["lost_events"] == 0
        assert row["counted_drops"] == 0


def test_table_and_headline_are_printed(bench) -> None:
    result, document = bench
    assert "contender" in result.stdout and "lost events" in result.stdout
    for label in (*CONTENDERS, "spanline x2thr", "otel-sdk x2thr", "tuple-floor x2thr"):
        assert any(line.startswith(label + " ") for line in result.stdout.splitlines()), label
    assert "spanline hot path / OTel SDK hot path = " in result.stdout
    assert "spanline end to end / OTel SDK end to end = " in result.stdout
    assert "spanline end to end / structlog end to end = " in result.stdout
    assert "spanline peak RSS growth / tuple floor's = " in result.stdout
    assert (document["target"], document["e2e_target"], document["memory_target"]) == (
        0.08,
        0.15,
        1.2,
    )
    for key in ("target_met", "e2e_target_met"):
        assert isinstance(document[key], bool), key
    assert document["spanline_vs_otel_e2e"] > 0 and document["spanline_vs_structlog_e2e"] > 0
    assert set(document["bytes_per_event"]) == THREADED
    assert document["environment"]["versions"]["spanline"]


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    result = run_script("--spans", "0", cwd=tmp_path)
    assert result.returncode == 2
    assert "at least 1" in result.stderr
    result = run_script("--only", "spanline,nope", cwd=tmp_path)
    assert result.returncode == 2
    assert "nope" in result.stderr


CONFIGURE_SCRIPT = ROOT / "benchmarks" / "configure.py"
CONFIGURE_MEASUREMENTS = {
    "import spanline",
    "settings (import _config + resolve)",
    "configure cold",
    "import + configure",
    # The anchors, in the same rounds (this venv has the OTel SDK and logfire).
    "otel-sdk setup",
    "logfire.configure() (local)",
}


def test_configure_benchmark_smoke(tmp_path: Path) -> None:
    """benchmarks/configure.py --smoke --skip-without: every measurement, a table, a verdict."""
    out = tmp_path / "configure.json"
    result = run_interpreter(
        str(CONFIGURE_SCRIPT), "--smoke", "--skip-without", "--json", str(out), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    assert {row["measurement"] for row in document["results"]} == CONFIGURE_MEASUREMENTS
    for row in document["results"]:
        assert row["runs"] == 2
        assert math.isfinite(row["median_ms"]) and 0 < row["min_ms"] <= row["max_ms"]
        # Three clocks: the process's CPU time (the verdict's), the thread's, the wall's.
        assert row["thread_median_ms"] > 0 and row["wall_median_ms"] > 0
    (fact,) = document["headlines"]
    assert fact["target_ms"] == 60 and isinstance(fact["target_met"], bool)
    assert fact["target_ratio"] == 0.4 and fact["ratio_to_otel_sdk"] > 0
    assert fact["wall_ratio_to_otel_sdk"] > 0
    assert "import spanline + configure_observability(), this venv" in result.stdout
    assert "the OTel SDK's setup" in result.stdout
    assert "cpu ms" in result.stdout and "configure cold" in result.stdout
    assert "ms CPU" in result.stdout and "wall clock" in result.stdout
    assert not list(tmp_path.glob("*/runs"))  # the children wrote into scratch directories


FOLD_SCRIPT = ROOT / "benchmarks" / "fold.py"


def test_fold_benchmark_smoke(tmp_path: Path) -> None:
    """benchmarks/fold.py --smoke: every row measured, and DuckDB agrees with the fold."""
    out = tmp_path / "fold.json"
    result = run_interpreter(str(FOLD_SCRIPT), "--smoke", "--json", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    names = [row["name"] for row in document["rows"]]
    assert names[:2] == ["orjson loop", "summarize_file"]
    assert names[-2:] == ["result() first call", "result() again"]
    for row in document["rows"]:
        assert math.isfinite(row["seconds"]) and row["seconds"] >= 0, row["name"]
    assert document["totals"]["total_tokens"] > 0 and document["totals"]["errors"] >= 0
    assert document["duckdb_agrees"] is True  # DuckDB comes with the bench extra
    assert "vs orjson" in result.stdout and "summarize_file" in result.stdout


SHUTDOWN_SCRIPT = ROOT / "benchmarks" / "shutdown.py"
SHUTDOWN_ROWS = [
    "shutdown() total",
    "  writer drain + process_end",
    "  summary (live fold, last pass)",
    "  rest (freeing the session...)",
    "re-fold: summarize_file",
    "re-fold: write_summary",
    "re-fold total (old shutdown)",
]


def test_shutdown_benchmark_smoke(tmp_path: Path) -> None:
    """benchmarks/shutdown.py --smoke: every part measured; the live fold equals a re-fold."""
    out = tmp_path / "shutdown.json"
    result = run_interpreter(str(SHUTDOWN_SCRIPT), "--smoke", "--json", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    assert [row["name"] for row in document["rows"]] == SHUTDOWN_ROWS
    for row in document["rows"]:
        assert all(math.isfinite(value) for value in row["samples"]), row["name"]
        assert math.isfinite(row["seconds"]) and row["ratio"] is not None, row["name"]
    (sample,) = document["samples"]
    assert sample["spans"] == document["spans"] > 4_900  # the root, phases, agents and units
    # span_start + span_end per span, run_start, 5 phase lines and process_end.
    assert sample["lines"] == 2 * sample["spans"] + 7
    # The live fold had caught up: shutdown only folded the process_end line.
    assert sample["lines_folded_at_shutdown"] == 1
    assert sample["live_equals_refold"] is True and document["live_equals_refold"] is True
    assert document["target_s"] == 0.5 and isinstance(document["summary_target_met"], bool)
    assert "vs re-fold" in result.stdout
    assert "live summary equals the re-fold: True" in result.stdout
    assert not list(tmp_path.glob("*/runs"))  # the runs went to a scratch directory


CLI_SCRIPT = ROOT / "benchmarks" / "cli.py"
CLI_ROWS = ["python (bare start-up)", "spanline --version", "summary", "summary --json",
            "summary --refold", "tools", "show", "query count(*)"]  # fmt: skip


def test_cli_benchmark_smoke(tmp_path: Path) -> None:
    """benchmarks/cli.py --smoke: every command timed end to end; the stored summary is exact."""
    out = tmp_path / "cli.json"
    result = run_interpreter(str(CLI_SCRIPT), "--smoke", "--json", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    assert [row["name"] for row in document["rows"]] == CLI_ROWS  # DuckDB: the bench extra
    for row in document["rows"]:
        assert all(math.isfinite(value) and value > 0 for value in row["samples"]), row["name"]
        assert isinstance(row["target_met"], bool) == (row["target_s"] is not None), row["name"]
    assert document["stored_equals_refold"] is True
    assert isinstance(document["targets_met"], bool)
    assert (
        "median s" in result.stdout and "stored summary equals the re-fold: True" in result.stdout
    )
    assert not list(tmp_path.glob("*/runs"))  # the run went to a scratch directory


DASHBOARD_SCRIPT = ROOT / "benchmarks" / "dashboard.py"


def test_dashboard_benchmark_smoke(tmp_path: Path) -> None:
    """benchmarks/dashboard.py --smoke: the page drew the run, every line arrived, the clients
    kept up and the traced child lost nothing; no timing is asserted."""
    out = tmp_path / "dashboard.json"
    result = run_interpreter(
        str(DASHBOARD_SCRIPT), "--smoke", "--json", str(out), cwd=tmp_path, timeout=300
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    interactive, latency, hot = document["interactive"], document["latency"], document["hot_path"]
    assert interactive["lanes_drawn"] == 35 and len(interactive["samples_ms"]) == 1
    assert math.isfinite(interactive["median_ms"]) and interactive["median_ms"] > 0
    assert latency["received"] == latency["lines"] == 5
    assert 0 <= latency["median_ms"] <= latency["p95_ms"] <= latency["max_ms"]
    assert [s["clients"] for s in hot["samples"]] == [0, 10]
    for sample in hot["samples"]:
        assert sample["spans"] == 5_000 and sample["dropped_events"] == 0
        assert sample["lines"] == 2 * (5_000 + 1) + 2  # the loop's spans, run_start, process_end
    assert hot["clients_caught_up"] is True
    assert math.isfinite(hot["ratio"]) and hot["ratio"] > 0
    for key in ("interactive_target_met", "latency_target_met", "hot_target_met"):
        assert isinstance(document[key], bool), key
    assert "interactive, 2,000-span run" in result.stdout and "hot path ratio" in result.stdout
    assert not list(tmp_path.glob("*/runs"))  # the runs went to a scratch directory


REDACT_SCRIPT = ROOT / "benchmarks" / "redact.py"


def test_redact_benchmark_smoke(tmp_path: Path) -> None:
    """benchmarks/redact.py --smoke: every payload timed against the encoder; no timing asserted."""
    out = tmp_path / "redact.json"
    result = run_interpreter(str(REDACT_SCRIPT), "--smoke", "--json", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    names = [row["name"] for row in document["rows"]]
    assert names[0] == "span_end, no attributes" and "text: 10 KB + one secret a kind" in names
    for row in document["rows"]:
        assert math.isfinite(row["redact_us"]) and row["redact_us"] > 0, row["name"]
        assert math.isfinite(row["ratio"]) and row["ratio"] > 0, row["name"]
    assert "vs encode" in result.stdout


RELIABILITY_SCRIPT = ROOT / "benchmarks" / "reliability.py"


def test_reliability_benchmark_smoke(tmp_path: Path) -> None:
    """benchmarks/reliability.py --smoke: kills measured, exits complete, counters add up."""
    out = tmp_path / "reliability.json"
    result = run_interpreter(str(RELIABILITY_SCRIPT), "--smoke", "--json", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    assert len(document["kills_ms"]) == 2
    assert all(math.isfinite(ms) for ms in document["kills_ms"])  # something was on disk
    (exit_run,) = document["exits"]
    assert exit_run["summary_written"] and exit_run["returncode"] == 0
    assert set(document["outage"]) == {"none", "raising", "sleeping", "blocking"}
    for mode in ("raising", "sleeping", "blocking"):
        (row,) = document["outage"][mode]
        stats = row["exporter"]
        # 1,000 warm-up and 2,000 measured spans (start and end each) and run_start.
        assert stats["received"] == 6_001
        assert stats["received"] == stats["exported"] + stats["dropped"] + stats["failed"]
    assert document["outage"]["raising"][0]["exporter"]["failed"] == 6_001
    assert document["outage"]["blocking"][0]["exporter"]["exported"] == 0
    assert "kill -9 exposure over 2 kills" in result.stdout
    assert "producers' end to process exit" in result.stdout
    assert "load average (1 min) before and after the kills" in result.stdout
    assert len(document["kill_load"]) == 2
    assert all(k["on_disk"] >= k["flushed"] > 0 for k in document["kills_flushed"])
    assert not list(tmp_path.glob("*/runs"))  # the runs went to a scratch directory


WRITER_SCRIPT = ROOT / "benchmarks" / "writer.py"


def test_writer_benchmark_smoke(tmp_path: Path) -> None:
    """benchmarks/writer.py: each period measured loaded and idle; no timing asserted."""
    out = tmp_path / "writer.json"
    result = run_interpreter(
        str(WRITER_SCRIPT), "--periods", "100,50", "--seconds", "0.3", "--repeats", "1",
        "--json", str(out), cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    assert list(document) == ["100 loaded", "100 idle", "50 loaded", "50 idle"]
    for key, (row,) in document.items():
        assert math.isfinite(row["cpu_share"]) and row["cpu_share"] > 0, key
        assert (row["spans"] > 0) == key.endswith("loaded"), key
    assert "CPU % of a core" in result.stdout
    assert not list(tmp_path.glob("**/runs"))  # the runs went to a scratch directory


def test_reliability_benchmark_kills_with_a_blob_in_flight_lose_nothing_flushed(
    tmp_path: Path,
) -> None:
    """--smoke --kill-only --blob-mb 2: full capture, a new 2 MB tool output again and again
    (long enough to be redacted in pieces), two kills; every span the child had flushed
    before the kill is in the log after it."""
    out = tmp_path / "reliability.json"
    result = run_interpreter(
        str(RELIABILITY_SCRIPT),
        *("--smoke", "--kill-only", "--blob-mb", "2", "--json", str(out)),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    assert len(document["kills_flushed"]) == 2
    for kill in document["kills_flushed"]:
        assert kill["flushed"] > 0
        assert kill["on_disk"] >= kill["flushed"]
    assert "a 2 MB blob always in flight" in result.stdout
    assert document["exits"] == [] and document["outage"]["none"] == []


EXIT_SCRIPT = ROOT / "benchmarks" / "exit.py"


def test_exit_benchmark_smoke(tmp_path: Path) -> None:
    """benchmarks/exit.py --smoke --runaway: every case measured, each summary a re-fold."""
    out = tmp_path / "exit.json"
    result = run_interpreter(
        str(EXIT_SCRIPT), "--smoke", "--runaway", "--json", str(out), cwd=tmp_path, timeout=600
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    assert document["target_s"] == 0.5
    cases = {row["case"]: row for row in document["results"]}
    assert list(cases) == ["burst", "processes", "runaway"]
    assert cases["burst"]["spans"] == cases["processes"]["spans"] == 1_000
    assert cases["runaway"]["spans"] == 10_000  # nothing dropped at this size
    for row in cases.values():
        assert row["equals_refold"] is True and row["returned"] is True
        assert math.isfinite(row["exit_s"])
    assert "end of flush() to end of shutdown()" in result.stdout
    assert not list(tmp_path.glob("*/runs"))  # the runs went to a scratch directory


AGAINST_SCRIPT = ROOT / "benchmarks" / "against_commit.py"
AGAINST_MEASURES = ("import spanline", "configure cold", "hot path", "fold")


def test_against_commit_benchmark_smoke(tmp_path: Path) -> None:
    """benchmarks/against_commit.py --smoke: both trees measured in alternating rounds, a
    row and a verdict per measure, and its temporary worktree removed."""
    out = tmp_path / "against.json"
    scratch = tmp_path / "scratch"  # where the script makes its temporary worktree
    scratch.mkdir()
    result = run_interpreter(
        str(AGAINST_SCRIPT),
        *("--smoke", "--base", "HEAD", "--json", str(out)),
        env={"TMPDIR": str(scratch)},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    verdicts = [line for line in result.stdout.splitlines() if line.startswith("verdict ")]
    assert [line.split(":")[0] for line in verdicts] == [
        f"verdict {name}" for name in AGAINST_MEASURES
    ]
    for line in verdicts:
        assert line.split(": ", 1)[1].startswith(("ok", "slower")), line
    document = json.loads(out.read_text())
    for name in AGAINST_MEASURES:
        assert [len(document["samples"][name][side]) for side in ("base", "head")] == [2, 2]
        assert document["results"][name]["ratio"] > 0
    worktrees = subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "list"], capture_output=True, text=True, check=True
    ).stdout
    assert str(scratch) not in worktrees
    assert list(scratch.iterdir()) == []


RATIO_SCRIPT = ROOT / "benchmarks" / "hot_ratio.py"


def test_hot_ratio_benchmark_smoke(tmp_path: Path) -> None:
    """benchmarks/hot_ratio.py --smoke: every round measures spanline, the OTel SDK and
    the base commit, and the summary gives the ratios' spread against the target."""
    out = tmp_path / "ratio.json"
    scratch = tmp_path / "scratch"  # where the script exports the base commit
    scratch.mkdir()
    result = run_interpreter(
        str(RATIO_SCRIPT),
        *("--smoke", "--base", "HEAD", "--json", str(out)),
        env={"TMPDIR": str(scratch)},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    assert [row["round"] for row in document["rounds"]] == [1, 2]
    for row in document["rounds"]:
        for key in ("spanline", "otel-sdk", "base", "ratio", "base_ratio"):
            for figure in (key, f"{key} cpu"):  # the wall clock and the loop's CPU time
                assert math.isfinite(row[figure]) and row[figure] > 0, figure
    for key in ("ratio", "ratio cpu", "base_ratio", "base_ratio cpu"):
        spread = document[key]
        assert spread["min"] <= spread["median"] <= spread["max"]
    assert document["target"] == 0.08
    assert "spanline / OTel SDK hot path, CPU time  : min " in result.stdout
    assert list(scratch.iterdir()) == []


DISABLED_SCRIPT = ROOT / "benchmarks" / "disabled.py"


def test_disabled_benchmark_smoke(tmp_path: Path) -> None:
    """benchmarks/disabled.py --smoke: every figure beside its anchor, with a verdict."""
    out = tmp_path / "disabled.json"
    result = run_interpreter(str(DISABLED_SCRIPT), "--smoke", "--json", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = json.loads(out.read_text())["rows"]
    assert [(row["measured"], row["anchor"]) for row in rows] == [
        ("@traced_tool", "bare call"),
        ("@traced_agent", "bare call"),
        ("@traced_llm", "bare call"),
        ("async @traced_tool", "bare async call"),
        ("disabled span", "nullcontext"),
    ]
    for row in rows:
        assert row["ns"] > 0 and row["anchor_ns"] > 0
        assert isinstance(row["target_met"], bool)
    assert "nullcontext" in result.stdout and "<= 2.5x" in result.stdout
    assert not list(tmp_path.glob("**/telemetry.jsonl"))  # tracing stayed off


ANALYZE_SCRIPT = ROOT / "benchmarks" / "analyze.py"


def test_analyze_benchmark_smoke(tmp_path: Path) -> None:
    """benchmarks/analyze.py --smoke: every step measured, the span count and a verdict
    printed (no time is asserted)."""
    out = tmp_path / "analyze.json"
    result = run_interpreter(str(ANALYZE_SCRIPT), "--smoke", "--json", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    assert [row["name"] for row in document["rows"]] == [
        "summarize_file", "analyze", "render_markdown", "spanline analyze (command)"]  # fmt: skip
    for row in document["rows"]:
        assert math.isfinite(row["seconds"]) and row["seconds"] >= 0, row["name"]
    assert document["spans"] > 1000 and document["report_bytes"] > 1000
    assert "spans; median of 1" in result.stdout and "the bound of a few seconds" in result.stdout


BUDGET_SCRIPT = ROOT / "benchmarks" / "budget.py"


def test_budget_benchmark_smoke(tmp_path: Path) -> None:
    """benchmarks/budget.py: spans and LLM calls measured on both sides, budgets on head."""
    result = run_interpreter(
        str(BUDGET_SCRIPT), "--base", "HEAD", "--rounds", "1", "--calls", "200", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for name in ("span (base)", "llm call (head)", "llm call, run budget (head)"):
        assert any(line.startswith(name) and line.endswith(" µs") for line in lines), name
    assert any(line.startswith("llm call: head / base ") for line in lines)
    assert not list(tmp_path.glob("*/runs"))


WRITER_STAGES_SCRIPT = ROOT / "benchmarks" / "writer_stages.py"


def test_writer_stages_benchmark_smoke(tmp_path: Path) -> None:
    """benchmarks/writer_stages.py --smoke: every stage measured for both kinds of span (the
    script itself checks that the templates write the full path's bytes)."""
    out = tmp_path / "writer_stages.json"
    result = run_interpreter(str(WRITER_STAGES_SCRIPT), "--smoke", "--json", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    stages = {"record -> event", "dict copy (in redaction)", "redaction", "encoding"}
    stages |= {"full path", "templates", "write"}
    assert set(document["us_per_event"]) == {"plain span", "small attributes"}
    for row in document["us_per_event"].values():
        assert set(row) == stages
        assert all(math.isfinite(value) and value >= 0 for value in row.values())
    assert "templates / full path = " in result.stdout
