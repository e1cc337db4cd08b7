"""Cold cost of turning tracing on: the first configure_observability() of a process.

Usage::

    python benchmarks/configure.py [--runs N] [--skip-without] [--smoke] [--json PATH]

Each measurement runs in fresh interpreters (``python -c``), median of N (20):

* **import spanline**: the package import alone;
* **settings**: ``import spanline._session._settings`` plus ``resolve_settings()`` after
  ``import spanline`` (the part the settings table owns);
* **configure cold**: the first ``configure_observability(enabled=True,
  run_dir=<tmp>)`` after ``import spanline``; ``shutdown()`` follows, untimed;
* **import + configure**: both together, what a traced program pays before its
  first span (the headline);

and, where this interpreter has them, the anchors measured in the same run,
imports included:

* **otel-sdk setup**: the OpenTelemetry SDK's ``TracerProvider()`` with a
  ``BatchSpanProcessor`` (and an exporter that drops what it is given);
* **logfire.configure() (local)**: ``send_to_logfire=False, console=False``.

Three clocks are read inside the child around the measured statement only, so
the interpreter's start-up (which both sides pay alike) is not counted: the
process's CPU time (``time.process_time()``: every thread of the process, so
work moved onto a thread still counts while it runs inside the window), the
calling thread's CPU time (``time.thread_time()``) and the wall clock
(``time.perf_counter()``). The verdict reads the process's CPU time: on an
idle machine it is the wall clock (imports hold the GIL, so the threads take
turns), and on a loaded one it does not count the time other processes held
the cores, which swings the wall clock by 2x between runs. An untimed first run
writes the bytecode files, as an installed package has them. Everything runs twice:
with this interpreter (logfire installed: pydantic's plugin hook imports it)
and with a venv holding spanline's core dependencies only, built once under
``~/.cache/spanline-bench/no-logfire-<hash>`` and reused (``--skip-without``
skips it). Target: import + configure at most 60 ms, and at most 0.4x the
OpenTelemetry SDK's setup measured in the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CACHE = Path.home() / ".cache" / "spanline-bench"
TARGET_MS = 60.0
#: Import + configure against the OpenTelemetry SDK's setup, same run.
TARGET_RATIO = 0.4
DEFAULT_RUNS = 20
SMOKE_RUNS = 2
CHILD_TIMEOUT_S = 120.0
#: A venv counts as built only once this file exists (pip may have been interrupted).
BUILT_MARKER = ".spanline-bench-built"

# The children: each reads three clocks around its measured statement and prints the
# seconds of each, ``process-CPU thread-CPU wall`` (wall last: against_commit.py reads
# the last number).
_START = "t = (time.process_time(), time.thread_time(), time.perf_counter())\n"
_IMPORT = "import time\n" + _START + "import spanline\n"
_SETTINGS = (
    "import sys, time, spanline\n" + _START + "import spanline._session._settings\n"
    "spanline._session._settings.resolve_settings({'enabled': True, 'run_dir': sys.argv[1]})\n"
)
_CONFIGURE = (
    "import sys, time, spanline\n"
    + _START
    + "spanline.configure_observability(enabled=True, run_dir=sys.argv[1])\n"
)
_PRINT = (
    "now = (time.process_time(), time.thread_time(), time.perf_counter())\n"
    "elapsed = ' '.join(repr(b - a) for a, b in zip(t, now))\n"
)
_TOGETHER = (
    "import sys, time\n" + _START + "import spanline\n"
    "spanline.configure_observability(enabled=True, run_dir=sys.argv[1])\n"
)
MEASUREMENTS: dict[str, str] = {
    "import spanline": _IMPORT + _PRINT + "print(elapsed)\n",
    "settings (import _config + resolve)": _SETTINGS + _PRINT + "print(elapsed)\n",
    # shutdown() runs after the clocks stop: the next run starts from a clean state.
    "configure cold": _CONFIGURE + _PRINT + "spanline.shutdown()\nprint(elapsed)\n",
    "import + configure": _TOGETHER + _PRINT + "spanline.shutdown()\nprint(elapsed)\n",
}
HEADLINE = "import + configure"
#: The anchors, imports included (run only where the interpreter has them).
OTEL_ANCHOR = "otel-sdk setup"
ANCHORS: dict[str, str] = {
    OTEL_ANCHOR: (
        "import time\n" + _START + "from opentelemetry.sdk.trace import TracerProvider\n"
        "from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter\n"
        "class Drop(SpanExporter):\n"
        "    def export(self, spans):\n"
        "        return None\n"
        "provider = TracerProvider()\n"
        "provider.add_span_processor(BatchSpanProcessor(Drop()))\n"
        + _PRINT
        + "provider.shutdown()\nprint(elapsed)\n"
    ),
    "logfire.configure() (local)": (
        "import time\n" + _START + "import logfire\n"
        "logfire.configure(send_to_logfire=False, console=False)\n" + _PRINT + "print(elapsed)\n"
    ),
}


def child_env() -> dict[str, str]:
    """This environment without spanline's or OpenTelemetry's settings (they change the work).

    Bytecode may be written: an installed package has its .pyc files, and compiling
    the sources in every child would be measured as import time.
    """
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SPANLINE_", "OTEL_"))
        and name not in ("TRACEPARENT", "PYTHONDONTWRITEBYTECODE")
    }


def time_once(python: Path, code: str, scratch: Path) -> tuple[float, ...]:
    """Run ``code`` in a fresh ``python``; return the seconds it printed, one per clock."""
    run_dir = Path(tempfile.mkdtemp(dir=scratch))
    result = subprocess.run(
        [str(python), "-c", code, str(run_dir)],
        env=child_env(),
        cwd=run_dir,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{python} failed:\n{result.stderr}")
    return tuple(float(word) for word in result.stdout.strip().splitlines()[-1].split())


def measure(
    python: Path, label: str, runs: int, scratch: Path, *, anchors: bool = False
) -> list[dict[str, Any]]:
    """Every measurement, ``runs`` fresh processes each, interleaved so noise spreads evenly.

    With ``anchors``, the OpenTelemetry SDK's and logfire's setups are measured too,
    in the same rounds. Each row has the median, minimum and maximum of the
    headline clock (the process's CPU time) and the medians of the other two.
    """
    codes = {**MEASUREMENTS, **(ANCHORS if anchors else {})}
    samples: dict[str, list[tuple[float, ...]]] = {name: [] for name in codes}
    for code in codes.values():  # untimed warm-up: writes the .pyc files
        time_once(python, code, scratch)
    for _ in range(runs):
        for name, code in codes.items():
            samples[name].append(tuple(s * 1000.0 for s in time_once(python, code, scratch)))
    rows = []
    for name, values in samples.items():
        cpu, thread, wall = ([value[i] for value in values] for i in range(3))
        rows.append(
            {
                "interpreter": label,
                "measurement": name,
                "median_ms": statistics.median(cpu),
                "min_ms": min(cpu),
                "max_ms": max(cpu),
                "thread_median_ms": statistics.median(thread),
                "wall_median_ms": statistics.median(wall),
                "runs": len(values),
            }
        )
    return rows


def _core_dependencies() -> str:
    """The text the no-logfire venv depends on: core dependencies, else the whole pyproject."""
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib
    except ImportError:  # Python 3.10: any change of pyproject.toml rebuilds the venv
        return text
    return json.dumps(tomllib.loads(text)["project"]["dependencies"])


def no_logfire_venv() -> Path:
    """The Python of a venv with spanline and its core dependencies only (built once).

    The key covers the dependencies, this interpreter's version and the repository
    path (the install is editable: it must point at this checkout).
    """
    key = f"{_core_dependencies()}|{platform.python_version()}|{REPO}"
    venv = CACHE / f"no-logfire-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if not (venv / BUILT_MARKER).is_file():
        print(f"building {venv} (once) ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, "-e", str(REPO)], check=True)
        (venv / BUILT_MARKER).write_text(key + "\n")
    return python


def has_logfire(python: Path) -> bool:
    """Whether ``python`` can import logfire (the cause of the slow first configure)."""
    code = "import importlib.util\nprint(importlib.util.find_spec('logfire') is not None)"
    result = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, check=True, env=child_env()
    )
    return result.stdout.strip() == "True"


def format_table(rows: list[dict[str, Any]]) -> str:
    """A fixed-width plain-text table, one row per interpreter and measurement."""
    header = (
        f"{'interpreter':<28} {'measurement':<36} {'cpu ms':>7} {'min':>6} {'max':>6} "
        f"{'thread':>7} {'wall':>7} {'runs':>5}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row['interpreter']:<28} {row['measurement']:<36} {row['median_ms']:>7.1f} "
            f"{row['min_ms']:>6.1f} {row['max_ms']:>6.1f} {row['thread_median_ms']:>7.1f} "
            f"{row['wall_median_ms']:>7.1f} {row['runs']:>5}"
        )
    return "\n".join(lines)


def headlines(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Import + configure of each interpreter against the targets (and the OTel SDK's setup).

    The verdict reads the process's CPU time; the wall-clock ratio is given beside it.
    """
    facts = []
    for row in rows:
        if row["measurement"] != HEADLINE:
            continue
        anchor = next(
            (
                other
                for other in rows
                if other["interpreter"] == row["interpreter"]
                and other["measurement"] == OTEL_ANCHOR
            ),
            None,
        )
        ratio = row["median_ms"] / anchor["median_ms"] if anchor else None
        wall_ratio = row["wall_median_ms"] / anchor["wall_median_ms"] if anchor else None
        facts.append(
            {
                "interpreter": row["interpreter"],
                "import_configure_ms": row["median_ms"],
                "import_configure_wall_ms": row["wall_median_ms"],
                "target_ms": TARGET_MS,
                "otel_sdk_setup_ms": anchor["median_ms"] if anchor else None,
                "ratio_to_otel_sdk": ratio,
                "wall_ratio_to_otel_sdk": wall_ratio,
                "target_ratio": TARGET_RATIO,
                "target_met": row["median_ms"] <= TARGET_MS
                and (ratio is None or ratio <= TARGET_RATIO),
            }
        )
    return facts


def format_headline(fact: dict[str, Any]) -> str:
    """One line: import + configure, its ratio to the OTel SDK's setup, and the verdict."""
    verdict = "met" if fact["target_met"] else "NOT met"
    ratio = fact["ratio_to_otel_sdk"]
    against = (
        f" = {ratio:.2f}x the OTel SDK's setup ({fact['otel_sdk_setup_ms']:.1f} ms);"
        f" wall clock {fact['import_configure_wall_ms']:.1f} ms"
        f" = {fact['wall_ratio_to_otel_sdk']:.2f}x"
        if ratio is not None
        else f"; wall clock {fact['import_configure_wall_ms']:.1f} ms"
    )
    return (
        f"import spanline + configure_observability(), {fact['interpreter']}: "
        f"{fact['import_configure_ms']:.1f} ms CPU{against} "
        f"(target <= {TARGET_MS:.0f} ms and <= {TARGET_RATIO}x, in CPU: {verdict})"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--runs", type=int, help=f"fresh processes per measurement ({DEFAULT_RUNS})"
    )
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_RUNS} runs: tests only")
    parser.add_argument("--skip-without", action="store_true", help="skip the venv without logfire")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = SMOKE_RUNS if args.smoke else DEFAULT_RUNS
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    """Measure with this interpreter and (unless skipped) without logfire; print the table."""
    args = parse_args(argv)
    interpreters = [(Path(sys.executable), "this venv")]
    if not args.skip_without:
        interpreters.append((no_logfire_venv(), "core deps only"))
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="spanline-bench-") as scratch:
        for python, name in interpreters:
            with_logfire = has_logfire(python)
            label = f"{name} ({'with' if with_logfire else 'no'} logfire)"
            rows += measure(python, label, args.runs, Path(scratch), anchors=with_logfire)
    facts = headlines(rows)
    print(f"python {platform.python_version()} on {os.cpu_count()} CPUs; ", end="")
    print(f"median of {args.runs} fresh processes; clocks read inside the child around")
    print("the measured statement: the process's CPU time (cpu, min, max), the calling")
    print("thread's CPU time (thread) and the wall clock (wall), all in ms")
    print(format_table(rows))
    for fact in facts:
        print(format_headline(fact))
    if args.json is not None:
        document = {"runs": args.runs, "results": rows, "headlines": facts}
        args.json.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
