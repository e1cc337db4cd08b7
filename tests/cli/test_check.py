"""``spanline check``: rules files against runs, through the real ``spanline`` command."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import spanline
from spanline.testing import deterministic_sources
from tests._helpers import EXAMPLE, ROOT, run_interpreter
from tests.cli._entry import spanline as spanline_cli

RULES = ROOT / "examples" / "eigenda_rules.yaml"


@pytest.fixture(scope="module")
def example_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A normal run of the example and a run with ``--fail``, each in its own base."""
    runs = {}
    for label, flags in (("ok", ()), ("fail", ("--fail",))):
        base = tmp_path_factory.mktemp(f"eigenda-{label}")
        result = run_interpreter(
            str(EXAMPLE), "--speed", "50", "--no-dashboard", *flags, env={"SPANLINE_DIR": str(base)}
        )
        assert result.returncode == 0, result.stderr
        runs[label] = base / "runs" / "latest"
    return runs


def _rule_count() -> int:
    """The rules of the example file, counted from the file itself: one per limit."""
    import yaml

    data = yaml.safe_load(RULES.read_text())
    limits = len([key for key in data["run"] if key.startswith("max_")])
    for section in ("agents", "phases"):
        limits += sum(len([k for k in item if k.startswith("max_")]) for item in data[section])
    flags = sum(
        bool(data.get(key)) for key in ("no_errors", "planned_agents_finished", "no_stalls")
    )
    return limits + len(data["tools"]) + flags


def test_the_example_rules_pass_on_a_normal_run(example_runs: dict[str, Path]) -> None:
    result = spanline_cli("check", str(example_runs["ok"]), "--rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"All {_rule_count()} rule(s) passed." in result.stdout
    assert "FAIL" not in result.stdout


def test_a_failing_run_breaks_the_rules_and_names_them(
    example_runs: dict[str, Path], tmp_path: Path
) -> None:
    junit = tmp_path / "check.xml"
    run = example_runs["fail"]
    result = spanline_cli("check", str(run), "--rules", str(RULES), "--junit", str(junit))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 of" in result.stdout and "failed: no errors; every planned agent finished" in (
        result.stdout
    )
    # The failing agent, found independently in the log, is the evidence.
    lines = [json.loads(line) for line in (run / "telemetry.jsonl").read_text().splitlines()]
    failed = [e for e in lines if e["event"] == "span_end" and e["status"] == "error"]
    assert len(failed) == 1
    starts = {e["span_id"]: e for e in lines if e["event"] == "span_start"}
    name = starts[failed[0]["span_id"]]["name"]

    tree = ET.parse(junit)  # parses
    cases = tree.getroot().findall("./testsuite/testcase")
    assert len(cases) == _rule_count()
    failures = {case.get("name"): case.find("failure") for case in cases}
    broken = {rule for rule, failure in failures.items() if failure is not None}
    assert broken == {"no errors", "every planned agent finished"}
    for rule in broken:
        text = failures[rule].text or ""  # type: ignore[union-attr]
        assert failed[0]["span_id"] in text and name in text and "--fail" in text


def test_json_output_lists_every_rule(example_runs: dict[str, Path]) -> None:
    result = spanline_cli("check", str(example_runs["fail"]), "--rules", str(RULES), "--json")
    assert result.returncode == 1
    rules = json.loads(result.stdout)["rules"]
    assert len(rules) == _rule_count()
    assert [r["rule"] for r in rules if not r["passed"]] == [
        "no errors",
        "every planned agent finished",
    ]


def test_an_unknown_key_is_bad_input_naming_the_key_and_its_line(
    example_runs: dict[str, Path], tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("run:\n  max_tokens: 10\nagents:\n  - kind: agent\n    max_tokenz: 5\n")
    result = spanline_cli("check", str(example_runs["ok"]), "--rules", str(rules))
    assert result.returncode == 2
    assert result.stdout == ""
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "agents.0.max_tokenz (line 5)" in err and "unknown key 'max_tokenz'" in err


def test_an_unknown_top_level_key_in_toml_is_named(
    example_runs: dict[str, Path], tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text("no_stalls = true\nmax_speed = 3\n")
    result = spanline_cli("check", str(example_runs["ok"]), "--rules", str(rules))
    assert result.returncode == 2
    assert "max_speed" in result.stderr and "unknown key" in result.stderr


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("run: [1, 2\n", "not valid YAML (line 2)"),
        ("- a list\n", "a mapping of rule sections"),
        ("tools:\n  - name: read_file\n    max_calls: lots\n", "tools.0.max_calls (line 3)"),
        ("agents:\n  - max_tokens: 3\n", "exactly one of `name` or `kind`"),
        ("run:\n  max_cost_usd: -1\n", "run.max_cost_usd (line 2)"),
        ("tools:\n  - name: read_file\n    max_calls: true\n", "tools.0.max_calls (line 3)"),
        ("no_stalls: 1\n", "no_stalls (line 1): Input should be a valid boolean"),
        ("\nno_errors: {except_tools: search}\n", "no_errors.except_tools (line 2)"),
    ],
)
def test_a_bad_rules_file_is_bad_input(
    example_runs: dict[str, Path], tmp_path: Path, text: str, says: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(text)
    result = spanline_cli("check", str(example_runs["ok"]), "--rules", str(rules))
    assert result.returncode == 2, result.stderr
    assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_bad_run_or_a_missing_rules_file_is_bad_input(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("no_stalls: true\n")
    missing_run = spanline_cli("check", str(tmp_path / "nowhere"), "--rules", str(rules))
    assert missing_run.returncode == 2 and "Traceback" not in missing_run.stderr
    missing_rules = spanline_cli("check", str(tmp_path), "--rules", str(tmp_path / "no.yaml"))
    assert missing_rules.returncode == 2 and "no.yaml" in missing_rules.stderr


# -- rules on small runs written by spanline in this process ---------------------------------


def _traced_run(base: Path, run_id: str, *, searches: int, fail_tool: str | None = None) -> Path:
    run = spanline.configure_observability(
        enabled=True,
        service_name="rules",
        run_dir=base,
        run_id=run_id,
        synchronous=True,
        handle_signals=False,
        **deterministic_sources(),
    )
    assert run is not None
    tracer = spanline.get_tracer()
    with tracer.span("root", kind="run"), tracer.span("work", kind="phase"):
        try:
            with tracer.span("searcher", kind="agent"):
                for _ in range(searches):
                    with tracer.span("tool.search", kind="tool"):
                        pass
                if fail_tool is not None:
                    with tracer.span(f"tool.{fail_tool}", kind="tool"):
                        raise TimeoutError("\x1b[31mslow api_key=sk-abcdefghijklmnopqrstuvwx")
        except TimeoutError:
            pass
    spanline.shutdown()
    return run.directory


def test_errors_only_from_named_tools(tmp_path: Path) -> None:
    directory = _traced_run(tmp_path, "rules-20250101T000000-aaaaaa", searches=1, fail_tool="fetch")
    allowed = tmp_path / "allowed.yaml"
    allowed.write_text("no_errors:\n  except_tools: [fetch]\n")
    assert spanline_cli("check", str(directory), "--rules", str(allowed)).returncode == 0
    other = tmp_path / "other.yaml"
    other.write_text("no_errors:\n  except_tools: [search]\n")
    result = spanline_cli("check", str(directory), "--rules", str(other), "--json")
    assert result.returncode == 1
    (rule,) = json.loads(result.stdout)["rules"]
    # The tool's failure and the agent it travelled up through (same error) are both listed,
    # redacted and without the escape sequence.
    assert rule["offending"] == 2
    assert all("sk-abcdefghijkl" not in line and "\x1b" not in line for line in rule["evidence"])
    assert "tool.fetch" in rule["evidence"][1] or "tool.fetch" in rule["evidence"][0]


def test_tool_calls_at_most_n(tmp_path: Path) -> None:
    directory = _traced_run(tmp_path, "rules-20250101T000000-bbbbbb", searches=4)
    rules = tmp_path / "rules.toml"
    rules.write_text('[[tools]]\nname = "search"\nmax_calls = 3\n')
    result = spanline_cli("check", str(directory), "--rules", str(rules), "--json")
    assert result.returncode == 1
    (rule,) = json.loads(result.stdout)["rules"]
    assert rule["rule"] == "tool search: max_calls 3" and rule["offending"] == 4
    assert all("tool.search" in line for line in rule["evidence"])
    rules.write_text('[[tools]]\nname = "search"\nmax_calls = 4\n')
    assert spanline_cli("check", str(directory), "--rules", str(rules)).returncode == 0


def test_no_regression_beyond_a_percentage_against_a_baseline(tmp_path: Path) -> None:
    baseline = _traced_run(tmp_path, "rules-20250101T000000-cccccc", searches=2)
    slower = _traced_run(tmp_path, "rules-20250101T000000-dddddd", searches=20)
    rules = tmp_path / "rules.yaml"
    rules.write_text("baseline:\n  max_regression_pct: 50\n  min_ms: 0\n")
    same = spanline_cli("check", str(baseline), "--rules", str(rules), "--baseline", str(baseline))
    assert same.returncode == 0, same.stdout
    result = spanline_cli(
        "check", str(slower), "--rules", str(rules), "--baseline", str(baseline), "--json"
    )
    assert result.returncode == 1
    (rule,) = json.loads(result.stdout)["rules"]
    assert rule["rule"] == "no regression beyond 50% against the baseline"
    assert any(line.startswith("phase work: wall_ms") for line in rule["evidence"])
    without = spanline_cli("check", str(slower), "--rules", str(rules))
    assert without.returncode == 2 and "--baseline" in without.stderr


def test_hostile_names_are_cleaned_in_the_table_and_the_junit_file(tmp_path: Path) -> None:
    directory = _traced_run(tmp_path, "rules-20250101T000000-eeeeee", searches=0, fail_tool="x")
    rules = tmp_path / "rules.yaml"
    rules.write_text("no_errors: true\n")
    junit = tmp_path / "out.xml"
    result = spanline_cli("check", str(directory), "--rules", str(rules), "--junit", str(junit))
    assert result.returncode == 1
    assert "\x1b" not in result.stdout and "sk-abcdefghijkl" not in result.stdout
    failure = ET.parse(junit).getroot().find("./testsuite/testcase/failure")
    assert failure is not None and "sk-abcdefghijkl" not in (failure.text or "")


def test_the_documented_rules_file_is_valid_and_the_example_is_it_without_baseline() -> None:
    import re

    import yaml

    from spanline.cli._rules_file import parse_rules

    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    section = text.split("### The rules file", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, flags=re.S)
    assert block is not None
    documented = parse_rules(block.group(1))
    example = parse_rules(RULES.read_text())
    assert documented.baseline is not None
    assert documented.model_copy(update={"baseline": None}) == example
    assert yaml.safe_load(block.group(1))["no_errors"] is True


def test_agent_and_phase_limits_name_what_is_over(tmp_path: Path) -> None:
    directory = _traced_run(tmp_path, "rules-20250101T000000-ffffff", searches=8)
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "agents:\n  - kind: agent\n    max_duration_ms: 1000\n"
        "  - name: nobody\n    max_tokens: 1\n"
        "phases:\n  - name: work\n    max_duration_ms: 1000\n  - name: elsewhere\n"
        "    max_cost_usd: 1\n"
    )
    result = spanline_cli("check", str(directory), "--rules", str(rules), "--json")
    assert result.returncode == 1
    verdicts = {rule["rule"]: rule for rule in json.loads(result.stdout)["rules"]}
    # The deterministic clock moves 1 s per reading: every span lasts whole seconds.
    searcher = verdicts["agents of kind agent: max_duration_ms 1000"]
    assert not searcher["passed"] and "searcher" in searcher["evidence"][0]
    assert verdicts["agent nobody: max_tokens 1"]["evidence"] == ["no such agent in the run"]
    assert not verdicts["phase work: max_duration_ms 1000"]["passed"]
    assert verdicts["phase elsewhere: max_cost_usd 1"]["evidence"] == ["no such phase in the run"]


def test_the_table_shows_five_offending_spans_and_counts_the_rest(tmp_path: Path) -> None:
    directory = _traced_run(tmp_path, "rules-20250101T000000-abcdef", searches=9)
    rules = tmp_path / "rules.yaml"
    rules.write_text("tools:\n  - name: search\n    max_calls: 1\n")
    result = spanline_cli("check", str(directory), "--rules", str(rules))
    assert result.returncode == 1
    assert result.stdout.count("span ") == 5 and "and 4 more" in result.stdout
    assert "1 of 1 rule(s) failed: tool search: max_calls 1" in result.stdout


def test_a_junit_file_that_cannot_be_written_is_bad_input(tmp_path: Path) -> None:
    directory = _traced_run(tmp_path, "rules-20250101T000000-bcdefa", searches=1)
    rules = tmp_path / "rules.yaml"
    rules.write_text("no_stalls: true\n")
    where = tmp_path / "missing" / "out.xml"
    result = spanline_cli("check", str(directory), "--rules", str(rules), "--junit", str(where))
    assert result.returncode == 2 and "cannot write" in result.stderr


def test_a_stalled_agent_breaks_no_stalls(tmp_path: Path) -> None:
    """The example with ``--hang``: one agent silent for 3 s, stalls counted after 1 s."""
    base = tmp_path / "base"
    result = run_interpreter(
        str(EXAMPLE), "--speed", "50", "--no-dashboard", "--hang", "lib-encoding=3",
        env={"SPANLINE_DIR": str(base), "SPANLINE_STALL_S": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    run = base / "runs" / "latest"
    rules = tmp_path / "rules.yaml"
    rules.write_text("no_stalls: true\nno_errors: true\n")
    checked = spanline_cli("check", str(run), "--rules", str(rules), "--json")
    assert checked.returncode == 1
    errors, stalls = json.loads(checked.stdout)["rules"]  # sections in their fixed order
    assert not stalls["passed"] and errors["passed"]
    assert any("lib-encoding" in line for line in stalls["evidence"])


def test_planned_agents_are_matched_as_the_summary_matches_them(
    example_runs: dict[str, Path],
) -> None:
    """The rule's plan matching agrees with the summary's counts on both example runs."""
    from spanline.testing import load_run

    for run in example_runs.values():
        facts = load_run(run).facts
        plan = json.loads((run / "run_summary.json").read_text())["plan"]
        started = [p for p in facts.plans if p.span is not None]
        ended = [p for p in started if p.span is not None and p.span.status is not None]
        assert (len(facts.plans), len(started), len(ended)) == (
            plan["planned"],
            plan["started"],
            plan["done"],
        )
