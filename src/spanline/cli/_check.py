"""``spanline check``: a run against a rules file, for CI; exit 1 when a rule fails.

The rules are evaluated by :mod:`spanline.folds.rules` on the run's facts (the
same facts the helpers of ``spanline.testing`` assert on). Output is bounded
and redacted: every quoted name or error message passes the redaction
patterns, loses its control characters and is cut to a fixed length, and a
rule shows its first few offending spans with the count of the rest.
"""

from __future__ import annotations

import sys
import unicodedata
from pathlib import Path
from typing import Any

import click

from spanline._capture._redact import redacted_window
from spanline._runs._store import Run
from spanline.cli._app import BAD_INPUT, DIR_HELP, FINDING, CliError, cli, console, find_run
from spanline.cli._format import to_json
from spanline.cli._read import fold_run, garbage_collector_paused, sweep_blobs
from spanline.cli._rules_file import load_rules
from spanline.exceptions import SpanlineError
from spanline.folds._facts import FactsFold, RunFacts
from spanline.folds.compare import ProfileFold, RunProfile
from spanline.folds.rules import RuleResult, evaluate

__all__ = ["check", "clean", "junit_xml"]

#: Longest quoted text (a name, an error message) in the table or the XML.
TEXT_MAX = 300
#: Offending spans shown per rule in the table (JSON and JUnit keep up to the fold's bound).
SHOWN = 5


def clean(text: str, limit: int = TEXT_MAX) -> str:
    """Text fit to print: secrets redacted, control characters as ``?``, cut to ``limit``."""
    text = redacted_window(text, limit)  # a long message: only what is shown is redacted
    shown = "".join("?" if unicodedata.category(ch)[0] == "C" else ch for ch in text[: limit + 1])
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


@cli.command()
@click.argument("run", required=False)
@click.option(
    "--rules",
    "rules_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="rules file (YAML, or TOML when it ends in .toml)",
)
@click.option("--baseline", help="run to compare against, for the regression rule")
@click.option(
    "--junit", "junit_path", type=click.Path(path_type=Path, dir_okay=False), help="write JUnit XML"
)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.option("--dir", "directory", type=click.Path(path_type=Path), help=DIR_HELP)
def check(
    run: str | None,
    rules_path: Path,
    baseline: str | None,
    junit_path: Path | None,
    as_json: bool,
    directory: Path | None,
) -> int:
    """Check RUN (default: the latest) against the rules of a rules file.

    Exits 0 when every rule passes, 1 when one fails, 2 when the rules file or a run
    is bad.
    """
    from spanline.cli._redacted import use_environment_rules

    use_environment_rules()  # what is quoted is redacted with the rules of now, the user's too
    spec = load_rules(rules_path)
    if spec.baseline is not None and baseline is None:
        raise CliError("the rules compare against a baseline: pass --baseline RUN", BAD_INPUT)
    compared = baseline is not None or spec.baseline is not None
    facts = _facts(run, directory, profile=bool(spec.phases) or compared)
    base_profile = _profile(baseline, directory) if baseline is not None else None
    if base_profile is not None and spec.baseline is None:
        from spanline.folds.rules import BaselineRule

        spec = spec.model_copy(update={"baseline": BaselineRule()})
    results = evaluate(spec, facts, baseline=base_profile)
    if junit_path is not None:
        _write_junit(junit_path, results, facts.summary.run_id)
    if as_json:
        payload = {"run_id": facts.summary.run_id, "rules": [_json(r) for r in results]}
        sys.stdout.write(to_json(payload))
    else:
        _render(results, facts, console())
    return FINDING if any(not result.passed for result in results) else 0


def _find(target: str | None, directory: Path | None) -> Run:
    try:
        found = find_run(target, directory)
    except (SpanlineError, OSError, ValueError) as exc:
        raise CliError(str(exc).splitlines()[0] or type(exc).__name__, BAD_INPUT) from None
    sweep_blobs(found.directory)
    return found


def _facts(target: str | None, directory: Path | None, *, profile: bool) -> RunFacts:
    """The run's facts; its profile only when a phase or a baseline rule needs it."""
    found = _find(target, directory)
    fold = FactsFold(run_id=found.run_id, profile=profile)
    with garbage_collector_paused():  # a record per span, no cycles (as analyze reads)
        fold_run(found, fold)
    return fold.result()


def _profile(target: str, directory: Path | None) -> RunProfile:
    """The baseline: its profile is all the regression rule compares."""
    found = _find(target, directory)
    fold = ProfileFold(run_id=found.run_id)
    with garbage_collector_paused():
        fold_run(found, fold)
    return fold.result()


def _json(result: RuleResult) -> dict[str, Any]:
    data = result.to_dict()
    data["evidence"] = [clean(line) for line in data["evidence"]]
    return data


def _render(results: list[RuleResult], facts: RunFacts, out: Any) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    out.print(Text(f"Run: {clean(str(facts.summary.run_id))}"))
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("rule", overflow="fold", ratio=2)
    table.add_column("result", no_wrap=True)
    table.add_column("measured", overflow="fold", ratio=3)
    for result in results:
        verdict = Text("pass", style="green") if result.passed else Text("FAIL", style="bold red")
        lines = [clean(result.detail)]
        lines += [clean(line) for line in result.evidence[:SHOWN]]
        if result.offending > SHOWN:
            lines.append(f"and {result.offending - SHOWN} more")
        table.add_row(Text(clean(result.rule)), verdict, Text("\n".join(lines)))
    out.print(table)
    failed = [result for result in results if not result.passed]
    if failed:
        names = "; ".join(clean(result.rule, 80) for result in failed[:10])
        more = f" (and {len(failed) - 10} more)" if len(failed) > 10 else ""
        out.print(Text(f"{len(failed)} of {len(results)} rule(s) failed: {names}{more}"))
    else:
        out.print(Text(f"All {len(results)} rule(s) passed."))


def junit_xml(results: list[RuleResult], run_id: str | None) -> bytes:
    """JUnit XML: one test suite for the run, one test case per rule.

    A failed rule's ``failure`` element carries the measured figure as its message
    and the offending spans, one per line, as its text.

    Returns:
        The document, UTF-8 encoded.
    """
    import xml.etree.ElementTree as ET

    failures = sum(not result.passed for result in results)
    suites = ET.Element("testsuites", tests=str(len(results)), failures=str(failures))
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=f"spanline check {clean(str(run_id))}",
        tests=str(len(results)),
        failures=str(failures),
        errors="0",
    )
    for result in results:
        case = ET.SubElement(suite, "testcase", classname="spanline.check", name=clean(result.rule))
        if not result.passed:
            failure = ET.SubElement(case, "failure", message=clean(result.detail), type="rule")
            lines = [clean(line) for line in result.evidence]
            if result.offending > len(result.evidence):
                lines.append(f"and {result.offending - len(result.evidence)} more")
            failure.text = "\n".join(lines)
    document: bytes = ET.tostring(suites, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _write_junit(path: Path, results: list[RuleResult], run_id: str | None) -> None:
    try:
        path.write_bytes(junit_xml(results, run_id))
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}", BAD_INPUT) from None
