"""A three-turn conversation, its second turn restarted once, with the real OpenAI and
Anthropic SDK clients against the loopback server: every view shows 3 turns and 4
attempts, totals equal the server's usage, and the failed attempt's cost is waste."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import spanline
from tests._helpers import read_lines, run_cli, shipped_prices
from tests.cli.test_export_mlflow import mlflow_python  # noqa: F401  (a fixture)
from tests.dashboard_page.conftest import (  # noqa: F401  (browser and watched: fixtures)
    Watched,
    browser,
    serve,
    watched,
)
from tests.instrument._providers import (
    ANTHROPIC_USAGE,
    OPENAI_USAGE,
    ProviderServer,
)
from tests.instrument.conftest import anthropic_client, openai_client

SESSION = "conv-1"


def _openai_cost() -> float:
    price = shipped_prices()["gpt-4o"]
    cached = OPENAI_USAGE["prompt_tokens_details"]["cached_tokens"]
    plain = OPENAI_USAGE["prompt_tokens"] - cached
    return (
        plain * price["input"]
        + cached * price["cached_input"]
        + OPENAI_USAGE["completion_tokens"] * price["output"]
    ) / 1e6


def _anthropic_cost() -> float:
    price = shipped_prices()["claude-sonnet-4-5"]
    usage = ANTHROPIC_USAGE
    return (
        usage["input_tokens"] * price["input"]
        + usage["cache_read_input_tokens"] * price["cached_input"]
        + usage["cache_creation_input_tokens"] * price["cache_write"]
        + usage["output_tokens"] * price["output"]
    ) / 1e6


#: What one attempt spends: one OpenAI call by the orchestrator, one Anthropic call
#: inside a tool of its sub-agent (input counts cache reads and writes).
ATTEMPT_TOKENS = (
    OPENAI_USAGE["prompt_tokens"]
    + OPENAI_USAGE["completion_tokens"]
    + ANTHROPIC_USAGE["input_tokens"]
    + ANTHROPIC_USAGE["cache_read_input_tokens"]
    + ANTHROPIC_USAGE["cache_creation_input_tokens"]
    + ANTHROPIC_USAGE["output_tokens"]
)


def _conversation(base: Path, server: ProviderServer) -> list[spanline.Run]:
    oa, an = openai_client(server), anthropic_client(server)

    @spanline.traced_tool
    def lookup(question: str) -> str:
        answer = an.messages.create(
            model="claude-sonnet-4-5",
            max_tokens=16,
            messages=[{"role": "user", "content": question}],
        )
        return str(answer.content[0].text)

    @spanline.traced_agent(name="researcher")
    def researcher(question: str) -> str:
        return lookup(question)

    @spanline.traced_agent(name="orchestrator")
    def orchestrator(question: str, fail: bool) -> str:
        oa.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": question}])
        found = researcher(question)
        if fail:
            raise RuntimeError("the answer failed the check")
        return found

    runs = []
    # Turn 1; turn 2 fails and is restarted (its attempt numbered by the counter); turn 3.
    for options, fail in (({}, False), ({}, True), ({"turn": 2}, False), ({}, False)):
        run = spanline.configure_observability(
            enabled=True, run_dir=base, service_name="chat", session_id=SESSION, **options
        )
        assert run is not None
        try:
            orchestrator("what is up?", fail)
        except RuntimeError:
            pass  # the orchestrator restarts the turn
        spanline.shutdown()
        runs.append(run)
    return runs


@pytest.fixture
def conversation(tmp_path: Path, server: ProviderServer, instrumented: Any) -> list[spanline.Run]:
    before = len(server.requests)
    runs = _conversation(tmp_path, server)
    assert len(server.requests) - before == 8  # two calls per attempt, four attempts
    return runs


def _raw_totals(runs: list[spanline.Run]) -> tuple[int, float]:
    """Tokens and cost summed straight from every span_end line of the runs."""
    tokens, cost = 0, 0.0
    for run in runs:
        for line in read_lines(run.telemetry_path):
            if line["event"] == "span_end":
                tokens += line["tokens"]
                cost += line["attributes"].get("gen_ai.usage.cost_usd", 0.0)
    return tokens, cost


def test_sessions_and_summary_show_three_turns_four_attempts_and_the_waste(
    tmp_path: Path, conversation: list[spanline.Run]
) -> None:
    attempt_cost = _openai_cost() + _anthropic_cost()
    raw_tokens, raw_cost = _raw_totals(conversation)
    assert raw_tokens == 4 * ATTEMPT_TOKENS
    assert raw_cost == pytest.approx(4 * attempt_cost, abs=1e-8)

    listed = run_cli("sessions", "--json", "--dir", str(tmp_path))
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert (row["session_id"], row["turns"], row["attempts"]) == (SESSION, 3, 4)
    assert row["status"] == "ok"  # every turn has an accepted attempt
    assert row["tokens"] == 4 * ATTEMPT_TOKENS
    assert row["cost_usd"] == pytest.approx(4 * attempt_cost, abs=1e-8)
    assert row["waste_usd"] == pytest.approx(attempt_cost, abs=1e-8)
    assert row["errors"] == 1

    shown = run_cli("summary", "--session", SESSION, "--json", "--dir", str(tmp_path))
    assert shown.returncode == 0, shown.stderr
    folded = json.loads(shown.stdout)
    assert (folded["turns"], folded["attempts"]) == (3, 4)
    assert folded["totals"]["tokens"] == 4 * ATTEMPT_TOKENS
    assert folded["totals"]["waste_usd"] == pytest.approx(attempt_cost, abs=1e-8)
    cached = OPENAI_USAGE["prompt_tokens_details"]["cached_tokens"]
    assert folded["totals"]["tokens_by_type"]["cache_read"] == 4 * (
        cached + ANTHROPIC_USAGE["cache_read_input_tokens"]
    )
    numbers = [
        (a["turn"], a["attempt"], a["status"], a["accepted"], a["wasted"])
        for a in folded["attempt_list"]
    ]
    assert numbers == [
        (1, 1, "ok", True, False),
        (2, 1, "error", False, True),
        (2, 2, "ok", True, False),
        (3, 1, "ok", True, False),
    ]
    runs_by_turn = [a["run_id"] for a in folded["attempt_list"]]
    assert runs_by_turn == [run.run_id for run in conversation]

    text = run_cli("summary", "--session", SESSION, "--dir", str(tmp_path))
    assert text.returncode == 0, text.stderr
    assert "3 turns, 4 attempts" in text.stdout
    assert text.stdout.count("accepted") == 3 and "waste" in text.stdout


def test_an_agent_rolls_up_its_sub_agents_and_tools_usage_once(
    conversation: list[spanline.Run],
) -> None:
    summary = json.loads(conversation[0].summary_path.read_text())
    agents = {agent["name"]: agent for agent in summary["agents"]}
    assert agents["orchestrator"]["tokens"] == ATTEMPT_TOKENS
    anthropic_tokens = ATTEMPT_TOKENS - OPENAI_USAGE["total_tokens"]
    assert agents["researcher"]["tokens"] == anthropic_tokens
    assert summary["totals"]["total_tokens"] == ATTEMPT_TOKENS
    assert agents["orchestrator"]["cost_usd"] == pytest.approx(
        _openai_cost() + _anthropic_cost(), abs=1e-8
    )
    assert agents["researcher"]["cost_usd"] == pytest.approx(_anthropic_cost(), abs=1e-8)


def test_list_session_shows_only_that_sessions_runs(
    tmp_path: Path, conversation: list[spanline.Run]
) -> None:
    other = spanline.configure_observability(enabled=True, run_dir=tmp_path, service_name="x")
    assert other is not None
    with spanline.span("unrelated"):
        pass
    spanline.shutdown()
    listed = run_cli("list", "--session", SESSION, "--json", "--dir", str(tmp_path))
    assert listed.returncode == 0, listed.stderr
    assert sorted(row["run_id"] for row in json.loads(listed.stdout)) == sorted(
        run.run_id for run in conversation
    )


_SESSION_OF_TRACE = """
import json, sys
from mlflow.entities import Trace
trace = Trace.from_dict(json.load(open(sys.argv[1])))
print(json.dumps(dict(trace.info.trace_metadata)))
"""


def test_the_mlflow_export_groups_the_four_attempts_in_one_session(
    tmp_path: Path,
    conversation: list[spanline.Run],
    mlflow_python: Path,  # noqa: F811  (the fixture imported above)
) -> None:
    """MLflow reads each trace's session from ``mlflow.trace.session``: the four traces
    are one session, with turns 1, 2, 2, 3 and attempts 1, 1, 2, 1."""
    import subprocess

    seen = []
    for run in conversation:
        out = tmp_path / f"{run.run_id}.json"
        exported = run_cli(
            "export", run.run_id, "--format", "mlflow", "--out", str(out), "--dir", str(tmp_path)
        )
        assert exported.returncode == 0, exported.stderr
        loaded = subprocess.run(
            [str(mlflow_python), "-c", _SESSION_OF_TRACE, str(out)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        )
        assert loaded.returncode == 0, loaded.stderr
        metadata = json.loads(loaded.stdout)
        seen.append(
            (
                metadata["mlflow.trace.session"],
                metadata["spanline.turn"],
                metadata["spanline.attempt"],
            )
        )
    assert seen == [
        (SESSION, "1", "1"),
        (SESSION, "2", "1"),
        (SESSION, "2", "2"),
        (SESSION, "3", "1"),
    ]
    assert len({turn for _, turn, _ in seen}) == 3 and len(seen) == 4


def test_the_massgen_export_writes_turns_attempts_and_each_turns_final(
    tmp_path: Path, conversation: list[spanline.Run]
) -> None:
    out = tmp_path / "massgen"
    exported = run_cli(
        "export", "--format", "massgen", "--session", SESSION, "--out", str(out),
        "--dir", str(tmp_path),
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    layout = sorted(str(p.relative_to(out)) for p in out.glob("turn_*/*") if p.is_dir())
    assert layout == [
        "turn_1/attempt_1", "turn_1/final", "turn_2/attempt_1", "turn_2/attempt_2",
        "turn_2/final", "turn_3/attempt_1", "turn_3/final",
    ]  # fmt: skip
    # The restarted turn's final is its second attempt, the one that ended ok.
    final = (out / "turn_2" / "final" / "execution_metadata.yaml").read_text()
    assert f'run_id: "{conversation[2].run_id}"' in final
    assert "turn: 2" in final and "attempt: 2" in final
    assert (out / "turn_2" / "attempt_1" / "coordination_events.json").is_file()


def test_compare_takes_two_turns_or_two_attempts_of_a_session(
    tmp_path: Path, conversation: list[spanline.Run]
) -> None:
    base = ("--dir", str(tmp_path), "compare", "--json", "--session", SESSION)
    turns = run_cli(*base, "--turn", "1", "--turn", "2")
    assert turns.returncode in (0, 1), turns.stderr
    compared = json.loads(turns.stdout)
    # Turn 2's side is its accepted attempt, the restart.
    assert (compared["run_a"], compared["run_b"]) == (
        conversation[0].run_id,
        conversation[2].run_id,
    )
    tries = run_cli(*base, "--turn", "2", "--attempt", "1", "--attempt", "2")
    assert tries.returncode in (0, 1), tries.stderr
    compared = json.loads(tries.stdout)
    assert (compared["run_a"], compared["run_b"]) == (
        conversation[1].run_id,
        conversation[2].run_id,
    )
    missing = run_cli(*base, "--turn", "1", "--turn", "9")
    assert missing.returncode == 2 and missing.stderr.strip() == (
        "spanline: error: the session has no turn 9"
    )
    half = run_cli(*base, "--turn", "1")
    assert half.returncode == 2 and len(half.stderr.splitlines()) == 1


def test_the_dashboard_session_view_shows_turns_as_rows_and_attempts_side_by_side(
    tmp_path: Path,
    conversation: list[spanline.Run],
    watched: Watched,  # noqa: F811  (the fixture imported above)
) -> None:
    """In Chromium: the open run's session, 3 turns as rows and 4 attempts, each opening
    its run; the run picker groups the session's runs."""
    page = watched.page
    restart = conversation[2]
    with serve(tmp_path) as url:
        page.goto(f"{url}/?run={restart.run_id}")
        page.wait_for_selector("#session-view:not([hidden]) button.attempt")
        rows = page.locator("#session-turns tr.turn")
        assert rows.count() == 3
        assert [rows.nth(i).locator("button.attempt").count() for i in range(3)] == [1, 2, 1]
        assert page.locator("#session-turns button.accepted").count() == 3
        waste = page.locator("#session-turns button.waste")
        assert waste.count() == 1
        assert waste.get_attribute("data-run") == conversation[1].run_id
        assert page.text_content("#session-name") == SESSION
        assert "3 turns, 4 attempts" in page.text_content("#session-totals")
        group = page.locator(f'#run-picker optgroup[label="session {SESSION}"] option')
        assert group.count() == 4
        # An attempt opens its run.
        waste.click()
        page.wait_for_function(
            "id => window.spanlineDashboard.state().runId === id", arg=conversation[1].run_id
        )
        page.wait_for_selector(f'#session-turns button.open[data-run="{conversation[1].run_id}"]')
        assert page.input_value("#run-picker") == conversation[1].run_id
    assert watched.errors == [] and watched.dialogs == []
