"""Record the golden runs again: ``python tests/golden/runs/make_runs.py [--refold] [NAME ...]``.

Each run is a real program traced by spanline; its ``telemetry.jsonl`` is kept
as it was written, and ``summary.json`` is its fold by the spanline of the
day. ``tests/golden/test_golden_runs.py`` folds each file again and requires
that summary, so older runs keep folding while the code around them moves.
Record again only on purpose: when the summary gains a key (``--refold``
folds the kept files again and rewrites only their ``summary.json``), or the
line format changes with a conversion for old files.

Runs (names are the directory names, and so the folded run ids):

* ``eigenda``: the EigenDA example at ``--speed 10``;
* ``eigenda_fail``: the same with ``--fail`` (one agent fails);
* ``killed``: the EigenDA example killed with SIGKILL midway (300 lines in),
  so spans are left open and no process wrote its end;
* ``four_processes``: a parent and three forked children tracing into one run;
* ``otel_bridge``: OpenTelemetry SDK spans recorded through ``spanline.otel``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
EXAMPLE = ROOT / "examples" / "eigenda_profile.py"

FOUR_PROCESSES = """
import multiprocessing, sys
import spanline

def child(label):
    with spanline.span(f"worker-{label}", kind="agent"):
        for step in range(3):
            with spanline.span("lookup", kind="tool") as tool:
                tool.set_attribute("step", step)
            spanline.event("progress", label=label, step=step)

run = spanline.configure_observability(enabled=True, service_name="four")
with spanline.span("lead", kind="agent"):
    context = multiprocessing.get_context("fork")
    procs = [context.Process(target=child, args=(label,)) for label in "abc"]
    for proc in procs:
        proc.start()
    with spanline.span("lead-tool", kind="tool"):
        pass
    for proc in procs:
        proc.join()
        assert proc.exitcode == 0, proc.exitcode
spanline.shutdown()
"""

OTEL_BRIDGE = """
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Status, StatusCode
import spanline, spanline.otel

provider = TracerProvider()
tracer = provider.get_tracer("host-app")
spanline.configure_observability(enabled=True, service_name="bridged")
spanline.otel.install(provider)
with spanline.span("lead", kind="agent"):
    with tracer.start_as_current_span("http GET", attributes={"http.method": "GET"}) as span:
        span.set_attribute("http.status_code", 200)
        with spanline.span("parse", kind="tool"):
            pass
    with tracer.start_as_current_span("fails") as span:
        span.set_status(Status(StatusCode.ERROR, "boom"))
spanline.shutdown()
spanline.otel.uninstall()
provider.shutdown()
"""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPANLINE_")}
    env.pop("TRACEPARENT", None)
    return env


def _run(args: list[str], cwd: Path) -> None:
    subprocess.run(args, cwd=cwd, env=_env(), check=True, capture_output=True, timeout=300)


def _eigenda(*extra: str) -> Callable[[Path], None]:
    def make(cwd: Path) -> None:
        _run([sys.executable, str(EXAMPLE), "--speed", "10", "--no-dashboard", *extra], cwd)

    return make


def _killed(cwd: Path) -> None:
    """The example at normal speed, killed once 300 lines are written (mid-library phase)."""
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--no-dashboard"],
        cwd=cwd,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    runs = cwd / ".spanline" / "runs"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = [p for p in runs.glob("*/telemetry.jsonl") if not p.parent.is_symlink()]
            if found and found[0].read_bytes().count(b"\n") >= 300:
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("the example never reached its library phase")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


def _script(code: str) -> Callable[[Path], None]:
    def make(cwd: Path) -> None:
        _run([sys.executable, "-c", code], cwd)

    return make


RUNS: dict[str, Callable[[Path], None]] = {
    "eigenda": _eigenda(),
    "eigenda_fail": _eigenda("--fail"),
    "killed": _killed,
    "four_processes": _script(FOUR_PROCESSES),
    "otel_bridge": _script(OTEL_BRIDGE),
}


def record(name: str) -> None:
    """Run one program and keep its telemetry.jsonl, then fold it."""
    with tempfile.TemporaryDirectory(prefix="spanline-golden-") as directory:
        cwd = Path(directory)
        RUNS[name](cwd)
        runs = cwd / ".spanline" / "runs"
        (telemetry,) = [p for p in runs.glob("*/telemetry.jsonl") if not p.parent.is_symlink()]
        target = HERE / name
        target.mkdir(exist_ok=True)
        shutil.copyfile(telemetry, target / "telemetry.jsonl")
    refold(name)


def refold(name: str) -> None:
    """Fold a kept telemetry.jsonl and write its summary.json."""
    import orjson

    import spanline

    target = HERE / name
    summary = spanline.summarize_file(target / "telemetry.jsonl").to_dict()
    text = orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode() + "\n"
    (target / "summary.json").write_text(text)


def main(args: list[str]) -> int:
    only_fold = "--refold" in args
    names = [arg for arg in args if arg != "--refold"] or list(RUNS)
    for name in names:
        (refold if only_fold else record)(name)
        print(f"{'folded' if only_fold else 'recorded'} {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
