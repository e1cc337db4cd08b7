"""spanline.testing's trace assertions: they read like the rules of ``spanline check``,
evaluate the same facts, and their failures name the offending spans."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

import spanline
from spanline.testing import TracedRun, capture_spans, load_run
from tests._helpers import run_cli, run_interpreter

tracer = spanline.get_tracer()


def _analysis(*, fail: str | None = None, searches: int = 2) -> TracedRun:
    """Three library agents (one may fail), each with searches and one priced LLM call."""
    with capture_spans(deterministic_ids=True) as captured:
        with tracer.span("lead", kind="run"):
            for name in ("lib-a", "lib-b", "lib-c"):
                try:
                    with tracer.span(name, kind="library-analysis"):
                        for _ in range(searches):
                            with tracer.span("tool.search", kind="tool"):
                                pass
                        with tracer.span("llm.read", kind="llm") as llm:
                            llm.set_attribute("gen_ai.usage.cost_usd", 0.02)
                            llm.add(tokens=100)
                        if name == fail:
                            raise RuntimeError(f"{name}: no answer")
                except RuntimeError:
                    pass
    return captured.traced()


def test_helpers_pass_on_a_good_run() -> None:
    run = _analysis()
    assert run.agents(kind="library-analysis").all_ok()
    assert len(run.agents(kind="library-analysis")) == 3
    assert run.tool("search").calls == 6
    assert run.tool("search").calls <= 6
    assert run.cost_usd == pytest.approx(0.06)
    assert run.cost_usd < 0.10
    assert run.tokens == 300
    assert run.no_errors() and run.no_stalls()


def test_all_ok_names_the_failed_agent_its_id_and_error() -> None:
    run = _analysis(fail="lib-b")
    (failed,) = [span for span in run.errors if span.name == "lib-b"]
    with pytest.raises(AssertionError) as caught:
        run.agents(kind="library-analysis").all_ok()
    message = str(caught.value)
    assert "1 of 3 agents of kind library-analysis not ok" in message
    assert failed.span_id in message and "RuntimeError: lib-b: no answer" in message
    assert "lib-a" not in message
    with pytest.raises(AssertionError, match="no agents of kind synthesis"):
        run.agents(kind="synthesis").all_ok()


def test_no_errors_fails_as_the_rule_does() -> None:
    run = _analysis(fail="lib-c")
    with pytest.raises(AssertionError) as caught:
        run.no_errors()
    assert "rule failed: no errors: 1 failed span(s)" in str(caught.value)
    assert "lib-c" in str(caught.value)


def test_counts_and_amounts_show_their_spans_in_a_failed_assertion() -> None:
    run = _analysis(searches=2)
    calls = run.tool("search").calls
    ids = [span.span_id for span in run.tool("search").spans]
    assert len(ids) == 6
    assert repr(calls).startswith("6 [") and all(span_id in repr(calls) for span_id in ids)
    cost = run.cost_usd
    assert repr(cost).startswith("0.06") and "lib-a" in repr(cost)


def test_pytest_shows_the_offending_spans(tmp_path: Path) -> None:
    """A user's failing assertion, run by pytest: its report lists the calls' span ids."""
    test = tmp_path / "test_user.py"
    test.write_text(
        textwrap.dedent(
            """
            import spanline
            from spanline.testing import capture_spans

            def test_search_budget():
                with capture_spans() as captured:
                    for _ in range(4):
                        with spanline.span("tool.search", kind="tool"):
                            pass
                run = captured.traced()
                assert run.tool("search").calls <= 3
            """
        )
    )
    result = run_interpreter(
        "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test), cwd=tmp_path
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "assert 4 [span " in result.stdout and "tool.search" in result.stdout


def test_helpers_and_check_give_the_same_verdicts(tmp_path: Path) -> None:
    """The same rules, through ``spanline check`` and through ``TracedRun.check``."""
    program = tmp_path / "program.py"
    program.write_text(
        textwrap.dedent(
            """
            import spanline
            spanline.configure_observability(enabled=True, service_name="same", synchronous=True)
            tracer = spanline.get_tracer()
            with tracer.span("lead", kind="run"):
                for number in range(3):
                    with tracer.span("tool.search", kind="tool"):
                        pass
                try:
                    with tracer.span("lib-x", kind="library-analysis"):
                        raise ValueError("bad")
                except ValueError:
                    pass
            """
        )
    )
    base = tmp_path / "base"
    assert run_interpreter(str(program), env={"SPANLINE_DIR": str(base)}).returncode == 0
    rules = {"tools": [{"name": "search", "max_calls": 2}], "no_errors": True, "no_stalls": True}
    (tmp_path / "rules.json.yaml").write_text(json.dumps(rules))  # JSON is YAML
    result = run_cli(
        "check", "--dir", str(base), "--rules", str(tmp_path / "rules.json.yaml"), "--json"
    )
    verdicts = {rule["rule"]: rule["passed"] for rule in json.loads(result.stdout)["rules"]}
    assert verdicts == {"tool search: max_calls 2": False, "no errors": False, "no stalls": True}

    run = load_run(base / "runs" / "latest")
    with pytest.raises(AssertionError) as caught:
        run.check(rules)
    failed = {line.split(": ")[1] for line in str(caught.value).splitlines() if "rule" in line}
    assert failed == {"tool search", "no errors"}
    assert run.check({"no_stalls": True})


def test_tool_failures_and_agent_maxima() -> None:
    with capture_spans(deterministic_ids=True) as captured:
        with tracer.span("solo", kind="agent"):
            for fail in (False, True, True):
                try:
                    with tracer.span("tool.fetch", kind="tool"):
                        if fail:
                            raise OSError("unreachable")
                except OSError:
                    pass
    run = captured.traced()
    failures = run.tool("fetch").failures
    assert failures == 2 and "OSError: unreachable" in repr(failures)
    assert run.agents(name="solo").max_duration_ms == run.agents().max_duration_ms > 0
    assert run.no_errors(except_tools=["fetch"])
    assert run.tool("never").calls == 0
