"""Acceptance tests for spanline as a platform, written from the docs and the design's
settled rules only, through the public API.

Each numbered section matches one item of the must-hold list: deterministic runs, no
exporter feedback, the live summary of a multi-process run, the summary keys, capture
modes, the exporter platform, run ids and the CLI, import weight and the pytest plugin,
service names, signals.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path
from typing import Any

import orjson
import pytest

import spanline
from spanline.exporters import InMemoryExporter
from spanline.testing import capture_spans
from tests._helpers import ROOT, clean_env, read_lines, run_cli, run_interpreter, run_python

RUN_ID_RE = r"\d{8}T\d{6}-[0-9a-f]{6}"


def events_of(lines: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in lines if e["event"] == kind]


def load_json(path: Path) -> dict[str, Any]:
    return orjson.loads(path.read_bytes())  # type: ignore[no-any-return]


def refold_bytes(path: Path) -> bytes:
    summary = spanline.summarize_file(path)
    return orjson.dumps(summary.to_dict(), option=orjson.OPT_INDENT_2) + b"\n"


def write_script(tmp_path: Path, name: str, code: str) -> Path:
    script = tmp_path / name
    script.write_text(textwrap.dedent(code))
    return script


# --- 1. Deterministic runs ------------------------------------------------------------------

DETERMINISTIC_PROGRAM = """
import sys

import spanline
from spanline.testing import deterministic_sources


@spanline.traced_tool
def read_file(path):
    return "contents of " + path


@spanline.traced_llm(provider="anthropic", model="claude-sonnet-4-5")
def think(prompt):
    return {"type": "message", "model": "claude-sonnet-4-5-20250929",
            "usage": {"input_tokens": 120, "output_tokens": 30}}


@spanline.traced_agent(id="worker")
def agent(n):
    for i in range(n):
        read_file(f"f{i}.py")
    think("go")
    spanline.event("vote", voted_for="a.1")


run = spanline.configure_observability(
    enabled=True, service_name="det", run_dir=sys.argv[1], run_id="det-run",
    synchronous=True, source_repo="example/repo", source_commit="0" * 40,
    **deterministic_sources(),
)
with spanline.span("stage", kind="phase") as s:
    s.add(zeta=1, alpha=2, mid=3)
    agent(3)
    spanline.phase("halfway", files=3)
    try:
        with spanline.span("broken"):
            raise ValueError("boom")
    except ValueError:
        pass
    spanline.phase("done")
spanline.shutdown()
print(run.telemetry_path)
"""


def test_deterministic_configuration_gives_identical_bytes(tmp_path: Path) -> None:
    script = write_script(tmp_path, "det.py", DETERMINISTIC_PROGRAM)
    outputs = []
    for index, seed in enumerate(("1", "4242")):
        base = tmp_path / f"base{index}"
        result = run_interpreter(str(script), str(base), env={"PYTHONHASHSEED": seed})
        assert result.returncode == 0, result.stderr
        run_dir = base / "runs" / "det-run"
        outputs.append(
            (
                (run_dir / "telemetry.jsonl").read_bytes(),
                (run_dir / "run_summary.json").read_bytes(),
            )
        )
    (telemetry_a, summary_a), (telemetry_b, summary_b) = outputs
    assert telemetry_a == telemetry_b
    assert summary_a == summary_b

    lines = [orjson.loads(line) for line in telemetry_a.splitlines()]
    headers = events_of(lines, "run_start") + events_of(lines, "process_end")
    assert len(headers) == 2
    assert all(e["pid"] == 1 for e in headers)
    phases = events_of(lines, "phase")
    assert [p["name"] for p in phases] == ["halfway", "done"]
    assert all(isinstance(p["wall_ms"], float) and p["wall_ms"] > 0 for p in phases)
    assert [s["span_id"] for s in events_of(lines, "span_start")][:2] == [
        "0000000000000001",
        "0000000000000002",
    ]
    summary = orjson.loads(summary_a)
    assert summary["run_id"] == "det-run"
    assert summary["milestones"][0]["name"] == "halfway"
    assert "wall_ms" in summary["milestones"][0]


def test_snapshot_example_twice_is_byte_identical(tmp_path: Path) -> None:
    example = ROOT / "examples" / "snapshot_run.py"
    for name in ("one", "two"):
        result = run_interpreter(str(example), str(tmp_path / name))
        assert result.returncode == 0, result.stderr
    for filename in ("telemetry.jsonl", "run_summary.json"):
        first = tmp_path / "one" / "runs" / "snapshot-run" / filename
        second = tmp_path / "two" / "runs" / "snapshot-run" / filename
        compared = subprocess.run(
            ["cmp", str(first), str(second)], capture_output=True, check=False
        )
        assert compared.returncode == 0, compared.stdout + compared.stderr
    lines = read_lines(tmp_path / "one" / "runs" / "snapshot-run" / "telemetry.jsonl")
    assert events_of(lines, "run_start")[0]["pid"] == 1
    assert all("wall_ms" in p for p in events_of(lines, "phase"))


# --- 2. Exporters that trace inside export/flush/shutdown -----------------------------------


@spanline.traced_tool
def exporter_side_tool(value: int) -> int:
    return value + 1


class NoisyExporter:
    """Opens spans, tool calls, events and phases in every method: none may reach the log."""

    def __init__(self, *, events_and_phases: bool = True) -> None:
        self.calls = {"export": 0, "flush": 0, "shutdown": 0}
        self.events_and_phases = events_and_phases
        self.received: list[dict[str, Any]] = []

    def _noise(self, where: str) -> None:
        self.calls[where] += 1
        with spanline.span(f"exporter-{where}", kind="agent"):
            exporter_side_tool(1)
        if self.events_and_phases:
            spanline.event(f"exporter-{where}-event")
            spanline.phase(f"exporter-{where}-phase")

    def export(self, batch: list[dict[str, Any]]) -> None:
        self.received.extend(batch)
        self._noise("export")

    def flush(self) -> None:
        self._noise("flush")

    def shutdown(self) -> None:
        self._noise("shutdown")


def test_exporter_that_traces_causes_no_feedback(tmp_path: Path) -> None:
    noisy = NoisyExporter()
    run = spanline.configure_observability(
        enabled=True, service_name="acc", run_dir=tmp_path, exporters=[noisy]
    )
    assert run is not None
    user_spans = 25
    for i in range(user_spans):
        with spanline.span(f"user-{i}"):
            pass
    spanline.flush()
    for i in range(user_spans):
        exporter_side_tool(i)  # the same decorated function, called by the user: traced
    summary = spanline.shutdown()
    assert summary is not None

    lines = read_lines(run.telemetry_path)
    names = [e["name"] for e in events_of(lines, "span_start")]
    assert len(names) == 2 * user_spans
    assert len(events_of(lines, "span_end")) == 2 * user_spans
    assert not any(n.startswith("exporter-") for n in names)
    assert events_of(lines, "event") == [] and events_of(lines, "phase") == []
    assert noisy.calls["export"] >= 1 and noisy.calls["flush"] >= 1
    assert noisy.calls["shutdown"] == 1
    # The exporter itself saw only the user's spans.
    exported_names = [e["name"] for e in noisy.received if e["event"] == "span_start"]
    assert sorted(exported_names) == sorted(names)

    on_disk = load_json(run.summary_path)
    assert on_disk["span_count"] == 2 * user_spans
    assert on_disk["totals"]["suppressed_spans"] > 0
    assert summary.to_dict()["totals"]["suppressed_spans"] == on_disk["totals"]["suppressed_spans"]


def test_suppressed_spans_counts_every_suppressed_span(tmp_path: Path) -> None:
    noisy = NoisyExporter(events_and_phases=False)  # exactly 2 spans per call
    run = spanline.configure_observability(
        enabled=True, service_name="acc", run_dir=tmp_path, exporters=[noisy]
    )
    assert run is not None
    for i in range(10):
        with spanline.span(f"user-{i}"):
            pass
    spanline.flush()
    spanline.shutdown()
    opened_inside_exporter = 2 * sum(noisy.calls.values())
    assert len(events_of(read_lines(run.telemetry_path), "span_start")) == 10
    assert load_json(run.summary_path)["totals"]["suppressed_spans"] == opened_inside_exporter


# --- 3. Four processes, live summary --------------------------------------------------------

MULTIPROCESS_PROGRAM = """
import multiprocessing
import sys

import spanline

CHILD_SPANS = 40
PARENT_SPANS = 30


def child(label):
    for i in range(CHILD_SPANS):
        with spanline.span(f"{label}-{i}", kind="agent") as s:
            s.add(tokens=1, items=2)
            with spanline.span(f"{label}-{i}-tool"):
                pass


def main(base):
    run = spanline.configure_observability(
        enabled=True, service_name="multi", run_dir=base, summary_interval_ms=50
    )
    with spanline.span("parent-root", kind="phase"):
        procs = []
        for method, label in (("fork", "f1"), ("fork", "f2"), ("spawn", "s1"), ("spawn", "s2")):
            p = multiprocessing.get_context(method).Process(target=child, args=(label,))
            p.start()
            procs.append(p)
        for i in range(PARENT_SPANS):
            with spanline.span(f"parent-{i}") as s:
                s.add(tokens=3)
        for p in procs:
            p.join()
            assert p.exitcode == 0, p.exitcode
    spanline.shutdown()
    print(run.telemetry_path)


if __name__ == "__main__":
    main(sys.argv[1])
"""


def test_four_processes_summary_equals_refold(tmp_path: Path) -> None:
    script = write_script(tmp_path, "multi.py", MULTIPROCESS_PROGRAM)
    result = run_interpreter(str(script), str(tmp_path / "base"), timeout=240)
    assert result.returncode == 0, result.stderr
    telemetry = Path(result.stdout.strip().splitlines()[-1])
    lines = read_lines(telemetry)

    children, child_spans, parent_spans = 4, 40 * 2, 30 + 1
    expected_spans = children * child_spans + parent_spans
    starts, ends = events_of(lines, "span_start"), events_of(lines, "span_end")
    assert len(starts) == expected_spans
    assert len(ends) == expected_spans
    assert len({s["span_id"] for s in starts}) == expected_spans
    for label in ("f1", "f2", "s1", "s2"):
        assert sum(1 for s in starts if s["name"].startswith(f"{label}-")) == child_spans
    pids = {e["pid"] for e in events_of(lines, "run_start") + events_of(lines, "process_start")}
    assert len(pids) == children + 1
    assert {e["pid"] for e in events_of(lines, "process_end")} == pids
    assert len(events_of(lines, "process_end")) == children + 1

    summary_path = telemetry.parent / "run_summary.json"
    assert summary_path.read_bytes() == refold_bytes(telemetry)
    summary = load_json(summary_path)
    assert summary["status"] == "ok"
    assert summary["processes"] == children + 1
    assert summary["span_count"] == expected_spans
    assert summary["open_spans"] == 0
    assert summary["totals"]["total_tokens"] == children * 40 + 30 * 3
    assert summary["totals"]["counters"]["items"] == children * 40 * 2
    assert summary["totals"]["agents_spawned"] == children * 40


# --- 4. Summary keys ------------------------------------------------------------------------


class TickClock:
    """A clock that moves only when told to (or by a fixed step per reading)."""

    def __init__(self, step: float = 0.0) -> None:
        self.now = 1_700_000_000.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_summary_status_ok_error_and_incomplete(tmp_path: Path) -> None:
    run = spanline.configure_observability(
        enabled=True, service_name="acc", run_dir=tmp_path / "ok", run_id="ok-run"
    )
    assert run is not None
    with spanline.span("root"):
        try:
            with spanline.span("child-fails"):
                raise RuntimeError("handled")
        except RuntimeError:
            pass
    spanline.shutdown()
    ok = load_json(run.summary_path)
    assert ok["status"] == "ok"  # a failing child span does not fail the run
    assert [e["name"] for e in ok["errors"]] == ["child-fails"]

    run = spanline.configure_observability(
        enabled=True, service_name="acc", run_dir=tmp_path / "err", run_id="err-run"
    )
    assert run is not None
    try:
        with spanline.span("root-fails"):
            raise RuntimeError("unhandled")
    except RuntimeError:
        pass
    spanline.shutdown()
    assert load_json(run.summary_path)["status"] == "error"

    # A copy of the ok run without its process_end: some process never finished.
    truncated = tmp_path / "truncated.jsonl"
    raw = (tmp_path / "ok" / "runs" / "ok-run" / "telemetry.jsonl").read_bytes()
    kept = [line for line in raw.splitlines() if orjson.loads(line)["event"] != "process_end"]
    assert len(kept) == len(raw.splitlines()) - 1
    truncated.write_bytes(b"".join(line + b"\n" for line in kept))
    assert spanline.summarize_file(truncated).to_dict()["status"] == "incomplete"


@spanline.traced_llm(provider="anthropic", model="claude-sonnet-4-5")
def anthropic_call(prompt: str) -> dict[str, Any]:
    return {
        "type": "message",
        "model": "claude-sonnet-4-5-20250929",
        "usage": {
            "input_tokens": 100,
            "cache_read_input_tokens": 2000,
            "cache_creation_input_tokens": 500,
            "output_tokens": 300,
        },
    }


@spanline.traced_llm(provider="openai", model="o3-mini")
def openai_call(prompt: str) -> dict[str, Any]:
    return {
        "object": "chat.completion",
        "model": "o3-mini",
        "choices": [],
        "usage": {
            "prompt_tokens": 50,
            "completion_tokens": 40,
            "total_tokens": 90,
            "completion_tokens_details": {"reasoning_tokens": 15},
        },
    }


@spanline.traced_llm(provider="openai", model="gpt-4o-mini")
def call_without_usage(prompt: str) -> dict[str, Any]:
    return {"object": "chat.completion", "model": "gpt-4o-mini", "choices": []}


def test_summary_tokens_by_type_and_calls_without_usage(tmp_path: Path) -> None:
    run = spanline.configure_observability(enabled=True, service_name="acc", run_dir=tmp_path)
    assert run is not None
    anthropic_call("a")
    openai_call("b")
    call_without_usage("c")
    call_without_usage("d")
    spanline.shutdown()
    totals = load_json(run.summary_path)["totals"]
    assert totals["tokens_by_type"] == {
        "input": 2600 + 50,
        "output": 300 + 40,
        "reasoning": 15,
        "cache_read": 2000,
        "cache_creation": 500,
    }
    assert list(totals["tokens_by_type"]) == [
        "input",
        "output",
        "reasoning",
        "cache_read",
        "cache_creation",
    ]
    assert totals["llm_calls_without_usage"] == 2
    assert totals["total_tokens"] == 2900 + 90
    assert totals["suppressed_spans"] == 0


def test_summary_tools_table(tmp_path: Path) -> None:
    clock = TickClock()

    @spanline.traced_tool(name="sleepy")
    def sleepy(ms: int) -> int:
        clock.now += ms / 1000
        if ms == 70:
            raise TimeoutError("too slow")
        return ms

    @spanline.traced_tool
    def quick() -> None:
        return None

    run = spanline.configure_observability(
        enabled=True, service_name="acc", run_dir=tmp_path, clock=clock, synchronous=True
    )
    assert run is not None
    durations = [10 * i for i in range(1, 21)]  # 10 .. 200 ms, one of them (70) fails
    for ms in durations:
        try:
            sleepy(ms)
        except TimeoutError:
            pass
    quick()
    spanline.shutdown()
    tools = load_json(run.summary_path)["tools"]
    assert set(tools) == {"sleepy", "quick"}
    for entry in tools.values():
        assert list(entry) == ["calls", "total_ms", "avg_ms", "p95_ms", "failures"]
    sleepy_row = tools["sleepy"]
    assert sleepy_row["calls"] == 20
    assert sleepy_row["failures"] == 1
    assert sleepy_row["total_ms"] == pytest.approx(sum(durations), abs=1e-3)
    assert sleepy_row["avg_ms"] == pytest.approx(sum(durations) / 20, abs=1e-3)
    assert 190.0 <= sleepy_row["p95_ms"] <= 200.0
    assert tools["quick"] == {
        "calls": 1,
        "total_ms": 0.0,
        "avg_ms": 0.0,
        "p95_ms": 0.0,
        "failures": 0,
    }


class AlwaysDownExporter:
    def export(self, batch: list[dict[str, Any]]) -> None:
        raise ConnectionError("collector down")


class FlakyExporter:
    """Fails on its first batches, then succeeds."""

    def __init__(self) -> None:
        self.batches = 0

    def export(self, batch: list[dict[str, Any]]) -> None:
        self.batches += 1
        if self.batches <= 2:
            raise ConnectionError("collector unreachable")


def test_summary_exporters_open_span_list_stalls_plan(tmp_path: Path) -> None:
    memory = InMemoryExporter()
    run = spanline.configure_observability(
        enabled=True,
        service_name="acc",
        run_dir=tmp_path,
        exporters=["memory", memory, FlakyExporter(), AlwaysDownExporter()],
    )
    assert run is not None
    for i in range(3):
        with spanline.span(f"s{i}"):
            spanline.flush()  # several batches, so the flaky exporter fails some
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spanline.shutdown()
    summary = load_json(run.summary_path)
    exporters = summary["exporters"]
    assert set(exporters) == {"memory", "InMemoryExporter", "FlakyExporter", "AlwaysDownExporter"}
    for name, row in exporters.items():
        assert list(row) == ["received", "exported", "dropped", "failed"], name
        assert row["received"] == row["exported"] + row["dropped"] + row["failed"], name
        assert row["received"] > 0, name
    assert exporters["InMemoryExporter"]["exported"] == len(memory.events)
    assert exporters["InMemoryExporter"]["dropped"] == exporters["InMemoryExporter"]["failed"] == 0
    # Retried with backoff: the flaky one delivers everything, the dead one nothing.
    assert exporters["FlakyExporter"]["exported"] == exporters["memory"]["exported"]
    down = exporters["AlwaysDownExporter"]
    assert down["exported"] == 0 and down["failed"] == down["received"] > 0
    # The summary sums the process_end counters.
    ends = events_of(read_lines(run.telemetry_path), "process_end")
    assert len(ends) == 1
    assert ends[0]["exporters"]["FlakyExporter"]["errors"] >= 1
    for name, row in exporters.items():
        for key in ("exported", "dropped", "failed"):
            assert ends[0]["exporters"][name][key] == row[key]

    assert summary["open_span_list"] == [] and summary["open_spans"] == 0
    assert summary["stalls"] == []
    assert summary["plan"] == {"planned": 0, "started": 0, "done": 0}


def test_open_span_list_is_capped_at_1000(tmp_path: Path) -> None:
    run = spanline.configure_observability(
        enabled=True, service_name="acc", run_dir=tmp_path, run_id="many-open"
    )
    assert run is not None
    opened = 1005
    for i in range(opened):
        with spanline.span(f"open-{i}"):
            pass
    with spanline.span("closed"):
        pass
    spanline.shutdown()
    raw = run.telemetry_path.read_bytes().splitlines()
    closed_id = next(
        e["span_id"]
        for e in map(orjson.loads, raw)
        if e["event"] == "span_start" and e["name"] == "closed"
    )
    # Drop every span_end except the one of "closed": 1005 spans never end.
    copy = tmp_path / "open.jsonl"
    kept = []
    for line in raw:
        event = orjson.loads(line)
        if event["event"] == "span_end" and event["span_id"] != closed_id:
            continue
        kept.append(line + b"\n")
    copy.write_bytes(b"".join(kept))
    summary = spanline.summarize_file(copy).to_dict()
    assert summary["open_spans"] == opened
    assert len(summary["open_span_list"]) == 1000
    for entry in summary["open_span_list"]:
        assert set(entry) == {"span_id", "name", "start_ts"}
        assert entry["name"].startswith("open-")
    assert len({e["span_id"] for e in summary["open_span_list"]}) == 1000
    assert summary["span_count"] == opened + 1


ROUNDING_PROGRAM = """
import sys

import spanline

clock_state = [1_700_000_000.0]


def clock():
    clock_state[0] += 1 / 3 + 1e-7
    return clock_state[0]


@spanline.traced_llm(provider="acme", model="acme-odd")
def odd_call(prompt):
    return {"type": "message", "model": "acme-odd",
            "usage": {"input_tokens": 7, "output_tokens": 11}}


run = spanline.configure_observability(
    enabled=True, service_name="round", run_dir=sys.argv[1], run_id="round-run",
    synchronous=True, clock=clock, exporters=["memory"],
    prices={"acme-odd": {"input": 1 / 3, "output": 2 / 7, "cached_input": 0.1, "cache_write": 0.2}},
)
names = ["zulu", "alpha", "mike", "bravo", "yankee", "kilo", "echo", "x9", "a_1", "Q"]
for round_ in range(3):
    for n in names:
        tool = spanline.traced_tool(name=f"tool_{n}")(lambda: None)
        with spanline.span(f"agent-{n}", kind="agent") as s:
            s.add(**{f"count_{n}": round_ + 1})
            tool()
            odd_call("x")
    spanline.phase(f"round-{round_}", done=round_)
spanline.shutdown()
"""


def fold_rounding_run(tmp_path: Path) -> tuple[Path, bytes]:
    """Run ROUNDING_PROGRAM, fold its file under three hash seeds; all folds must agree."""
    script = write_script(tmp_path, "rounding.py", ROUNDING_PROGRAM)
    result = run_interpreter(str(script), str(tmp_path / "base"), env={"PYTHONHASHSEED": "7"})
    assert result.returncode == 0, result.stderr
    telemetry = tmp_path / "base" / "runs" / "round-run" / "telemetry.jsonl"
    fold = (
        "import sys, orjson, spanline\n"
        "s = spanline.summarize_file(sys.argv[1])\n"
        "sys.stdout.buffer.write(orjson.dumps(s.to_dict(), option=orjson.OPT_INDENT_2) + b'\\n')\n"
    )
    folded = []
    for seed in ("0", "1", "987654"):
        out = subprocess.run(
            [sys.executable, "-c", fold, str(telemetry)],
            env=clean_env({"PYTHONHASHSEED": seed}),
            capture_output=True,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        folded.append(out.stdout)
    assert folded[0] == folded[1] == folded[2]
    return telemetry, folded[0]


def badly_rounded(value: Any, key: str = "") -> tuple[int, list[tuple[str, float]]]:
    """(how many ms/USD floats were seen, those not rounded to 3 / 8 decimals)."""
    seen, bad = 0, []
    if isinstance(value, dict):
        for k, v in value.items():
            n, b = badly_rounded(v, k)
            seen, bad = seen + n, bad + b
    elif isinstance(value, list):
        for v in value:
            n, b = badly_rounded(v, key)
            seen, bad = seen + n, bad + b
    elif isinstance(value, float):
        if key.endswith("_ms"):
            seen += 1
            if round(value, 3) != value:
                bad.append((key, value))
        elif key.endswith("usd"):
            seen += 1
            if round(value, 8) != value:
                bad.append((key, value))
    return seen, bad


def test_summary_bytes_do_not_depend_on_hash_seed_and_numbers_are_rounded(
    tmp_path: Path,
) -> None:
    telemetry, folded = fold_rounding_run(tmp_path)
    assert folded == (telemetry.parent / "run_summary.json").read_bytes()

    summary = orjson.loads(folded)
    counters = summary["totals"]["counters"]
    assert list(counters) == sorted(counters)
    assert counters["count_zulu"] == 1 + 2 + 3
    assert list(summary["exporters"]) == sorted(summary["exporters"])
    assert len(summary["tools"]) == 10

    # Every ms and USD figure outside phases/milestones/agents (the next test has those).
    rest = {k: v for k, v in summary.items() if k not in ("phases", "milestones", "agents")}
    seen, bad = badly_rounded(rest)
    assert seen > 20
    assert bad == []
    # The cost itself is there and not zero: 30 calls of 7 input and 11 output tokens.
    expected = 30 * (7 / 3 + 11 * 2 / 7) / 1_000_000
    assert summary["totals"]["cost_usd"] == pytest.approx(expected, abs=1e-8)
    assert round(summary["totals"]["cost_usd"], 8) == summary["totals"]["cost_usd"]
    # The clock steps 1/3 s + 1e-7: the writer rounds durations to microseconds at the
    # source, so the lines and the summary copied from them agree exactly.
    raw = [e["duration_ms"] for e in read_lines(telemetry) if e["event"] == "span_end"]
    assert raw and all(round(d, 3) == d for d in raw)
    assert any(d != int(d) for d in raw)  # the fractions are there, rounded


def test_summary_phase_milestone_and_agent_ms_are_rounded(tmp_path: Path) -> None:
    _, folded = fold_rounding_run(tmp_path)
    summary = orjson.loads(folded)
    assert [m["name"] for m in summary["milestones"]] == ["round-0", "round-1", "round-2"]
    sections = {k: summary[k] for k in ("phases", "milestones", "agents")}
    seen, bad = badly_rounded(sections)
    # phases: wall_ms; milestones: wall_ms and process_wall_ms; agents: duration_ms, cost_usd
    assert seen == 3 + 3 * 2 + 30 * 2
    assert bad == []


# --- 5. Capture modes -----------------------------------------------------------------------


@spanline.traced_tool
def echo_tool(text: str, repeat: int = 1) -> str:
    return text * repeat


@spanline.traced_tool
def big_list_tool(n: int) -> list[int]:
    return list(range(n))


@spanline.traced_tool
def big_dict_tool(n: int) -> dict[str, Any]:
    return {"rows": [{"id": i, "tags": [i, i + 1]} for i in range(n)]}


def test_capture_modes_on_tool_spans() -> None:
    previews = {"tool.arguments_preview", "tool.output_preview"}
    values = {"input.value", "output.value"}
    for mode in ("full", "preview", "off"):
        with capture_spans(capture=mode) as captured:
            echo_tool("hello", repeat=2)
            attributes = captured.span("tool.echo_tool")["attributes"]
        assert attributes["tool.input_chars"] > 0, mode
        assert attributes["tool.output_chars"] == len("hellohello"), mode
        if mode == "full":
            assert previews <= attributes.keys()
            assert values <= attributes.keys()
            assert attributes["tool.output_preview"] == "hellohello"
            assert "hello" in attributes["tool.arguments_preview"]
            assert attributes["output.value"] == "hellohello"
            assert attributes["input.value"] == {"text": "hello", "repeat": 2}
        elif mode == "preview":
            assert previews <= attributes.keys()
            assert not values & attributes.keys()
            assert attributes["tool.output_preview"] == "hellohello"
        else:
            assert not (previews | values) & attributes.keys()


def test_output_chars_is_true_length_of_large_non_string_outputs() -> None:
    for mode in ("preview", "off", "full"):
        with capture_spans(capture=mode) as captured:
            listed = big_list_tool(5000)
            mapped = big_dict_tool(800)
            list_attrs = captured.span("tool.big_list_tool")["attributes"]
            dict_attrs = captured.span("tool.big_dict_tool")["attributes"]
        assert len(repr(listed)) > 10_000 and len(repr(mapped)) > 10_000
        assert list_attrs["tool.output_chars"] == len(repr(listed)), mode
        assert dict_attrs["tool.output_chars"] == len(repr(mapped)), mode
        if mode != "off":
            assert len(list_attrs["tool.output_preview"]) <= 1000


# --- 6. Exporter platform -------------------------------------------------------------------


def make_plugin_site(tmp_path: Path) -> Path:
    """A site directory with two registered exporters: one works, one needs a missing package."""
    site = tmp_path / "site"
    dist = site / "acme_exporters-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-exporters\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[spanline.exporters]\n"
        "acme = acme_exporter:AcmeExporter\n"
        "needs-extra = acme_broken:BrokenExporter\n"
    )
    (site / "acme_exporter.py").write_text(
        textwrap.dedent(
            """
            import os

            class AcmeExporter:
                def __init__(self, **settings):
                    self.spans = 0

                def export(self, batch):
                    self.spans += sum(1 for e in batch if e["event"] == "span_end")

                def shutdown(self):
                    with open(os.environ["ACME_OUT"], "w") as f:
                        f.write(str(self.spans))
            """
        )
    )
    (site / "acme_broken.py").write_text(
        "import acme_not_installed_sdk  # noqa\n\nclass BrokenExporter:\n    pass\n"
    )
    return site


def test_third_party_exporter_found_by_entry_point_name(tmp_path: Path) -> None:
    site = make_plugin_site(tmp_path)
    code = textwrap.dedent(
        """
        import spanline
        for i in range(7):
            with spanline.span(f"s{i}"):
                pass
        run = spanline.current_run()
        spanline.shutdown()
        print(run.telemetry_path)
        """
    )
    result = run_python(
        code,
        env={
            "PYTHONPATH": str(site),
            "SPANLINE_ENABLED": "1",
            "SPANLINE_DIR": str(tmp_path / "base"),
            "SPANLINE_EXPORTERS": "acme",
            "ACME_OUT": str(tmp_path / "acme.out"),
        },
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "acme.out").read_text() == "7"
    telemetry = Path(result.stdout.strip())
    end = events_of(read_lines(telemetry), "process_end")[0]
    assert set(end["exporters"]) == {"acme"}
    assert end["exporters"]["acme"]["exported"] > 0
    summary = load_json(telemetry.parent / "run_summary.json")
    assert set(summary["exporters"]) == {"acme"}
    row = summary["exporters"]["acme"]
    assert row["failed"] == row["dropped"] == 0
    assert row["received"] == row["exported"] > 0


def test_registered_exporter_with_missing_package_warns_once_and_tracing_goes_on(
    tmp_path: Path,
) -> None:
    site = make_plugin_site(tmp_path)
    code = textwrap.dedent(
        """
        import sys
        import spanline
        runs = []
        for attempt in range(2):
            runs.append(spanline.configure_observability(
                enabled=True, run_dir=sys.argv[1], exporters=["needs-extra", "acme"]))
            with spanline.span(f"work-{attempt}"):
                pass
        spanline.shutdown()
        for run in runs:
            print(run.telemetry_path)
        """
    )
    result = run_interpreter(
        "-W",
        "always",
        "-c",
        code,
        str(tmp_path / "base"),
        env={"PYTHONPATH": str(site), "ACME_OUT": str(tmp_path / "acme.out")},
    )
    assert result.returncode == 0, result.stderr
    warning_lines = [line for line in result.stderr.splitlines() if "needs-extra" in line]
    assert len(warning_lines) == 1, result.stderr
    assert "pip install" in warning_lines[0]
    assert "acme-exporters" in warning_lines[0] or "acme_exporters" in warning_lines[0]
    for index, path in enumerate(result.stdout.split()):
        lines = read_lines(Path(path))
        assert [e["name"] for e in events_of(lines, "span_start")] == [f"work-{index}"]
        exporters = events_of(lines, "process_end")[0]["exporters"]
        assert set(exporters) == {"acme"}


def test_unknown_exporter_name_raises(tmp_path: Path) -> None:
    with pytest.raises(spanline.ConfigurationError, match="no-such-exporter"):
        spanline.configure_observability(
            enabled=True, run_dir=tmp_path, exporters=["no-such-exporter"]
        )
    assert spanline.current_run() is None


class ExportOnly:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def export(self, batch: list[dict[str, Any]]) -> None:
        self.events.extend(batch)


class NoTimeoutArgs(ExportOnly):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0
        self.shutdowns = 0

    def flush(self) -> None:
        self.flushes += 1

    def shutdown(self) -> None:
        self.shutdowns += 1


class WithTimeouts(ExportOnly):
    def __init__(self) -> None:
        super().__init__()
        self.flush_timeouts: list[Any] = []
        self.shutdown_timeouts: list[Any] = []

    def flush(self, timeout: float | None = None) -> bool:
        self.flush_timeouts.append(timeout)
        return True

    def shutdown(self, timeout: float | None = None) -> None:
        self.shutdown_timeouts.append(timeout)


def test_flush_and_shutdown_are_optional_and_timeout_argument_too(tmp_path: Path) -> None:
    only, legacy, modern = ExportOnly(), NoTimeoutArgs(), WithTimeouts()
    run = spanline.configure_observability(
        enabled=True, service_name="acc", run_dir=tmp_path, exporters=[only, legacy, modern]
    )
    assert run is not None
    for i in range(12):
        with spanline.span(f"s{i}"):
            pass
    spanline.flush()
    for exporter in (only, legacy, modern):
        assert sum(1 for e in exporter.events if e["event"] == "span_end") == 12
    assert legacy.flushes >= 1 and len(modern.flush_timeouts) >= 1
    with spanline.span("late"):
        pass
    spanline.shutdown()
    assert legacy.shutdowns == 1 and len(modern.shutdown_timeouts) == 1
    for exporter in (only, legacy, modern):
        assert sum(1 for e in exporter.events if e["event"] == "span_end") == 13
    rows = load_json(run.summary_path)["exporters"]
    assert set(rows) == {"ExportOnly", "NoTimeoutArgs", "WithTimeouts"}
    for row in rows.values():
        assert row["failed"] == row["dropped"] == 0
        assert row["received"] == row["exported"] > 0


# --- 7. Run ids and the CLI -----------------------------------------------------------------


@pytest.mark.parametrize("bad", ["../x", "a/b", "ABSOLUTE", "..", "a\\b", ""])
def test_unsafe_run_ids_rejected_before_touching_disk(tmp_path: Path, bad: str) -> None:
    if bad == "ABSOLUTE":
        bad = str(tmp_path / "elsewhere")
    base = tmp_path / "base"
    with pytest.raises(spanline.ConfigurationError, match="run_id"):
        spanline.configure_observability(enabled=True, run_dir=base, run_id=bad)
    assert not base.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert spanline.current_run() is None


def make_two_runs(base: Path) -> None:
    for run_id in ("first-run", "second-run"):
        run = spanline.configure_observability(
            enabled=True, service_name="acc", run_dir=base, run_id=run_id
        )
        assert run is not None
        with spanline.span(run_id):
            pass
        spanline.shutdown()


def check_cli_targets(tmp_path: Path, base: Path, dir_after_run: bool) -> None:
    def cli(*target: str) -> subprocess.CompletedProcess[str]:
        if dir_after_run:
            return run_cli("summary", *target, "--dir", str(base), "--json", cwd=tmp_path)
        return run_cli("--dir", str(base), "summary", *target, "--json", cwd=tmp_path)

    for target, expected in (
        (("first-run",), "first-run"),
        (("latest",), "second-run"),
        ((str(base / "runs" / "first-run"),), "first-run"),
        ((), "second-run"),  # no argument: the latest run
    ):
        result = cli(*target)
        assert result.returncode == 0, (target, result.stderr)
        printed = orjson.loads(result.stdout)
        assert printed["run_id"] == expected
        assert printed == load_json(base / "runs" / expected / "run_summary.json")
        assert printed["span_count"] == 1


def test_cli_accepts_id_latest_and_path(tmp_path: Path) -> None:
    base = tmp_path / "base"
    make_two_runs(base)
    check_cli_targets(tmp_path, base, dir_after_run=False)


def test_cli_accepts_dir_after_the_summary_command(tmp_path: Path) -> None:
    base = tmp_path / "base"
    make_two_runs(base)
    check_cli_targets(tmp_path, base, dir_after_run=True)


def test_cli_argument_without_slash_is_a_run_id_not_a_path(tmp_path: Path) -> None:
    base = tmp_path / "base"
    make_two_runs(base)
    decoy = tmp_path / "first-run"  # a directory in the working directory, same name as the id
    decoy.mkdir()
    shutil.copy(base / "runs" / "second-run" / "telemetry.jsonl", decoy / "telemetry.jsonl")
    result = run_cli("--dir", str(base), "summary", "first-run", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout)["run_id"] == "first-run"


@pytest.mark.parametrize("bad", ["bad id!", "..", "run;rm", "no-such-run"])
def test_cli_rejects_malformed_or_unknown_id_in_one_line(tmp_path: Path, bad: str) -> None:
    base = tmp_path / "base"
    run = spanline.configure_observability(enabled=True, service_name="acc", run_dir=base)
    assert run is not None
    spanline.shutdown()
    result = run_cli("--dir", str(base), "summary", bad, cwd=tmp_path)
    assert result.returncode != 0
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("spanline: error:")


# --- 8. Import weight and the pytest plugin -------------------------------------------------


def test_import_spanline_loads_no_exporter_fcntl_pydantic_or_loguru() -> None:
    code = (
        "import sys\n"
        "import spanline\n"
        "heavy = ('fcntl', 'pydantic', 'loguru')\n"
        "print(sorted(m for m in sys.modules if m.startswith('spanline.exporters')"
        " or m.split('.')[0] in heavy))\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


PLUGIN_TEST = """
import spanline


def test_uses_fixture(spanline_capture):
    with spanline.span("inside-test", kind="agent") as s:
        s.add(tokens=5)
    assert spanline_capture.span("inside-test")["tokens"] == 5
"""


def test_pytest_plugin_fixture_without_conftest_and_disable_flag(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_user.py").write_text(PLUGIN_TEST)
    base = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user.py"]
    env = {"PYTEST_ADDOPTS": "", "PYTEST_PLUGINS": ""}
    enabled = run_interpreter(*base, cwd=project, env=env)
    assert enabled.returncode == 0, enabled.stdout + enabled.stderr
    assert "1 passed" in enabled.stdout
    disabled = run_interpreter(*base, "-p", "no:spanline", cwd=project, env=env)
    assert disabled.returncode != 0
    assert "fixture 'spanline_capture' not found" in disabled.stdout
    assert not list(project.glob("conftest.py"))


# --- 9. Service names -----------------------------------------------------------------------

SERVICE_PROGRAM = """
import sys
import spanline
name = sys.argv[2] if len(sys.argv) > 2 else None
run = spanline.configure_observability(enabled=True, run_dir=sys.argv[1], service_name=name)
spanline.shutdown()
print(run.run_id)
print(run.telemetry_path)
"""


@pytest.mark.parametrize(
    ("argument", "env", "expected_id_prefix", "expected_name"),
    [
        ("from-arg", {"SPANLINE_SERVICE_NAME": "sl", "OTEL_SERVICE_NAME": "ot"}, "from-arg", None),
        (None, {"SPANLINE_SERVICE_NAME": "sl", "OTEL_SERVICE_NAME": "ot"}, "sl", None),
        (None, {"SPANLINE_SERVICE_NAME": "", "OTEL_SERVICE_NAME": "ot"}, "ot", None),
        (None, {}, "my_crawler", None),
        ("my app/v2", {}, "my-app-v2", "my app/v2"),
        (
            None,
            {"SPANLINE_SERVICE_NAME": "ops:team*1", "OTEL_SERVICE_NAME": "ot"},
            "ops-team-1",
            "ops:team*1",
        ),
    ],
)
def test_service_name_precedence_and_safe_run_id(
    tmp_path: Path,
    argument: str | None,
    env: dict[str, str],
    expected_id_prefix: str,
    expected_name: str | None,
) -> None:
    script = write_script(tmp_path, "my_crawler.py", SERVICE_PROGRAM)
    args = [str(script), str(tmp_path / "base")] + ([argument] if argument is not None else [])
    full_env = {"OTEL_SERVICE_NAME": "", "OTEL_RESOURCE_ATTRIBUTES": "", **env}
    result = run_interpreter(*args, env=full_env)
    assert result.returncode == 0, result.stderr
    run_id, telemetry = result.stdout.split()
    assert re.fullmatch(re.escape(expected_id_prefix) + "-" + RUN_ID_RE, run_id), run_id
    start = events_of(read_lines(Path(telemetry)), "run_start")[0]
    assert start["run_id"] == run_id
    assert start["service_name"] == (expected_name or expected_id_prefix)


# --- 10. Signals ----------------------------------------------------------------------------

SIGNAL_PROGRAM = """
import shutil
import signal
import threading
import sys

import spanline

mode = sys.argv[2]
if mode == "previous":
    def previous(signum, frame):
        print("previous handler ran", flush=True)
        spanline.shutdown()
        sys.exit(7)
    signal.signal(signal.SIGTERM, previous)
elif mode == "ignored":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

before = (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT))
run = spanline.configure_observability(
    enabled=True, service_name="sig", run_dir=sys.argv[1], handle_signals=(mode != "off")
)
after = (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT))
print("unchanged" if before == after else "changed", flush=True)
print("ignored" if after[0] is signal.SIG_IGN else "not-ignored", flush=True)
print(run.telemetry_path, flush=True)
for i in range(5):
    with spanline.span(f"before-signal-{i}"):
        pass
print("ready", flush=True)
sys.stdin.readline()  # the parent writes a line once its signal is sent (or ignored)
print("survived", flush=True)
spanline.shutdown()
"""


def run_and_signal(tmp_path: Path, mode: str) -> tuple[int, list[str], Path]:
    script = write_script(tmp_path, "sig.py", SIGNAL_PROGRAM)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "base"), mode],
        env=clean_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    out: list[str] = []
    for line in proc.stdout:
        out.append(line.strip())
        if line.strip() == "ready":
            break
    assert out and out[-1] == "ready", out
    proc.send_signal(signal.SIGTERM)
    if mode == "ignored":
        # An ignored signal is discarded when it is sent: the line that follows finds
        # the process still waiting for it, and it ends normally.
        proc.stdin.write("go\n")
        proc.stdin.flush()
    else:
        proc.wait(timeout=60)  # only the signal can end its wait for a line
    rest, _ = proc.communicate(timeout=60)
    out.extend(line.strip() for line in rest.splitlines())
    return proc.returncode, out, Path(out[2])


def test_sigterm_default_disposition_still_terminates_and_run_is_finished(
    tmp_path: Path,
) -> None:
    code, out, telemetry = run_and_signal(tmp_path, "default")
    assert code == -signal.SIGTERM
    assert "survived" not in out
    lines = read_lines(telemetry)
    assert len(events_of(lines, "process_end")) == 1
    assert len(events_of(lines, "span_end")) == 5
    summary_path = telemetry.parent / "run_summary.json"
    assert summary_path.exists()
    assert summary_path.read_bytes() == refold_bytes(telemetry)
    assert load_json(summary_path)["status"] == "ok"


def test_previous_sigterm_handler_still_runs(tmp_path: Path) -> None:
    code, out, telemetry = run_and_signal(tmp_path, "previous")
    assert out[0] == "changed"
    assert "previous handler ran" in out
    assert code == 7
    lines = read_lines(telemetry)
    assert len(events_of(lines, "process_end")) == 1
    assert len(events_of(lines, "span_end")) == 5


def test_ignored_sigterm_stays_ignored(tmp_path: Path) -> None:
    code, out, telemetry = run_and_signal(tmp_path, "ignored")
    assert out[1] == "ignored"
    assert code == 0
    assert "survived" in out
    assert len(events_of(read_lines(telemetry), "process_end")) == 1


def test_handle_signals_false_installs_nothing(tmp_path: Path) -> None:
    script = write_script(
        tmp_path, "sig.py", SIGNAL_PROGRAM.replace("sys.stdin.readline()", "pass")
    )
    result = run_interpreter(str(script), str(tmp_path / "base"), "off")
    assert result.returncode == 0, result.stderr
    out = result.stdout.split()
    assert out[0] == "unchanged"
    assert out[1] == "not-ignored"
    # The default: something is installed.
    result = run_interpreter(str(script), str(tmp_path / "base2"), "default")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "changed"


def test_handle_signals_false_in_process_and_default_restored_at_shutdown(tmp_path: Path) -> None:
    before = (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT))
    spanline.configure_observability(
        enabled=True, service_name="acc", run_dir=tmp_path, handle_signals=False
    )
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
    assert (_wakeup_fd(), _signal_watchers()) == (-1, 0)  # nothing of ours either
    spanline.shutdown()
    spanline.configure_observability(enabled=True, service_name="acc", run_dir=tmp_path)
    assert signal.getsignal(signal.SIGTERM) is not before[0]
    assert (_wakeup_fd() != -1, _signal_watchers()) == (True, 1)  # in place of the default
    spanline.shutdown()
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
    assert (_wakeup_fd(), _signal_watchers()) == (-1, 0)  # put back, its thread ended


def _wakeup_fd() -> int:
    """The wakeup file descriptor set now (-1: none), left as it was."""
    current = signal.set_wakeup_fd(-1)
    if current != -1:
        signal.set_wakeup_fd(current)
    return current


def _signal_watchers() -> int:
    return sum(t.name == "spanline-signals" and t.is_alive() for t in threading.enumerate())
