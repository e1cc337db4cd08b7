"""Cost of writing run_summary.json at shutdown, against re-folding the finished file.

Usage::

    python benchmarks/shutdown.py [--spans N] [--repeat R] [--smoke] [--json PATH]

Each repeat runs two fresh interpreters (``--child live`` and ``--child refold``):

* **live**: ``configure_observability(summary_interval_ms=200)`` into a scratch
  directory, then N spans (1,000,000 by default: 2M lines) of an EigenDA-like
  mix, produced as a live run does, in chunks with ``spanline.flush()`` between
  them: a root span, 5 phases, 35 agents (kind ``agent``) and under them LLM
  spans (GenAI usage attributes, a ``tokens`` counter) and tool spans
  (argument and output previews, a ``tool_uses`` counter, about 1% failing).
  It then polls run_summary.json until the live fold has caught up (its
  ``span_count`` is N) and times ``spanline.shutdown()``: the whole call, and
  inside it the writer's drain and process_end line and the live summary's
  last pass (``SummarySidecar.finish``, wrapped by the child: the helper process's
  last pass over a large log, or a fold in the program of a log under 4 MiB).
* **refold**: what shutdown used to do, on the same finished file:
  ``summarize_file`` then ``write_summary``.

The table gives medians of R repeats and ratios to the re-fold. The two
run_summary.json files are compared: the live fold must equal the re-fold.
Target: shutdown's summary at most 0.5 s whatever the run's size. ``--smoke``
runs a tiny size once (the test suite uses it); no timing is asserted there.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULTS = {"spans": 1_000_000, "repeat": 3}
SMOKE = {"spans": 5_000, "repeat": 1}
CHUNK_SPANS = 10_000
INTERVAL_MS = 200
PHASES = ("discovery", "library_depth_0", "library_depth_1", "application", "synthesis")
AGENTS_PER_PHASE = 7
TOOLS = ("read_file", "grep", "list_dir", "run_tests", "mcp__github__get_file", "write_file")
MODELS = ("claude-sonnet-4-5", "gpt-4o", "gemini-2.5-flash")
#: Spans besides the units of work: the root, the phases and the agents.
FIXED_SPANS = 1 + len(PHASES) * (1 + AGENTS_PER_PHASE)
TARGET_SECONDS = 0.5
CATCH_UP_TIMEOUT_S = 900.0
CHILD_TIMEOUT_S = 3600.0
RESULT_PREFIX = "RESULT "


# -- the live run (child side) ----------------------------------------------------------------
class Producer:
    """Opens the spans of one run through spanline's public API, flushing every chunk."""

    def __init__(self, chunk: int, seed: int = 0) -> None:
        import spanline

        self.spanline = spanline
        self.span = spanline.get_tracer().span
        self.random = random.Random(seed)
        self.chunk = chunk
        self.spans = 0

    def count(self) -> None:
        """One more span ended; flush when a chunk is complete."""
        self.spans += 1
        if self.spans % self.chunk == 0:
            self.spanline.flush(timeout=600.0)

    def llm(self, agent_id: str) -> None:
        """An LLM call with GenAI usage (0.5% of them report none)."""
        rng = self.random
        model = rng.choice(MODELS)
        attrs = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic",
                 "gen_ai.request.model": model, "gen_ai.agent.id": agent_id,
                 "input.value": "Analyze the encoding library and its public API."}  # fmt: skip
        with self.span("llm.call_model", kind="llm", **attrs) as span:
            if rng.random() < 0.005:
                span.set_attribute("output.value", "...")
            else:
                cached, inp = rng.randrange(4000), rng.randrange(200, 3000)
                out = rng.randrange(50, 1500)
                span.set_attributes(
                    {"gen_ai.usage.input_tokens": inp + cached, "gen_ai.usage.output_tokens": out,
                     "gen_ai.usage.cache_read.input_tokens": cached,
                     "gen_ai.response.model": model, "gen_ai.response.finish_reasons": ["end_turn"],
                     "output.value": "The library exposes Encode, Decode and Verify."}
                )  # fmt: skip
                span.add(tokens=inp + cached + out)
        self.count()

    def tool(self, agent_id: str) -> None:
        """A tool call with argument and output previews (1% fail)."""
        rng = self.random
        tool = rng.choice(TOOLS)
        preview = f"{{'path': 'core/module_{rng.randrange(400)}/handler.go'}}"
        attrs = {"tool.name": tool, "tool.type": "mcp" if tool.startswith("mcp__") else "custom",
                 "tool.input_chars": len(preview), "tool.arguments_preview": preview,
                 "gen_ai.agent.id": agent_id}  # fmt: skip
        with self.span(f"tool.{tool}", kind="tool", **attrs) as span:
            span.set_attributes(
                {"tool.success": True, "tool.output_chars": rng.randrange(100, 40_000),
                 "tool.output_preview": "package encoding\n\nimport \"fmt\"\n"}
            )  # fmt: skip
            span.add(tool_uses=1)
            if rng.random() < 0.01:
                span.set_attribute("tool.success", False)
                span.set_status("error", "no such file")
        self.count()

    def run(self, spans: int) -> int:
        """About ``spans`` spans: root, phases, agents, units of an LLM call and two tools."""
        agents = len(PHASES) * AGENTS_PER_PHASE
        units, extra = divmod(max(0, spans - FIXED_SPANS) // 3, agents)
        with self.span("eigenda-profile", kind="run"):
            for number, phase_name in enumerate(PHASES):
                with self.span(phase_name, kind="phase"):
                    for index in range(AGENTS_PER_PHASE):
                        agent_id = f"agent-{number}-{index}"
                        name = f"lib-{number}-{index}"
                        with self.span(name, kind="agent", **{"gen_ai.agent.id": agent_id}) as a:
                            ordinal = number * AGENTS_PER_PHASE + index
                            for _ in range(units + (ordinal < extra)):
                                self.llm(agent_id)
                                self.tool(agent_id)
                                self.tool(agent_id)
                            a.add(analyses_written=1)
                        self.count()
                self.count()
                self.spanline.phase(f"{phase_name}-complete", libraries=AGENTS_PER_PHASE)
        self.count()
        self.spanline.flush(timeout=600.0)
        return self.spans


def wait_for_live_fold(summary_path: Path, spans: int, timeout: float) -> float:
    """Poll run_summary.json until the live fold has every span; return the seconds waited."""
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        try:
            summary = json.loads(summary_path.read_bytes())
        except (OSError, ValueError):
            summary = {}
        if summary.get("span_count") == spans and summary.get("open_spans") == 0:
            return time.perf_counter() - began
        time.sleep(0.05)
    raise SystemExit(f"the live fold did not catch up with {spans:,} spans in {timeout:g} s")


def wrap_timed(owner: Any, name: str, into: dict[str, float], key: str) -> None:
    """Replace ``owner.name`` by a wrapper adding its wall time to ``into[key]``."""
    original = getattr(owner, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            into[key] = into.get(key, 0.0) + time.perf_counter() - began

    setattr(owner, name, timed)


class GcWatch:
    """Counts full (generation 2) collections and the time all collections take."""

    def __init__(self) -> None:
        self.full = 0
        self.seconds = 0.0
        self._began = 0.0

    def callback(self, phase: str, info: dict[str, Any]) -> None:
        """A ``gc.callbacks`` entry."""
        if phase == "start":
            self._began = time.perf_counter()
            return
        self.seconds += time.perf_counter() - self._began
        self.full += info["generation"] == 2


def gc_watch() -> GcWatch:
    """A :class:`GcWatch`, registered in ``gc.callbacks``."""
    watch = GcWatch()
    gc.callbacks.append(watch.callback)
    return watch


def count_lines(path: Path) -> int:
    """Lines in a file, read in blocks."""
    lines = 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 24):
            lines += block.count(b"\n")
    return lines


def live_child(spans: int, chunk: int, interval_ms: int, directory: Path) -> dict[str, Any]:
    """Configure, produce, wait for the live fold, time shutdown(); return the facts."""
    import spanline
    from spanline._session import _configure as _session
    from spanline._session._sidecar import SummarySidecar
    from spanline._writer._pipeline import Pipeline

    parts: dict[str, float] = {}
    wrap_timed(SummarySidecar, "finish", parts, "summary_s")
    wrap_timed(Pipeline, "shutdown", parts, "pipeline_s")
    run = spanline.configure_observability(
        enabled=True, run_dir=directory, service_name="bench", summary_interval_ms=interval_ms
    )
    assert run is not None
    began = time.perf_counter()
    produced = Producer(chunk).run(spans)
    produce_s = time.perf_counter() - began
    catch_up_s = wait_for_live_fold(run.summary_path, produced, CATCH_UP_TIMEOUT_S)
    session = _session._session
    assert session is not None and session.live is not None
    del session
    # The live fold has caught up with every span: what shutdown adds is left to fold.
    lines_before = count_lines(run.telemetry_path)
    collections = gc_watch()
    began = time.perf_counter()
    spanline.shutdown(timeout=600.0)
    shutdown_s = time.perf_counter() - began
    gc.callbacks.remove(collections.callback)
    rest_s = shutdown_s - parts.get("pipeline_s", 0.0) - parts.get("summary_s", 0.0)
    return {
        "spans": produced,
        "lines": (lines := count_lines(run.telemetry_path)),
        "lines_folded_at_shutdown": lines - lines_before,
        "gc_gen2_during_shutdown": collections.full,
        "gc_s_during_shutdown": collections.seconds,
        "file_mb": run.telemetry_path.stat().st_size / 1e6,
        "telemetry": str(run.telemetry_path),
        "summary": str(run.summary_path),
        "produce_s": produce_s,
        "catch_up_s": catch_up_s,
        "shutdown_s": shutdown_s,
        "rest_s": rest_s,
        **parts,
    }


def refold_child(telemetry: Path, out: Path) -> dict[str, Any]:
    """The old shutdown: fold the whole finished file again, then write the summary."""
    from spanline.folds import summarize_file, write_summary

    began = time.perf_counter()
    summary = summarize_file(telemetry, report_problems=False)
    folded = time.perf_counter()
    write_summary(summary, out)
    written = time.perf_counter()
    return {"fold_s": folded - began, "write_s": written - folded, "refold_s": written - began}


# -- orchestration (parent side) ----------------------------------------------------------------
def child_env() -> dict[str, str]:
    """This environment without spanline's or OpenTelemetry's settings (they change the work)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPANLINE_", "OTEL_"))}
    env.pop("TRACEPARENT", None)
    return env


def spawn(args: list[str], cwd: Path) -> dict[str, Any]:
    """Run this script as a child in a fresh interpreter; return its result line."""
    command = [sys.executable, str(Path(__file__).resolve()), *args]
    proc = subprocess.run(
        command, env=child_env(), cwd=cwd, capture_output=True, text=True,
        timeout=CHILD_TIMEOUT_S, check=False,
    )  # fmt: skip
    for line in proc.stderr.splitlines():
        print(f"  [{args[1]}] {line}", file=sys.stderr)
    results = [x for x in proc.stdout.splitlines() if x.startswith(RESULT_PREFIX)]
    if proc.returncode != 0 or not results:
        raise SystemExit(f"child {args[1]} failed with exit code {proc.returncode}")
    return json.loads(results[-1][len(RESULT_PREFIX) :])


def measure_once(spans: int, chunk: int, interval_ms: int, scratch: Path) -> dict[str, Any]:
    """One live run and one re-fold of its file, each in a fresh interpreter."""
    directory = Path(tempfile.mkdtemp(dir=scratch))
    try:
        live = spawn(["--child", "live", "--spans", str(spans), "--chunk", str(chunk),
                      "--interval-ms", str(interval_ms), "--out-dir", str(directory)],
                     cwd=directory)  # fmt: skip
        refolded = directory / "refold_summary.json"
        refold = spawn(["--child", "refold", "--telemetry", live["telemetry"],
                        "--out", str(refolded)], cwd=directory)  # fmt: skip
        same = json.loads(Path(live["summary"]).read_bytes()) == json.loads(refolded.read_bytes())
        return {**live, **refold, "live_equals_refold": same}
    finally:
        shutil.rmtree(directory, ignore_errors=True)


ROWS = (
    ("shutdown() total", "shutdown_s"),
    ("  writer drain + process_end", "pipeline_s"),
    ("  summary (live fold, last pass)", "summary_s"),
    ("  rest (freeing the session...)", "rest_s"),
    ("re-fold: summarize_file", "fold_s"),
    ("re-fold: write_summary", "write_s"),
    ("re-fold total (old shutdown)", "refold_s"),
)


def table_rows(samples: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Median, range and ratio to the re-fold of every measured part."""
    base = statistics.median(s["refold_s"] for s in samples)
    rows = []
    for name, key in ROWS:
        values = [s.get(key, float("nan")) for s in samples]
        median = statistics.median(values)
        rows.append({"name": name, "key": key, "seconds": median, "samples": values,
                     "ratio": median / base if base else None})  # fmt: skip
    return rows


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """One line per measurement: median seconds, range, ratio to the re-fold."""
    lines = [f"{'measurement':<34}{'median s':>10}{'(min-max)':>18}{'vs re-fold':>12}"]
    lines.append("-" * len(lines[0]))
    for row in rows:
        spread = f"{min(row['samples']):.3f}-{max(row['samples']):.3f}"
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.3f}x"
        lines.append(f"{row['name']:<34}{row['seconds']:>10.3f}{spread:>18}{ratio:>12}")
    return "\n".join(lines)


def verdicts(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Whether shutdown() as a whole, and its summary part, stay within the target."""
    seconds = {row["key"]: row["seconds"] for row in rows}
    return {
        "target_s": TARGET_SECONDS,
        "shutdown_target_met": seconds["shutdown_s"] <= TARGET_SECONDS,
        "summary_target_met": seconds["summary_s"] <= TARGET_SECONDS,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line arguments, with defaults filled in."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--spans", type=int, help="spans in the live run (default 1,000,000)")
    parser.add_argument("--repeat", type=int, help="fresh runs to take the median of (default 3)")
    parser.add_argument("--chunk", type=int, default=CHUNK_SPANS, help="spans between flushes")
    parser.add_argument("--interval-ms", type=int, default=INTERVAL_MS, help="summary_interval_ms")
    parser.add_argument("--smoke", action="store_true", help="a tiny run, once (for tests)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    # Child mode, used by the parent (and handy under a profiler).
    parser.add_argument("--child", choices=("live", "refold"), help=argparse.SUPPRESS)
    parser.add_argument("--out-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--telemetry", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for key, value in (SMOKE if args.smoke else DEFAULTS).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if min(args.spans, args.repeat, args.chunk, args.interval_ms) < 1:
        parser.error("--spans, --repeat, --chunk and --interval-ms must be at least 1")
    return args


def child_main(args: argparse.Namespace) -> None:
    """``--child live|refold``: one measurement, printed as a result line."""
    if args.child == "live":
        result = live_child(args.spans, args.chunk, args.interval_ms, args.out_dir)
    else:
        result = refold_child(args.telemetry, args.out)
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def report(args: argparse.Namespace, samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Print the table and the verdicts; return the JSON document."""
    rows = table_rows(samples)
    facts = verdicts(rows)
    first = samples[0]
    same = all(s["live_equals_refold"] for s in samples)
    print(f"python {platform.python_version()} on {os.cpu_count()} CPUs; {first['spans']:,} "
          f"spans, {first['lines']:,} lines, {first['file_mb']:.0f} MB; median of {args.repeat}; "
          f"summary_interval_ms={args.interval_ms}, flush every {args.chunk:,} spans")  # fmt: skip
    print(format_table(rows))
    left = statistics.median(s["lines_folded_at_shutdown"] for s in samples)
    catch_up = statistics.median(s["catch_up_s"] for s in samples)
    produce = statistics.median(s["produce_s"] for s in samples)
    print(f"lines left to fold at shutdown: {left:,.0f}; live fold caught up {catch_up:.2f} s "
          f"after the last flush; producing the run took {produce:.1f} s")  # fmt: skip
    full = statistics.median(s["gc_gen2_during_shutdown"] for s in samples)
    gc_s = statistics.median(s["gc_s_during_shutdown"] for s in samples)
    print(
        f"during shutdown(): {full:.0f} full garbage collection(s), {gc_s:.3f} s in the collector"
    )
    print(f"live summary equals the re-fold: {same}")
    for label, part in (("shutdown()", "shutdown"), ("its summary", "summary")):
        verdict = "met" if facts[f"{part}_target_met"] else "NOT met"
        print(f"target ({label} <= {TARGET_SECONDS} s): {verdict}")
    return {"spans": first["spans"], "repeat": args.repeat, "interval_ms": args.interval_ms,
            "chunk": args.chunk, "rows": rows, "samples": samples,
            "live_equals_refold": same, **facts}  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    """Measure (or, with ``--child``, be one measurement)."""
    args = parse_args(argv)
    if args.child is not None:
        child_main(args)
        return
    scratch = Path(tempfile.mkdtemp(prefix="spanline-shutdown-bench-"))
    try:
        samples = []
        for number in range(args.repeat):
            print(f"run {number + 1}/{args.repeat}: {args.spans:,} spans", file=sys.stderr)
            samples.append(measure_once(args.spans, args.chunk, args.interval_ms, scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    document = report(args, samples)
    if args.json is not None:
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    if not document["live_equals_refold"]:
        sys.exit("the live summary and the re-fold disagree")


if __name__ == "__main__":
    main()
