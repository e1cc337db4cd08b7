"""The EigenDA analysis run profile of a multi-agent code analysis, simulated, with tracing on.

A lead agent runs discovery, 9 parallel depth-0 library agents, 15 sequential
depth-N library agents, 10 parallel application agents and a synthesizer, then
writes a manifest. Durations, tokens and tool uses are randomized (seeded); the
whole run takes about 10 s (``--speed 10`` makes it ~1 s). ``--slow PHASE=F``
multiplies the simulated durations of one phase by F (for ``spanline compare``);
``--hang AGENT=S`` makes one agent go silent for S real seconds midway (for stall
detection: ``SPANLINE_STALL_S`` below S shows it under ``stalls``).
``--deterministic`` makes the log reproducible with the testing helpers
(``spanline.testing.deterministic_sources``: span ids 1, 2, 3..., a clock that
advances 1 s per reading) and the run id ``eigenda-deterministic``: simulated
waits yield to the event loop instead of sleeping, so two runs write the same
spans at the same times and ``spanline analyze`` writes the same report.

The live dashboard is on (``configure_observability(dashboard=True)``; it needs
``pip install 'spanline[dashboard]'``): its address is printed while the run
runs, and spanline prints the ``spanline serve`` command that reopens it as the
program exits.
``--serve`` keeps serving it after the run until Ctrl-C; ``--no-dashboard``
turns it off.

Run:  python examples/eigenda_profile.py [--speed F] [--fail] [--seed N] [--slow PHASE=F]
                                         [--hang AGENT=S] [--deterministic]
                                         [--serve | --no-dashboard]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import spanline

DEPTH_0 = ["encoding", "crypto", "kzg", "fft", "rs", "common", "logging", "metrics", "bn254"]
DEPTH_N = [
    "core", "disperser-client", "node-client", "retriever-lib", "churner-lib",
    "indexer", "chainio", "relay-lib", "api-proto", "geth-bindings",
    "payments", "meterer", "store", "blob-verifier", "signing",
]  # fmt: skip
APPS = [
    "disperser", "node", "retriever", "churner", "relay",
    "controller", "encoder", "batcher", "dataapi", "proxy",
]  # fmt: skip
MODEL = "claude-sonnet-4"
#: The phase spans, in order: the names ``--slow`` accepts.
PHASES = ("discovery", "library_depth_0", "library_depth_n", "application_analysis", "synthesis")

tracer = spanline.get_tracer()


@dataclass
class Sim:
    """Randomness and time scaling of one simulated run."""

    rng: random.Random
    speed: float
    #: Phase name -> factor its simulated durations are multiplied by (``--slow``).
    slow: dict[str, float] = field(default_factory=dict)
    #: Agent name -> real seconds it hangs midway, with no span or event (``--hang``).
    hang: dict[str, float] = field(default_factory=dict)
    factor: float = 1.0
    #: Waits only yield to the event loop (``--deterministic``): no real time passes.
    instant: bool = False

    async def wait(self, seconds: float) -> None:
        await asyncio.sleep(0 if self.instant else seconds * self.factor / self.speed)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """A phase span; durations inside it are scaled by its ``--slow`` factor."""
        self.factor = self.slow.get(name, 1.0)
        try:
            with tracer.span(name, kind="phase"):
                yield
        finally:
            self.factor = 1.0


async def run_agent(
    sim: Sim, name: str, kind: str, seconds: float, *, writes: int = 1, fail: bool = False
) -> None:
    """One sub-agent: a few tool calls and model calls, then an analysis written."""
    async with tracer.span(name, kind=kind, component=name.split("-", 1)[-1]) as agent:
        steps = sim.rng.randint(3, 7)
        for step in range(steps):
            with tracer.span("tool.read_file", kind="tool", component=agent.component) as tool:
                tool.add(tool_uses=1)
                tool.set_attribute("tool.name", "read_file")
                await sim.wait(seconds * 0.3 / steps)
            with tracer.span("llm.analyze", kind="llm", component=agent.component) as llm:
                input_tokens = sim.rng.randint(3_000, 12_000)
                output_tokens = sim.rng.randint(400, 2_500)
                llm.set_attributes(
                    {
                        "gen_ai.request.model": MODEL,
                        "gen_ai.usage.input_tokens": input_tokens,
                        "gen_ai.usage.output_tokens": output_tokens,
                    }
                )
                llm.add(tokens=input_tokens + output_tokens)
                await sim.wait(seconds * 0.7 / steps)
            if step == 1 and name in sim.hang:
                await asyncio.sleep(sim.hang[name])  # silent: nothing in its subtree
            if fail and step == 1:
                raise RuntimeError(f"{name}: model returned an unusable analysis (--fail)")
        agent.add(analyses_written=writes)


#: Every agent the lead starts: (name, kind, phase), in start order.
AGENTS = (
    *((f"lib-{lib}", "library-analysis", "library_depth_0") for lib in DEPTH_0),
    *((f"lib-{lib}", "library-analysis", "library_depth_n") for lib in DEPTH_N),
    *((f"app-{app}", "application-analysis", "application_analysis") for app in APPS),
    ("synthesizer", "synthesis", "synthesis"),
)


def declare_agents(lead: spanline.Span | spanline.NoOpSpan) -> None:
    """Declare the 35 agents up front, so a live view shows those not started as queued."""
    for name, kind, phase in AGENTS:
        tracer.plan(name, kind=kind, parent=lead, phase=phase)


async def orchestrate(sim: Sim, fail: bool) -> list[str]:
    """The lead agent: phases in order; returns the names of agents that failed."""
    failed: list[str] = []
    rng = sim.rng
    with tracer.span("eigenda-analysis", kind="run", component="lead-agent") as lead:
        declare_agents(lead)
        with sim.phase("discovery"):
            with tracer.span("discovery-engine", kind="discovery", component="discovery"):
                await sim.wait(0.4)
        tracer.phase("discovery-complete", libraries=len(DEPTH_0) + len(DEPTH_N), applications=10)

        with sim.phase("library_depth_0"):
            await asyncio.gather(
                *(
                    run_agent(sim, f"lib-{lib}", "library-analysis", rng.uniform(1.2, 1.9))
                    for lib in DEPTH_0
                )
            )
        tracer.phase("library-depth-0-complete", libraries=len(DEPTH_0))

        failing = rng.randrange(len(DEPTH_N)) if fail else -1
        with sim.phase("library_depth_n"):
            for index, lib in enumerate(DEPTH_N):
                try:
                    await run_agent(
                        sim, f"lib-{lib}", "library-analysis", rng.uniform(0.2, 0.35),
                        fail=index == failing,
                    )  # fmt: skip
                except RuntimeError:
                    failed.append(f"lib-{lib}")  # the lead agent carries on without it
        tracer.phase("library-depth-n-complete", libraries=len(DEPTH_N))

        with sim.phase("application_analysis"):
            await asyncio.gather(
                *(
                    run_agent(sim, f"app-{app}", "application-analysis", rng.uniform(1.2, 1.8))
                    for app in APPS
                )
            )
        tracer.phase("application-analysis-complete", applications=len(APPS))

        with sim.phase("synthesis"):
            await run_agent(sim, "synthesizer", "synthesis", 1.0, writes=11)
        with tracer.span("manifest-write", kind="io", component="manifest"):
            await sim.wait(0.1)
        tracer.phase("synthesis-complete")
    return failed


def main(argv: list[str] | None = None) -> int:
    """Run the simulation; print its summary panel, its directory and, last, how to reopen
    its dashboard."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        metavar="F",
        help="run F times faster (default 1: about 10 s; 10 takes about 1 s)",
    )
    parser.add_argument("--fail", action="store_true", help="make one depth-N agent fail")
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    parser.add_argument(
        "--deterministic",
        action="store_true",
        help="reproducible log: ids 1, 2, 3..., a clock of 1 s per reading, run id "
        "eigenda-deterministic, no real waits (the dashboard is off unless --serve)",
    )
    parser.add_argument(
        "--slow",
        action="append",
        default=[],
        metavar="PHASE=F",
        help=f"multiply the durations of one phase by F (phases: {', '.join(PHASES)})",
    )
    parser.add_argument(
        "--hang",
        action="append",
        default=[],
        metavar="AGENT=S",
        help="make one agent (e.g. lib-core) hang for S real seconds midway",
    )
    dashboard = parser.add_mutually_exclusive_group()
    dashboard.add_argument(
        "--serve",
        action="store_true",
        help="keep serving the dashboard after the run, until Ctrl-C",
    )
    dashboard.add_argument(
        "--no-dashboard", action="store_true", help="do not serve the live dashboard"
    )
    args = parser.parse_args(argv)
    if args.speed <= 0:
        parser.error("--speed must be positive")
    slow = _parse_slow(parser, args.slow)
    hang = _parse_hang(parser, args.hang)

    run = spanline.configure_observability(
        enabled=True,
        # The dashboard prints its address on stderr.
        dashboard=not args.no_dashboard and (args.serve or not args.deterministic),
        **_deterministic(args.deterministic),
        service_name="eigenda",
        query="Analyze the EigenDA repository: libraries, applications, architecture",
        config={"libraries": {"depth_0": DEPTH_0, "depth_n": DEPTH_N}, "applications": APPS},
        cli_args=vars(args),
        source_repo="https://github.com/Layr-Labs/eigenda",
        source_commit="61019b4",
    )
    assert run is not None
    print(f"run directory:  {run.directory}")
    print(f"telemetry:      {run.telemetry_path}")
    sys.stdout.flush()

    sim = Sim(random.Random(args.seed), args.speed, slow, hang, instant=args.deterministic)
    failed = asyncio.run(orchestrate(sim, args.fail))
    spanline.shutdown()
    print_summary(run.directory)
    if failed:
        print(f"failed agents:  {', '.join(failed)}")
    # Last: the run directory here, then (from spanline, as the program exits) the
    # command that reopens the dashboard, so both are still on screen.
    print(f"run directory:  {run.directory}")
    sys.stdout.flush()
    if args.serve:
        return serve(run.base, run.run_id)
    return 0


def _deterministic(on: bool) -> dict[str, Any]:
    """The ``configure_observability`` arguments of ``--deterministic`` (none without it)."""
    if not on:
        return {}
    from spanline.testing import deterministic_sources

    return {"run_id": "eigenda-deterministic", **deterministic_sources()}


def print_summary(run_directory: Path) -> None:
    """Print the run's summary panel, exactly as ``spanline summary`` draws it."""
    from spanline.cli import main as spanline_command

    sys.stdout.flush()
    spanline_command(["summary", str(run_directory)])
    sys.stdout.flush()


def serve(base: Path, run_id: str) -> int:
    """Serve the finished run's dashboard until Ctrl-C (--serve)."""
    from spanline.dashboard import DashboardUnavailable, start_in_thread

    try:
        server = start_in_thread(base, default_run=run_id)
    except DashboardUnavailable as exc:
        print(f"eigenda_profile: {exc}", file=sys.stderr)
        return 1
    print(f"serving:        {server.url} (Ctrl-C to stop)")
    sys.stdout.flush()
    try:
        while server.running:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def _parse_slow(parser: argparse.ArgumentParser, values: list[str]) -> dict[str, float]:
    """``PHASE=F`` arguments as {phase: factor}; a bad one is a usage error."""
    slow: dict[str, float] = {}
    for value in values:
        name, sep, factor = value.partition("=")
        if not sep or name not in PHASES:
            parser.error(f"--slow expects PHASE=F with PHASE one of {', '.join(PHASES)}: {value!r}")
        try:
            slow[name] = float(factor)
        except ValueError:
            parser.error(f"--slow {value!r}: F must be a number")
        if not slow[name] > 0:
            parser.error(f"--slow {value!r}: F must be positive")
    return slow


def _parse_hang(parser: argparse.ArgumentParser, values: list[str]) -> dict[str, float]:
    """``AGENT=S`` arguments as {agent name: seconds}; a bad one is a usage error."""
    names = {name for name, _, _ in AGENTS}
    hang: dict[str, float] = {}
    for value in values:
        name, sep, seconds = value.partition("=")
        if not sep or name not in names:
            parser.error(
                f"--hang expects AGENT=S with AGENT an agent name (lib-core...): {value!r}"
            )
        try:
            hang[name] = float(seconds)
        except ValueError:
            parser.error(f"--hang {value!r}: S must be a number")
        if not hang[name] >= 0:
            parser.error(f"--hang {value!r}: S must not be negative")
    return hang


if __name__ == "__main__":
    sys.exit(main())
