"""No secret reaches telemetry.jsonl, whatever the capture mode; previews stay bounded."""

from __future__ import annotations

from pathlib import Path

import pytest

import spanline
from spanline import coordination, traced_agent, traced_llm, traced_tool

SECRETS = {
    "anthropic": "sk-ant-api03-" + "A1b2C3d4E5f6G7h8" * 5,
    "openai": "sk-proj-" + "Zx9Yw8Vu7Ts6Rq5P" * 4,
    "google": "AIza" + "SyD4f6G8h0J2k4L6n8P0r2T4v6X8z0B2c4E",
    "github": "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "bearer": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
    + "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "plain": "hunter2-not-a-pattern",  # only caught because its key is named api_key
}


@traced_tool
def call_api(url: str, headers: dict, body: str) -> dict:
    return {"echo": body, "token": SECRETS["github"]}


@traced_llm(provider="openai", model="gpt-4o")
def ask(prompt: str, api_key: str) -> dict:
    return {"usage": {"prompt_tokens": 3, "completion_tokens": 1}, "note": SECRETS["google"]}


@traced_agent
def agent(agent_id: str, config: dict) -> None:
    call_api(
        "https://api.example.invalid/v1",
        {"Authorization": f"Bearer {SECRETS['bearer']}"},
        f"key={SECRETS['openai']}",
    )
    ask(f"use {SECRETS['anthropic']} please", api_key=SECRETS["plain"])
    coordination.new_answer("agent1.1", content=f"answer with {SECRETS['google']}")
    with spanline.span("manual", note=SECRETS["openai"]) as span:
        span.set_attribute("api_key", SECRETS["plain"])
        span.set_attribute("nested", {"password": "p4ss", "list": [SECRETS["github"]]})
    raise RuntimeError(f"failed with {SECRETS['anthropic']}")


@pytest.mark.parametrize("mode", ["preview", "full", "off"])
def test_no_secret_in_the_event_log(tmp_path: Path, mode: str) -> None:
    run = spanline.configure_observability(enabled=True, run_dir=tmp_path, capture=mode)
    assert run is not None
    with pytest.raises(RuntimeError):
        agent("agent_a", {"api_key": SECRETS["plain"], "model": "gpt-4o"})
    spanline.shutdown()
    text = run.telemetry_path.read_text()
    for name, secret in SECRETS.items():
        assert secret not in text, name
    assert "p4ss" not in text
    assert "[REDACTED]" in text
    summary = run.summary_path.read_text()
    assert SECRETS["anthropic"] not in summary
    if mode == "full":
        assert '"input.value"' in text and "https://api.example.invalid/v1" in text
    if mode == "off":
        assert "tool.arguments_preview" not in text and "input.value" not in text


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


@pytest.mark.parametrize("mode", ["preview", "full"])
def test_huge_cyclic_and_unprintable_values_are_bounded(tmp_path: Path, mode: str) -> None:
    cyclic: dict = {"name": "loop"}
    cyclic["self"] = cyclic

    @traced_tool
    def swallow(blob: str, graph: dict, odd: object) -> str:
        return blob

    run = spanline.configure_observability(enabled=True, run_dir=tmp_path, capture=mode)
    assert run is not None
    blob = "x" * 10_000_000
    assert swallow(blob, cyclic, BadRepr()) is blob
    spanline.shutdown()
    size = run.telemetry_path.stat().st_size
    assert size < 3_000_000  # the 10 MB argument and result were not copied into the line
    text = run.telemetry_path.read_text()
    assert '"tool.input_chars":' in text
    if mode == "full":  # kept whole, out of line: the arguments are one stored JSON value
        from spanline._lines._blobs import read_blob

        (stored,) = [
            p
            for p in (run.directory / "blobs").iterdir()
            if b"graph" in read_blob(run.directory, p.name.split(".")[0]) or b""
        ]
        arguments = read_blob(run.directory, stored.name.split(".")[0]) or b""
        assert b"<cycle>" in arguments and b"<unrepresentable BadRepr>" in arguments
        assert arguments.count(b"x") >= 10_000_000
