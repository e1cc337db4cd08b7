"""Cost of folding a large run into its summary, against reading the file and DuckDB.

Usage::

    python benchmarks/fold.py [--events N] [--repeats R] [--smoke] [--json PATH]

It writes an EigenDA-like telemetry.jsonl of N events (default 1,000,000):
run_start, a root span, phase spans and milestones, 35 agent spans, and under
them LLM spans (GenAI usage, cost, previews) and tool spans (arguments and
output previews, about 1% failing), planned work, counters, and a process_end
with exporter statistics. Then it times, median of R repeats:

* **orjson loop**: ``for line in file: orjson.loads(line)``, the floor of any
  Python reader;
* **summarize_file**: spanline's whole fold, reading included;
* **duckdb**: ``read_json`` with explicit columns aggregating the same totals
  (skipped when DuckDB is not installed: ``pip install 'spanline[bench]'``);
* **nested agents**: :func:`summarize` of 16,000 agents (500 with ``--smoke``)
  each nested in the one before, under a phase: the fold's cost must not grow
  with the depth of nesting (it took 27.8 s before the fold became linear);
* **result()**: :meth:`SummaryFold.result` alone, once every event was added
  (first call, which sorts the tools' durations, and a repeated call).

Ratios are against the orjson loop. The DuckDB totals are checked against
the fold's, so both answer the same question. ``--smoke`` runs a tiny size
once (the test suite uses it); no timing is asserted there.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
from _common import parse_run_args  # shared by the run-folding benchmarks (script's directory)

from spanline.folds import SummaryFold, read_events, summarize, summarize_file

DEFAULTS = {"events": 1_000_000, "repeats": 3}
SMOKE = {"events": 5_000, "repeats": 1}
AGENTS = 35
PHASES = ("discovery", "library_depth_0", "library_depth_1", "application", "synthesis")
TOOLS = ("read_file", "grep", "list_dir", "run_tests", "mcp__github__get_file", "write_file")
MODELS = ("claude-sonnet-4-5", "gpt-4o", "gemini-2.5-flash")
TARGET_SECONDS = 2.0
TARGET_RATIO = 2.5
RESULT_TARGET_SECONDS = 0.5


# -- the run ----------------------------------------------------------------------------------
class RunWriter:
    """Writes one synthetic run, line by line, with ids 1, 2, 3... and a steady clock."""

    def __init__(self, path: Path, seed: int = 0) -> None:
        self.buffer = bytearray()
        self.handle = path.open("wb")
        self.random = random.Random(seed)
        self.next_id = 0
        self.clock = 1_700_000_000.0
        self.events = 0

    def line(self, event: dict[str, Any]) -> None:
        """Append one event (flushed to the file in large writes)."""
        self.buffer += orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE)
        self.events += 1
        if len(self.buffer) > 1 << 22:
            self.handle.write(self.buffer)
            self.buffer.clear()

    def tick(self, seconds: float) -> float:
        """Advance the clock; return the new time."""
        self.clock += seconds
        return self.clock

    def start(self, name: str, kind: str | None, parent: str | None, **attrs: Any) -> str:
        """A span_start line; returns the new span's id."""
        self.next_id += 1
        span_id = f"{self.next_id:016x}"
        self.line(
            {"event": "span_start", "span_id": span_id, "parent": parent, "trace_id": "ab" * 16,
             "name": name, "component": None, "kind": kind, "ts": self.tick(0.001),
             "attributes": attrs}
        )  # fmt: skip
        return span_id

    def end(self, span_id: str, ms: float, status: str = "ok", **fields: Any) -> None:
        """A span_end line; ``fields`` are counters, ``attributes`` and ``error``."""
        tokens, uses = fields.pop("tokens", 0), fields.pop("tool_uses", 0)
        attributes = fields.pop("attributes", {})
        event = {"event": "span_end", "span_id": span_id, "status": status, "duration_ms": ms,
                 "tokens": tokens, "tool_uses": uses, "ts": self.tick(ms / 1000.0),
                 "attributes": attributes}  # fmt: skip
        event.update(fields)
        self.line(event)

    def close(self) -> None:
        """Write what is buffered and close the file."""
        self.handle.write(self.buffer)
        self.handle.close()


def _tool(writer: RunWriter, agent: str, agent_id: str) -> None:
    rng = writer.random
    tool = rng.choice(TOOLS)
    preview = f"{{'path': 'core/module_{rng.randrange(400)}/handler.go'}}"
    span = writer.start(
        f"tool.{tool}", "tool", agent,
        **{"tool.name": tool, "tool.type": "mcp" if tool.startswith("mcp__") else "custom",
           "tool.input_chars": len(preview), "tool.arguments_preview": preview,
           "gen_ai.agent.id": agent_id},
    )  # fmt: skip
    ms = round(rng.lognormvariate(3.0, 1.0), 3)
    attrs = {"tool.success": True, "tool.execution_time_ms": ms,
             "tool.output_chars": rng.randrange(100, 40_000),
             "tool.output_preview": "package encoding\n\nimport \"fmt\"\n"}  # fmt: skip
    if rng.random() < 0.01:
        attrs["tool.success"] = False
        error = {"type": "FileNotFoundError", "message": "no such file", "stack": "Traceback..."}
        writer.end(span, ms, "error", tool_uses=1, attributes=attrs, error=error)
    else:
        writer.end(span, ms, tool_uses=1, attributes=attrs)


def _llm(writer: RunWriter, agent: str, agent_id: str) -> None:
    rng = writer.random
    model = rng.choice(MODELS)
    span = writer.start(
        "llm.call_model", "llm", agent,
        **{"gen_ai.operation.name": "chat", "llm.operation": "chat",
           "gen_ai.provider.name": "anthropic", "gen_ai.system": "anthropic",
           "gen_ai.request.model": model, "llm.model": model, "gen_ai.agent.id": agent_id,
           "input.value": "Analyze the encoding library and list its public API."},
    )  # fmt: skip
    ms = round(rng.lognormvariate(7.0, 0.6), 3)
    if rng.random() < 0.005:  # a provider response without usage
        writer.end(span, ms, attributes={"output.value": "..."})
        return
    cached, written = rng.randrange(0, 4000), rng.randrange(0, 500)
    inp, out = rng.randrange(200, 3000) + cached + written, rng.randrange(50, 1500)
    attrs = {"gen_ai.usage.input_tokens": inp, "gen_ai.usage.output_tokens": out,
             "gen_ai.usage.cache_read.input_tokens": cached,
             "gen_ai.usage.cache_creation.input_tokens": written,
             "gen_ai.usage.cost_usd": round((inp * 3.0 + out * 15.0) / 1e6, 8),
             "gen_ai.response.model": model, "gen_ai.response.finish_reasons": ["end_turn"],
             "output.value": "The library exposes Encode, Decode and Verify."}  # fmt: skip
    if rng.random() < 0.2:
        attrs["gen_ai.usage.reasoning.output_tokens"] = rng.randrange(0, out)
    writer.end(span, ms, tokens=inp + out, attributes=attrs)


def generate(path: Path, events: int, seed: int = 0) -> int:
    """Write a run of about ``events`` lines to ``path``; return the exact count."""
    writer = RunWriter(path, seed)
    writer.line(
        {"event": "run_start", "run_id": "bench-20250101T000000-abcdef", "pid": 1,
         "ts": writer.clock, "trace_id": "ab" * 16, "schema_version": 1,
         "service_name": "bench", "environment": "dev", "source_repo": "eigenda",
         "source_commit": "0" * 40, "agent_kinds": ["agent", "library-analysis", "synthesis"]}
    )  # fmt: skip
    root = writer.start("eigenda-profile", "run", None)
    # Header, trailer, root, phases, plans and agents take a fixed number of lines; the
    # rest are units of work: an LLM call and two tools (six lines).
    agents_per_phase = AGENTS // len(PHASES)
    fixed = 4 + len(PHASES) * (2 + agents_per_phase + 1) + 2 * AGENTS
    units_per_agent = max(1, (events - fixed) // (6 * AGENTS))
    for number, phase_name in enumerate(PHASES):
        phase = writer.start(phase_name, "phase", root)
        phase_began = writer.clock
        for index in range(agents_per_phase):
            writer.line(
                {"event": "span_planned", "plan_id": f"plan-{number}-{index}",
                 "name": f"lib-{number}-{index}", "kind": "library-analysis",
                 "parent": phase, "ts": writer.clock, "attributes": {}}
            )  # fmt: skip
        for index in range(agents_per_phase):
            kind = "synthesis" if phase_name == "synthesis" else "library-analysis"
            agent_id = f"agent-{number}-{index}"
            agent = writer.start(
                f"lib-{number}-{index}", kind, phase, **{"gen_ai.agent.id": agent_id}
            )
            began = writer.clock
            for _ in range(units_per_agent):
                _llm(writer, agent, agent_id)
                _tool(writer, agent, agent_id)
                _tool(writer, agent, agent_id)
            writer.end(agent, (writer.clock - began) * 1000.0, analyses_written=1)
        writer.end(phase, (writer.clock - phase_began) * 1000.0)
        writer.line(
            {"event": "phase", "name": f"{phase_name}-complete", "wall_ms": 1.0,
             "ts": writer.clock, "libraries": agents_per_phase}
        )  # fmt: skip
    writer.end(root, (writer.clock - 1_700_000_000.0) * 1000.0)
    writer.line(
        {"event": "process_end", "pid": 1, "ts": writer.tick(0.1), "dropped_events": 0,
         "write_errors": 0, "suppressed_spans": 3,
         "exporters": {"otlp": {"exported": writer.events, "failed": 0, "dropped": 0,
                                "errors": 0}}}
    )  # fmt: skip
    writer.close()
    return writer.events


# -- the contenders ---------------------------------------------------------------------------
def orjson_loop(path: Path) -> int:
    """Parse every line and do nothing else: the floor of a Python reader."""
    loads = orjson.loads
    count = 0
    with path.open("rb") as handle:
        for line in handle:
            loads(line)
            count += 1
    return count


DUCKDB_COLUMNS = {
    "event": "VARCHAR",
    "span_id": "VARCHAR",
    "status": "VARCHAR",
    "duration_ms": "DOUBLE",
    "tokens": "BIGINT",
    "tool_uses": "BIGINT",
    "attributes": "JSON",
}

DUCKDB_QUERY = """
SELECT
  count(*) FILTER (WHERE event = 'span_end') AS spans_ended,
  sum(tokens) FILTER (WHERE event = 'span_end') AS total_tokens,
  sum(tool_uses) FILTER (WHERE event = 'span_end') AS total_tool_uses,
  count(*) FILTER (WHERE event = 'span_end' AND status = 'error') AS errors,
  sum(CAST(attributes->>'$."gen_ai.usage.cost_usd"' AS DOUBLE))
    FILTER (WHERE event = 'span_end') AS cost_usd,
  sum(CAST(attributes->>'$."gen_ai.usage.input_tokens"' AS BIGINT))
    FILTER (WHERE event = 'span_end') AS input_tokens,
  sum(CAST(attributes->>'$."gen_ai.usage.output_tokens"' AS BIGINT))
    FILTER (WHERE event = 'span_end') AS output_tokens
FROM read_json(?, format = 'newline_delimited', columns = {columns})
"""


def duckdb_totals(path: Path) -> dict[str, Any] | None:
    """The same totals with DuckDB, or None when it is not installed."""
    try:
        import duckdb
    except ImportError:
        return None
    columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in DUCKDB_COLUMNS.items()) + "}"
    with duckdb.connect() as connection:
        cursor = connection.execute(DUCKDB_QUERY.format(columns=columns), [str(path)])
        names = [column[0] for column in cursor.description]
        row = cursor.fetchone()
    return dict(zip(names, row or (), strict=False))


def fold_totals(path: Path) -> dict[str, Any]:
    """The totals DuckDB computes, read from spanline's summary."""
    summary = summarize_file(path, report_problems=False)
    totals = summary.totals
    return {
        "total_tokens": totals.total_tokens,
        "total_tool_uses": totals.total_tool_uses,
        "errors": len(summary.errors),
        "cost_usd": round(totals.cost_usd, 6),
        "input_tokens": totals.tokens_by_type.input,
        "output_tokens": totals.tokens_by_type.output,
    }


# -- measuring --------------------------------------------------------------------------------
def timed(function: Callable[[], Any], repeats: int) -> tuple[float, list[float]]:
    """Median and all samples, in seconds."""
    samples = []
    for _ in range(repeats):
        began = time.perf_counter()
        function()
        samples.append(time.perf_counter() - began)
    return statistics.median(samples), samples


def measure_result(path: Path, repeats: int) -> tuple[float, float]:
    """SummaryFold.result() after every event was added: first call, then repeated calls."""
    events, _ = read_events(path)
    fold = SummaryFold()
    fold.extend(events)
    del events
    began = time.perf_counter()
    fold.result()
    first = time.perf_counter() - began
    again, _ = timed(fold.result, max(3, repeats))
    return first, again


def nested_agents(count: int) -> list[dict[str, Any]]:
    """A phase, ``count`` agents each the child of the one before (a line a second), and
    their ends, innermost first."""

    def start(span_id: str, parent: str | None, kind: str, ts: float) -> dict[str, Any]:
        return {"event": "span_start", "span_id": span_id, "parent": parent, "name": span_id,
                "kind": kind, "ts": ts, "attributes": {}}  # fmt: skip

    events = [start("phase", None, "phase", 0.0)]
    for index in range(count):
        events.append(start(f"a{index}", f"a{index - 1}" if index else "phase", "agent", index))
    for index in reversed(range(count)):
        events.append({"event": "span_end", "span_id": f"a{index}", "status": "ok",
                       "duration_ms": 1.0, "tokens": 1, "tool_uses": 0,
                       "ts": float(2 * count - index), "attributes": {}})  # fmt: skip
    return events


def run(path: Path, repeats: int, nested: int = 16_000) -> dict[str, Any]:
    """Every measurement on one file (and on ``nested`` agents nested in memory)."""
    rows: list[dict[str, Any]] = []
    base, samples = timed(lambda: orjson_loop(path), repeats)
    rows.append({"name": "orjson loop", "seconds": base, "samples": samples})
    fold_s, samples = timed(lambda: summarize_file(path, report_problems=False), repeats)
    rows.append({"name": "summarize_file", "seconds": fold_s, "samples": samples})
    duck = duckdb_totals(path)
    if duck is not None:
        duck_s, samples = timed(lambda: duckdb_totals(path), repeats)
        rows.append({"name": "duckdb read_json", "seconds": duck_s, "samples": samples})
    chain = nested_agents(nested)
    nested_s, samples = timed(lambda: summarize(chain), repeats)
    rows.append({"name": f"{nested:,} nested agents", "seconds": nested_s, "samples": samples})
    first, again = measure_result(path, repeats)
    rows.append({"name": "result() first call", "seconds": first, "samples": [first]})
    rows.append({"name": "result() again", "seconds": again, "samples": [again]})
    for row in rows:
        row["ratio"] = row["seconds"] / base if base else None
    ours = fold_totals(path)
    agree = None
    if duck is not None:
        theirs = {key: duck[key] for key in ours}
        theirs["cost_usd"] = round(theirs["cost_usd"] or 0.0, 6)
        agree = theirs == ours
    return {
        "rows": rows,
        "totals": ours,
        "duckdb_agrees": agree,
        "targets": {
            "summarize_file_s": TARGET_SECONDS,
            "summarize_file_ratio": TARGET_RATIO,
            "result_s": RESULT_TARGET_SECONDS,
        },
        "targets_met": fold_s <= TARGET_SECONDS
        and fold_s <= TARGET_RATIO * base
        and first <= RESULT_TARGET_SECONDS,
    }


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """One line per measurement: median seconds, range, ratio to the orjson loop."""
    lines = [f"{'measurement':<22}{'median s':>10}{'(min-max)':>18}{'vs orjson':>11}"]
    lines.append("-" * len(lines[0]))
    for row in rows:
        low, high = min(row["samples"]), max(row["samples"])
        spread = f"{low:.3f}-{high:.3f}"
        lines.append(f"{row['name']:<22}{row['seconds']:>10.3f}{spread:>18}{row['ratio']:>10.2f}x")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line arguments, with defaults filled in."""
    return parse_run_args(
        __doc__.split("\n", 1)[0],
        argv,
        defaults=DEFAULTS,
        smoke=SMOKE,
        repeats_help="repeats per measurement (default 3)",
        extra=_keep,
    )


def _keep(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keep", type=Path, help="write the run here and keep it")


def main(argv: Sequence[str] | None = None) -> None:
    """Generate the run, measure, print the table (and write JSON)."""
    args = parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="spanline-fold-bench-"))
    try:
        path = args.keep or scratch / "telemetry.jsonl"
        written = generate(path, args.events)
        size_mb = path.stat().st_size / 1e6
        print(f"python {platform.python_version()}; {written:,} events, {size_mb:.0f} MB; "
              f"median of {args.repeats}")  # fmt: skip
        results = run(path, args.repeats, 16_000 if args.events >= 100_000 else 500)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(format_table(results["rows"]))
    agree = results["duckdb_agrees"]
    print(f"duckdb totals equal the fold's: {'n/a' if agree is None else agree}")
    verdict = "met" if results["targets_met"] else "NOT met"
    print(f"targets (summarize_file <= {TARGET_SECONDS} s and <= {TARGET_RATIO}x the orjson "
          f"loop; result() <= {RESULT_TARGET_SECONDS} s): {verdict}")  # fmt: skip
    if args.json is not None:
        document = {"events": written, "repeats": args.repeats, **results}
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    if agree is False:
        sys.exit("duckdb and the fold disagree on the totals")


if __name__ == "__main__":
    main()
