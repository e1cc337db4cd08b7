"""``spanline analyze``: write ANALYSIS_REPORT.md into a run directory and say where.

The analysis is a fold (:mod:`spanline.folds.analysis`); this module picks the
runs, writes the report atomically and prints its path (or, with ``--json``, the
analysis as JSON). Every exit is 0, or 2 for bad input: an unknown run, a
baseline that cannot be found or read, a report that cannot be written.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from spanline._capture._scrub import redact
from spanline._lines._fileio import write_atomic
from spanline._runs._store import Run, list_runs, read_run_start
from spanline.cli._analyze_render import render_markdown
from spanline.cli._app import BAD_INPUT, CliError, cli, find_run, read_options
from spanline.cli._read import garbage_collector_paused
from spanline.exceptions import SpanlineError
from spanline.folds.analysis import Analysis, AnalysisFold, analyze_fold
from spanline.folds.compare import RunProfile

__all__ = ["analyze_command", "analyze_run", "previous_run"]


def previous_run(run: Run) -> Run:
    """The run of the same service created just before ``run``, in the same base.

    Raises:
        CliError: there is none (bad input).
    """
    service = (read_run_start(run) or {}).get("service_name")
    runs = list_runs(run.base)
    names = [r.run_id for r in runs]
    later = names.index(run.run_id) + 1 if run.run_id in names else 0
    for older in runs[later:]:
        if (read_run_start(older) or {}).get("service_name") == service:
            return older
    raise CliError(f"no previous run of service {service!r} before {run.run_id}", BAD_INPUT)


def _fold(run: Run, what: str, *, profile: bool) -> tuple[AnalysisFold, int]:
    """Fold one run; every way of not reading it is bad input (exit 2)."""
    from spanline.folds import JsonlTail

    fold = AnalysisFold(run_id=run.run_id, profile=profile)
    try:
        with garbage_collector_paused():  # this process only runs the command
            tail = JsonlTail(run.telemetry_path)
            events = 0
            for batch in tail.batches(final=True):
                events += len(batch)
                fold.extend(batch)
    except (SpanlineError, OSError, ValueError) as exc:
        raise CliError(f"{what}: {str(exc).splitlines()[0] or type(exc).__name__}") from None
    if events == 0:
        bad = f", {len(tail.problems)} malformed line(s)" if tail.problems else ""
        raise CliError(f"{what} {run.run_id} has no events{bad}: {run.telemetry_path}")
    return fold, len(tail.problems)


def analyze_run(run: Run, baseline: Run | None = None) -> Analysis:
    """The analysis of ``run``, against ``baseline`` when given.

    Raises:
        CliError: a run that cannot be read (bad input).
    """
    fold, skipped = _fold(run, "run", profile=baseline is not None)
    profile: RunProfile | None = None
    if baseline is not None:
        profile = _fold(baseline, "baseline", profile=True)[0].result().profile
    return analyze_fold(fold.result(), profile, skipped_lines=skipped)


def _baseline(target: str | None, run: Run, directory: Path | None) -> Run | None:
    if target is None:
        return None
    if target == "previous":
        return previous_run(run)
    try:
        return find_run(target, directory)
    except (SpanlineError, OSError, ValueError) as exc:
        raise CliError(f"baseline: {str(exc).splitlines()[0]}", BAD_INPUT) from None


@cli.command("analyze")
@click.argument("target", metavar="[RUN]", required=False)
@click.option(
    "--baseline",
    metavar="RUN",
    help="compare against RUN (an id, a path, or 'previous': the run of the same service "
    "before this one)",
)
@read_options
def analyze_command(
    target: str | None, baseline: str | None, directory: Path | None, as_json: bool
) -> int:
    """Analyse RUN (default: the latest) and write ANALYSIS_REPORT.md into its directory.

    The report answers why the run was slow, where the money went and what went
    wrong, each finding with its numbers and span ids. Prints the report's path
    (--json: the analysis). Exits 0, or 2 on bad input.
    """
    from spanline.cli._redacted import use_environment_rules

    use_environment_rules()  # the report is redacted with the rules of now, the user's too
    run = find_run(target, directory)
    base = _baseline(baseline, run, directory)
    if base is not None and base.directory == run.directory:
        raise CliError("the baseline is the run itself", BAD_INPUT)
    analysis = analyze_run(run, base)
    path = run.report_path
    try:
        write_atomic(path, render_markdown(analysis).encode("utf-8"))
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}", BAD_INPUT) from None
    if as_json:
        data = redact({**analysis.to_dict(), "report": str(path)})
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(f"{path}\n")
    return 0
