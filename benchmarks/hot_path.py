"""Per-span cost of spanline against the OpenTelemetry SDK, logfire, loguru and structlog.

Usage::

    python benchmarks/hot_path.py [--spans N] [--repeats R] [--threads-spans M]
                                  [--quick] [--only NAMES] [--json PATH]

For every contender it measures, per span:

* **hot**: the loop that opens and closes N spans (median of R repeats);
* **end-to-end**: from loop start until every event is in the output file
  (``spanline.flush()``, ``force_flush()``, ``logger.complete()``, ``file.flush()``);
* **lost events**: lines expected minus lines found in the file after that.

Then spanline, the OpenTelemetry SDK and the tuple floor run once more with 2 threads
of M spans each. The tuple floor holds each span's start and end as bare 8-field tuples
in a deque and writes nothing: its peak RSS growth is the least that holding queued
events can cost, and spanline's is printed against it. The last lines give spanline's
ratios to its anchors, measured in this run, with their targets: hot path <= 0.08 and
end to end <= 0.15 of the OTel SDK's, peak RSS growth <= 1.2 times the tuple floor's.

Each contender runs in its own subprocess of this script (``--worker NAME``):
logfire and the OpenTelemetry SDK share global provider machinery, and a fresh
interpreter gives every contender the same clean heap and thread set. The parent
collects one JSON result per worker and prints one table. Nothing is fsync'ed:
"in the file" means handed to the OS, for every contender alike.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from importlib import metadata
from pathlib import Path
from random import getrandbits
from typing import Any, Protocol

import orjson
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

CONTENDERS = (
    "spanline",
    "otel-sdk",
    "logfire",
    "loguru",
    "structlog",
    # The OpenTelemetry bridge: plain spanline spans with it installed (must cost what
    # "spanline" costs), and OTel SDK spans it records into telemetry.jsonl.
    "spanline-bridge",
    "otel-bridged",
    # The memory floor: each span's two records as bare 8-field tuples in a deque.
    "tuple-floor",
)
#: Contenders that also run the 2-thread test.
THREADED = ("spanline", "otel-sdk", "tuple-floor")
#: Targets, each a ratio measured in the same run: spanline's hot path and end to end
#: against the OTel SDK's (single thread), and its peak RSS growth with 2 threads
#: against the tuple floor's.
HOT_TARGET = 0.08
E2E_TARGET = 0.15
MEMORY_TARGET = 1.2
THREADS = 2
SPAN_NAME = "hot"
#: Generous on purpose: a drain that needs this long is a bug, not a slow run.
DRAIN_TIMEOUT_S = 300.0
WORKER_TIMEOUT_S = 3600.0
WARM_UP_SPANS = 1_000
RESULT_PREFIX = "RESULT "
DEFAULTS = {"spans": 100_000, "repeats": 5, "threads_spans": 500_000}
QUICK = {"spans": 10_000, "repeats": 3, "threads_spans": 50_000}
VERSIONED = ("spanline", "opentelemetry-sdk", "logfire", "loguru", "structlog", "orjson")


# -- contenders (worker side) --------------------------------------------------------------
class Contender(Protocol):
    """One library under test; a worker process builds exactly one."""

    #: Lines each span leaves in the output file.
    lines_per_span: int
    #: Lines a repeat writes besides spans (spanline's run_start).
    header_lines: int

    def open(self, directory: Path) -> Path:
        """Prepare a fresh output file for one repeat (not timed); return its path."""

    def loop(self, n: int) -> None:
        """Open and close n spans: the hot path (timed, maybe from several threads)."""

    def drain(self) -> bool:
        """Block until every event is in the file (timed); False on timeout."""

    def close(self) -> int:
        """Release the repeat's resources (not timed); return drops the library counted."""


class JsonLinesSpanExporter(SpanExporter):
    """OpenTelemetry exporter writing one orjson line per span, one write per batch."""

    def __init__(self) -> None:
        self._fd: int | None = None
        # export() runs on the processor's thread, reopen() on the caller's.
        self._lock = threading.Lock()

    def reopen(self, path: Path | None) -> None:
        """Close the current file and append to ``path`` from now on (None: no file)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
            self._fd = None if path is None else os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Serialize the batch into one buffer and write it at once."""
        buffer = bytearray()
        for span in spans:
            buffer += orjson.dumps(_span_line(span), option=orjson.OPT_APPEND_NEWLINE)
        with self._lock:
            if self._fd is None:
                return SpanExportResult.FAILURE
            os.write(self._fd, buffer)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Close the file."""
        self.reopen(None)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Nothing is buffered here: every export is written immediately."""
        return True


def _span_line(span: ReadableSpan) -> dict[str, Any]:
    # Roughly the fields of a spanline span_start + span_end pair, so the work is comparable.
    context = span.context
    return {
        "name": span.name,
        "trace_id": f"{context.trace_id:032x}" if context else None,
        "span_id": f"{context.span_id:016x}" if context else None,
        "parent": f"{span.parent.span_id:016x}" if span.parent else None,
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
    }


class SpanlineContender:
    """spanline: a fresh run per repeat, ``tracer.span`` as a context manager."""

    lines_per_span = 2
    header_lines = 1  # run_start; process_end only comes at shutdown, after counting

    def open(self, directory: Path) -> Path:
        import spanline

        run = spanline.configure_observability(
            enabled=True,
            run_dir=directory,
            service_name="bench",
            flush_ms=250,
            max_queue=2_000_000,
        )
        assert run is not None
        # The writer builds run_start (git lookups) on its first wake-up: let that
        # finish before the clock starts.
        spanline.flush(timeout=DRAIN_TIMEOUT_S)
        self._span = spanline.get_tracer().span
        return run.telemetry_path

    def loop(self, n: int) -> None:
        span = self._span
        for _ in range(n):
            with span(SPAN_NAME):
                pass

    def drain(self) -> bool:
        import spanline

        return spanline.flush(timeout=DRAIN_TIMEOUT_S)

    def close(self) -> int:
        import spanline

        summary = spanline.shutdown(timeout=DRAIN_TIMEOUT_S)
        return summary.dropped_events if summary is not None else 0


class SpanlineBridgeContender(SpanlineContender):
    """spanline with ``spanline.otel.install()`` on: the same plain spans, bridge mode on."""

    def __init__(self) -> None:
        from opentelemetry.sdk.trace import TracerProvider

        import spanline.otel

        spanline.otel.install(TracerProvider())


class BridgedOTelContender(SpanlineContender):
    """OpenTelemetry SDK spans recorded by spanline's SpanProcessor (no OTel exporter)."""

    def __init__(self) -> None:
        from opentelemetry.sdk.trace import TracerProvider

        import spanline.otel

        self._tracer = spanline.otel.install(TracerProvider()).get_tracer("bench")

    def loop(self, n: int) -> None:
        start = self._tracer.start_as_current_span
        for _ in range(n):
            with start(SPAN_NAME):
                pass


class OTelContender:
    """OpenTelemetry SDK: its own TracerProvider (never the global one) + BatchSpanProcessor."""

    lines_per_span = 1
    header_lines = 0

    def __init__(self) -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        self._exporter = JsonLinesSpanExporter()
        self._provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
        self._provider.add_span_processor(BatchSpanProcessor(self._exporter))  # defaults
        self._tracer = self._provider.get_tracer("bench")

    def open(self, directory: Path) -> Path:
        path = directory / "otel.jsonl"
        self._exporter.reopen(path)
        return path

    def loop(self, n: int) -> None:
        start = self._tracer.start_as_current_span
        for _ in range(n):
            with start(SPAN_NAME):
                pass

    def drain(self) -> bool:
        return self._provider.force_flush(timeout_millis=int(DRAIN_TIMEOUT_S * 1000))

    def close(self) -> int:
        self._exporter.reopen(None)
        return 0  # the SDK only logs a warning when its queue overflows


class LogfireContender:
    """logfire, local only: no token, nothing sent, spans to the same file exporter."""

    lines_per_span = 1
    header_lines = 0

    def __init__(self) -> None:
        import logfire
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        self._exporter = JsonLinesSpanExporter()
        logfire.configure(
            send_to_logfire=False,
            console=False,
            service_name="bench",
            additional_span_processors=[BatchSpanProcessor(self._exporter)],
        )
        self._logfire = logfire

    def open(self, directory: Path) -> Path:
        path = directory / "logfire.jsonl"
        self._exporter.reopen(path)
        return path

    def loop(self, n: int) -> None:
        span = self._logfire.span
        for _ in range(n):
            with span(SPAN_NAME):
                pass

    def drain(self) -> bool:
        return self._logfire.force_flush(timeout_millis=int(DRAIN_TIMEOUT_S * 1000))

    def close(self) -> int:
        self._exporter.reopen(None)
        return 0


class LoguruContender:
    """loguru, ``serialize=True, enqueue=True`` to a file: a "start" and an "end" record."""

    lines_per_span = 2
    header_lines = 0

    def __init__(self) -> None:
        from loguru import logger

        logger.remove()  # drop the default stderr sink
        self._logger = logger
        self._handler: int | None = None

    def open(self, directory: Path) -> Path:
        path = directory / "loguru.jsonl"
        self._handler = self._logger.add(path, serialize=True, enqueue=True, level="INFO")
        return path

    def loop(self, n: int) -> None:
        info = self._logger.info
        for _ in range(n):
            info("start")
            info("end")

    def drain(self) -> bool:
        self._logger.complete()  # the enqueue thread has handled every record...
        self._logger.remove(self._handler)  # ...and closing the sink flushes the file
        self._handler = None
        return True

    def close(self) -> int:
        return 0


class StructlogContender:
    """structlog with orjson to a binary file: synchronous, two events per span."""

    lines_per_span = 2
    header_lines = 0

    def open(self, directory: Path) -> Path:
        import logging

        import structlog

        path = directory / "structlog.jsonl"
        self._file = path.open("wb")
        # The configuration structlog's documentation recommends for speed.
        structlog.configure(
            processors=[
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(),
                structlog.processors.JSONRenderer(serializer=orjson.dumps),
            ],
            wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
            logger_factory=structlog.BytesLoggerFactory(self._file),
            cache_logger_on_first_use=True,
        )
        self._log = structlog.get_logger().bind()  # bind(): the real logger, not the proxy
        return path

    def loop(self, n: int) -> None:
        info = self._log.info
        for _ in range(n):
            info("span_start", name=SPAN_NAME)
            info("span_end", name=SPAN_NAME)

    def drain(self) -> bool:
        self._file.flush()
        return True

    def close(self) -> int:
        import structlog

        self._file.close()
        structlog.reset_defaults()
        return 0


class TupleFloorContender:
    """The memory floor of a queued span: its start and end as the smallest records that
    still say what a span is (8 fields each: tag, id, parent or status, name or duration,
    times), appended to a deque and never written. Peak RSS growth after the loop is what
    holding the events costs at the least; nothing is written, so no line is expected."""

    lines_per_span = 0
    header_lines = 0

    def open(self, directory: Path) -> Path:
        self._queue: deque[tuple[Any, ...]] = deque()
        path = directory / "floor.jsonl"
        path.touch()
        return path

    def loop(self, n: int) -> None:
        append, new_id = self._queue.append, partial(getrandbits, 64)
        now, perf = time.time, time.perf_counter
        for _ in range(n):
            span_id, ts, t0 = new_id(), now(), perf()
            append((0, span_id, None, SPAN_NAME, None, None, ts, None))
            duration = perf() - t0
            append((1, span_id, "ok", duration, ts + duration, None, None, None))

    def drain(self) -> bool:
        return True  # the peak is read now, with every record still held

    def close(self) -> int:
        self._queue.clear()
        return 0


FACTORIES: dict[str, Callable[[], Contender]] = {
    "spanline": SpanlineContender,
    "otel-sdk": OTelContender,
    "logfire": LogfireContender,
    "loguru": LoguruContender,
    "structlog": StructlogContender,
    "spanline-bridge": SpanlineBridgeContender,
    "otel-bridged": BridgedOTelContender,
    "tuple-floor": TupleFloorContender,
}


# -- measuring (worker side) ------------------------------------------------------------------
@dataclass
class Sample:
    """One repeat of one contender."""

    spans: int
    hot_s: float
    e2e_s: float
    expected_lines: int
    written_lines: int
    counted_drops: int
    drained: bool
    #: Process peak RSS right after the drain: queue and writer, not shutdown work.
    peak_rss_mb: float
    #: CPU time of the loop's thread during a single-threaded loop (None with threads):
    #: unlike the wall clock, it leaves out the time other processes hold the cores.
    hot_cpu_s: float | None = None


def count_lines(path: Path) -> int:
    """Newlines in a file, read in chunks (the files reach hundreds of MB)."""
    lines = 0
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            lines += chunk.count(b"\n")
    return lines


def timed_loop(contender: Contender, n: int, threads: int) -> float:
    """Run the hot loop in ``threads`` threads of n spans each; return when it started."""
    if threads == 1:
        start = time.perf_counter()
        contender.loop(n)
        return start
    # The main thread joins the barrier too, so the clock starts when all workers may run.
    barrier = threading.Barrier(threads + 1)

    def work() -> None:
        barrier.wait()
        contender.loop(n)

    workers = [threading.Thread(target=work, name=f"bench-{i}") for i in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    start = time.perf_counter()
    for worker in workers:
        worker.join()
    return start


def measure_once(contender: Contender, directory: Path, n: int, threads: int) -> Sample:
    """One repeat: fresh output, timed loop, timed drain, then count what reached the file."""
    directory.mkdir(parents=True)
    path = contender.open(directory)
    gc.collect()  # the previous repeat's garbage is not this repeat's cost
    cpu_start = time.thread_time()
    start = timed_loop(contender, n, threads)
    loop_end = time.perf_counter()
    cpu = time.thread_time() - cpu_start if threads == 1 else None
    drained = contender.drain()
    drain_end = time.perf_counter()
    peak = peak_rss_mb()
    written = count_lines(path)
    counted = contender.close()
    shutil.rmtree(directory, ignore_errors=True)  # keep disk use to one repeat
    return Sample(
        spans=n * threads,
        hot_s=loop_end - start,
        e2e_s=drain_end - start,
        expected_lines=contender.lines_per_span * n * threads + contender.header_lines,
        written_lines=written,
        counted_drops=counted,
        drained=drained,
        peak_rss_mb=peak,
        hot_cpu_s=cpu,
    )


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024  # bytes vs KiB


def run_worker(name: str, n: int, repeats: int, threads: int, directory: Path) -> dict[str, Any]:
    """Measure one contender in this process; return its raw result."""
    contender = FACTORIES[name]()
    # A short untimed repeat first: lazy imports and first-call caches are paid
    # here, so they count neither in the timings nor in the memory growth.
    measure_once(contender, directory / "warm-up", min(n, WARM_UP_SPANS), 1)
    baseline = peak_rss_mb()
    samples = [measure_once(contender, directory / f"r{i}", n, threads) for i in range(repeats)]
    return {
        "contender": name,
        "threads": threads,
        "spans_per_thread": n,
        "repeats": repeats,
        # The peak is process-wide and never goes down, so only the first repeat's
        # drain tells what the hot path and writer hold; with the close step included
        # it also counts spanline's shutdown, which folds the run into run_summary.json.
        "peak_rss_growth_mb": round(samples[0].peak_rss_mb - baseline, 1),
        "peak_rss_growth_with_close_mb": round(peak_rss_mb() - baseline, 1),
        "samples": [asdict(sample) for sample in samples],
    }


# -- orchestration (parent side) --------------------------------------------------------------
def worker_env() -> dict[str, str]:
    """This environment without variables that would change a contender's defaults.

    SPANLINE_*/OTEL_* (queue sizes, exporters) and LOGFIRE_* (a token would mean
    network) are removed so every library runs as configured here.
    """
    prefixes = ("SPANLINE_", "OTEL_", "LOGFIRE_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.pop("TRACEPARENT", None)
    return env


def spawn_worker(name: str, n: int, repeats: int, threads: int, scratch: Path) -> dict[str, Any]:
    """Run one contender in a fresh interpreter; relay its stderr; parse its result line."""
    label = name if threads == 1 else f"{name} x{threads} threads"
    print(f"running {label}: {repeats} x {n * threads:,} spans", file=sys.stderr, flush=True)
    directory = scratch / f"{name}-t{threads}"
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", name]
    command += ["--spans", str(n), "--repeats", str(repeats), "--threads", str(threads)]
    command += ["--out-dir", str(directory)]
    proc = subprocess.run(
        command,
        env=worker_env(),
        cwd=scratch,  # anything a library drops in its working directory stays in scratch
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT_S,
        check=False,
    )
    for line in proc.stderr.splitlines():
        print(f"  [{label}] {line}", file=sys.stderr)
    results = [x for x in proc.stdout.splitlines() if x.startswith(RESULT_PREFIX)]
    if proc.returncode != 0 or not results:
        raise SystemExit(f"{label}: worker failed with exit code {proc.returncode}")
    return json.loads(results[-1][len(RESULT_PREFIX) :])


def summarize(raw: dict[str, Any]) -> dict[str, Any]:
    """Medians per span and lost-event totals of one worker's samples."""
    samples = raw["samples"]
    spans = samples[0]["spans"]
    hot = [s["hot_s"] / spans * 1e6 for s in samples]
    expected = sum(s["expected_lines"] for s in samples)
    written = sum(s["written_lines"] for s in samples)
    return {
        **raw,
        "label": raw["contender"] if raw["threads"] == 1 else f"{raw['contender']} x{THREADS}thr",
        "hot_us": statistics.median(hot),
        "hot_min_us": min(hot),
        "hot_max_us": max(hot),
        "e2e_us": statistics.median(s["e2e_s"] for s in samples) / spans * 1e6,
        "expected_lines": expected,
        "lost_events": expected - written,
        "counted_drops": sum(s["counted_drops"] for s in samples),
        "all_drained": all(s["drained"] for s in samples),
    }


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Each row's cost relative to spanline's row with the same thread count."""
    base = {row["threads"]: row for row in rows if row["contender"] == "spanline"}
    for row in rows:
        ref = base.get(row["threads"])
        row["hot_ratio"] = row["hot_us"] / ref["hot_us"] if ref else None
        row["e2e_ratio"] = row["e2e_us"] / ref["e2e_us"] if ref else None


def headline(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """spanline against its anchors, each with its target: hot path and end to end against
    the OTel SDK (and structlog's end to end), memory against the tuple floor."""
    single = {row["contender"]: row for row in rows if row["threads"] == 1}
    threaded = {row["contender"]: row for row in rows if row["threads"] == THREADS}

    def ratio(rows_of: dict[str, Any], name: str, anchor: str, key: str) -> float | None:
        if name not in rows_of or anchor not in rows_of or not rows_of[anchor][key]:
            return None
        return float(rows_of[name][key] / rows_of[anchor][key])

    hot = ratio(single, "spanline", "otel-sdk", "hot_us")
    e2e = ratio(single, "spanline", "otel-sdk", "e2e_us")
    memory = ratio(threaded, "spanline", "tuple-floor", "peak_rss_growth_mb")
    return {
        "spanline_vs_otel_hot": hot,
        "target": HOT_TARGET,
        "target_met": None if hot is None else hot <= HOT_TARGET,
        "spanline_vs_otel_e2e": e2e,
        "e2e_target": E2E_TARGET,
        "e2e_target_met": None if e2e is None else e2e <= E2E_TARGET,
        "spanline_vs_structlog_e2e": ratio(single, "spanline", "structlog", "e2e_us"),
        "bytes_per_event": {name: _bytes_per_event(row) for name, row in threaded.items()},
        "spanline_vs_floor_memory": memory,
        "memory_target": MEMORY_TARGET,
        "memory_target_met": None if memory is None else memory <= MEMORY_TARGET,
    }


def _bytes_per_event(row: dict[str, Any]) -> float:
    """Peak RSS growth of the first repeat per event of its spans (two events a span)."""
    return row["peak_rss_growth_mb"] * (1 << 20) / (2 * row["samples"][0]["spans"])


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}x"


def _spread(row: dict[str, Any]) -> str:
    return f"{row['hot_min_us']:.2f}-{row['hot_max_us']:.2f}"


def format_table(rows: list[dict[str, Any]]) -> str:
    """A fixed-width plain-text table, one row per contender and mode."""
    header = (
        f"{'contender':<18} {'hot us/span':>11} {'(min-max)':>13} {'e2e us/span':>11} "
        f"{'hot vs sl':>9} "
        f"{'e2e vs sl':>9} {'lost events':>11} {'of lines':>11} {'peak RSS +MB':>12}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        flag = "" if row["all_drained"] else "  (drain timed out)"
        lines.append(
            f"{row['label']:<18} {row['hot_us']:>11.2f} {_spread(row):>13} {row['e2e_us']:>11.2f} "
            f"{_ratio(row['hot_ratio']):>9} {_ratio(row['e2e_ratio']):>9} "
            f"{row['lost_events']:>11,} {row['expected_lines']:>11,} "
            f"{row['peak_rss_growth_mb']:>12.1f}{flag}"
        )
    return "\n".join(lines)


def format_headline(facts: dict[str, Any]) -> str:
    """Each ratio of spanline to its anchor, and whether its target holds."""

    def line(label: str, value: float | None, target: float | None, met: bool | None) -> str:
        if value is None:
            return f"{label} = n/a (both must run)"
        if target is None:
            return f"{label} = {value:.3f}"
        return f"{label} = {value:.3f} (target <= {target}: {'met' if met else 'NOT met'})"

    floor = facts["bytes_per_event"]
    lines = [
        line("spanline hot path / OTel SDK hot path", facts["spanline_vs_otel_hot"],
             facts["target"], facts["target_met"]),
        line("spanline end to end / OTel SDK end to end", facts["spanline_vs_otel_e2e"],
             facts["e2e_target"], facts["e2e_target_met"]),
        line("spanline end to end / structlog end to end", facts["spanline_vs_structlog_e2e"],
             None, None),
    ]  # fmt: skip
    if "spanline" in floor and "tuple-floor" in floor:
        lines.append(
            f"peak RSS growth per event, {THREADS} threads: spanline "
            f"{floor['spanline']:.0f} B, tuple floor {floor['tuple-floor']:.0f} B"
        )
    lines.append(
        line("spanline peak RSS growth / tuple floor's", facts["spanline_vs_floor_memory"],
             facts["memory_target"], facts["memory_target_met"])
    )  # fmt: skip
    return "\n".join(lines)


def environment_facts() -> dict[str, Any]:
    """What the numbers depend on: CPUs, Python, library versions."""
    versions = {}
    for package in VERSIONED:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "versions": versions,
    }


# -- command line -----------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--spans", type=int, help="spans per repeat (default 100,000)")
    parser.add_argument("--repeats", type=int, help="repeats per contender (default 5)")
    parser.add_argument(
        "--threads-spans", type=int, help=f"spans per thread, {THREADS} threads (default 500,000)"
    )
    parser.add_argument("--quick", action="store_true", help="smaller defaults (a quick look)")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(CONTENDERS)}")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    # Worker mode, used by the parent (and handy under a profiler): one contender, one result.
    parser.add_argument("--worker", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--out-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else DEFAULTS).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if min(args.spans, args.repeats, args.threads_spans, args.threads) < 1:
        parser.error("--spans, --repeats, --threads-spans and --threads must be at least 1")
    args.only = tuple(args.only.split(",")) if args.only else CONTENDERS
    if unknown := set(args.only) - set(CONTENDERS):
        parser.error(f"unknown contenders: {', '.join(sorted(unknown))}")
    return args


def worker_main(args: argparse.Namespace) -> None:
    """``--worker NAME``: measure one contender and print its result line.

    Also the way to profile one contender alone, e.g.
    ``python -m cProfile -s tottime benchmarks/hot_path.py --worker spanline``.
    """
    directory = args.out_dir or Path(tempfile.mkdtemp(prefix="spanline-bench-"))
    try:
        result = run_worker(args.worker, args.spans, args.repeats, args.threads, directory)
    finally:
        if args.out_dir is None:
            shutil.rmtree(directory, ignore_errors=True)
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def parent_main(args: argparse.Namespace) -> None:
    """Run every contender in turn, print the table, optionally write JSON."""
    jobs = [(name, args.spans, args.repeats, 1) for name in args.only]
    jobs += [(name, args.threads_spans, 1, THREADS) for name in args.only if name in THREADED]
    scratch = Path(tempfile.mkdtemp(prefix="spanline-bench-"))
    try:
        rows = [summarize(spawn_worker(*job, scratch)) for job in jobs]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    add_ratios(rows)
    facts = headline(rows)
    env = environment_facts()
    print(f"python {env['python']} on {env['nproc']} CPUs; versions: {env['versions']}")
    print(f"single thread: median of {args.repeats} x {args.spans:,} spans; threaded: ", end="")
    print(f"{THREADS} threads x {args.threads_spans:,} spans; vs sl = times spanline's cost")
    print(format_table(rows))
    print(format_headline(facts))
    if args.json is not None:
        document = {"config": _config(args), "environment": env, "results": rows, **facts}
        args.json.write_text(json.dumps(document, indent=2) + "\n")


def _config(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("spans", "repeats", "threads_spans", "quick", "only")
    return {key: getattr(args, key) for key in keys} | {"threads": THREADS}


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: parent mode by default, worker mode with ``--worker``."""
    args = parse_args(argv)
    if args.worker is not None:
        worker_main(args)
    else:
        parent_main(args)


if __name__ == "__main__":
    main()
