"""examples/instrumented_sdks.py against the loopback provider server."""

from __future__ import annotations

from pathlib import Path

from tests._helpers import ROOT, read_lines, run_interpreter
from tests.instrument._providers import ANTHROPIC_TOKENS, OPENAI_TOKENS, ProviderServer


def test_instrumented_sdks_example(server: ProviderServer, tmp_path: Path) -> None:
    result = run_interpreter(
        str(ROOT / "examples" / "instrumented_sdks.py"),
        "--base-url",
        server.url,
        cwd=tmp_path,
        env={"SPANLINE_DIR": str(tmp_path)},
        bare=True,
    )
    assert result.returncode == 0, result.stderr
    openai_tokens = OPENAI_TOKENS["input"] + OPENAI_TOKENS["output"]
    expected = 2 * openai_tokens + ANTHROPIC_TOKENS["input"] + ANTHROPIC_TOKENS["output"]
    assert f"tokens: {expected} " in result.stdout
    assert "LLM calls without usage: 0" in result.stdout
    lines = read_lines((tmp_path / "runs" / "latest").resolve() / "telemetry.jsonl")
    starts = {e["span_id"]: e for e in lines if e["event"] == "span_start"}
    names = sorted(e["name"] for e in starts.values())
    assert names == [
        "llm.anthropic.messages.stream",
        "llm.openai.chat.completions.create",
        "llm.openai.chat.completions.create",
        "llm.summarize",
        "research",
    ]
    by_name = {e["name"]: e for e in starts.values()}
    assert by_name["llm.anthropic.messages.stream"]["parent"] == by_name["llm.summarize"]["span_id"]
    for start in starts.values():
        if start["name"] != "research":
            assert start["attributes"]["gen_ai.agent.id"] == "researcher"
