"""Secrets in arguments, results and errors never reach telemetry.jsonl."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

import spanline
from spanline.exporters import InMemoryExporter
from tests._helpers import configure, finish

ANTHROPIC = "sk-ant-api03-" + "Qm7vT2xR9kLp4WzN8cYb3HsJ6dFg1AeU5oIqZ0nMtV" * 2 + "-Xy7AA"
OPENAI = "sk-proj-" + "Nf4Kq9Zr2Lw7Tb5Yc1Hx8Pm3Jd6Gs0Va" * 3
GOOGLE = "AIzaSyD4" + "kR9mXq2LwZ7tBn5Yc1Hv8Pj3Gs0aFu6E"[:31]
GITHUB = "ghp_" + "R8mK2qX9wL4zT7bN1cY5hV3jP6dG0sFa2E8k"[:36]
BEARER = "9f8e7d6c5b4aQWERTYzxcvbnm1234567890abcdefXYZ"
PLAIN = "hunter2-plain-value-without-any-pattern"  # only its key name marks it
SECRETS = {
    "anthropic": ANTHROPIC,
    "openai": OPENAI,
    "google": GOOGLE,
    "github": GITHUB,
    "bearer": BEARER,
    "plain": PLAIN,
}
assert len(GOOGLE) == 39 and len(GITHUB) == 40


def _fragments(secret: str) -> list[str]:
    """The secret and distinctive middle pieces of it (a partial leak counts too)."""
    core = secret.split("-", 2)[-1] if secret.startswith("sk-") else secret[4:]
    return [secret, core[4:20], core[-16:]]


def _assert_clean(path: Path) -> None:
    text = path.read_text()
    for label, secret in SECRETS.items():
        for fragment in _fragments(secret):
            assert fragment not in text, f"{label} secret leaked: {fragment!r}"


@dataclasses.dataclass
class Request:
    prompt: str
    api_key: str
    token: str


class Client:
    def __init__(self) -> None:
        self.secret = GITHUB

    def __repr__(self) -> str:
        return f"Client(token={GITHUB}, authorization='Bearer {BEARER}')"


@spanline.traced_tool
def read_doc(text: str, *, client: Client) -> str:
    return f"echo {text}"


@spanline.traced_llm(provider="openai", model="gpt-4o")
async def complete(messages: list[dict], api_key: str, request: Request) -> dict:
    return {
        "model": "gpt-4o",
        "choices": [{"message": {"content": f"your key is {OPENAI}"}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1},
    }


@spanline.traced_agent
def agent(config: dict, agent_id: str = "a") -> dict:
    return {"echo": config, "password": PLAIN}


@spanline.traced_tool
def failing(credential: str) -> None:
    raise PermissionError(f"auth failed for {ANTHROPIC} (Authorization: Bearer {BEARER})")


def _exercise() -> None:
    read_doc(f"please use {ANTHROPIC} now", client=Client())
    for offset in range(150, 215, 3):  # a secret straddling the preview cut
        read_doc("x" * offset + " " + ANTHROPIC + " " + GOOGLE, client=Client())
    request = Request(prompt=f"key {OPENAI}", api_key=PLAIN, token=GITHUB)
    asyncio.run(
        complete(
            [{"role": "user", "content": f"key {OPENAI} and {GOOGLE}"}],
            api_key=PLAIN,
            request=request,
        )
    )
    agent(
        {
            "headers": {"Authorization": f"Bearer {BEARER}", "X-Api-Key": PLAIN},
            "google": GOOGLE,
            "nested": [[{"api_key": PLAIN}], f"token: {GITHUB}"],
            "env": f"ANTHROPIC_API_KEY={ANTHROPIC}",
        }
    )
    with pytest.raises(PermissionError):
        failing(ANTHROPIC)
    tracer = spanline.get_tracer()
    with spanline.context(api_key=PLAIN), tracer.span("manual") as span:
        span.set_attribute("prompt", f"use {OPENAI}")
        span.set_attribute("headers", {"authorization": f"Bearer {BEARER}"})
        tracer.event("request", header=f"Authorization: Bearer {BEARER}", api_key=PLAIN)
        tracer.phase("milestone", token=PLAIN)
        try:
            raise ValueError({"api_key": PLAIN, "google": GOOGLE})
        except ValueError as exc:
            span.record_exception(exc)
        span.set_status("error", f"bad key {GITHUB}")


@pytest.mark.parametrize("mode", ["preview", "full", "off"])
def test_no_secret_reaches_telemetry(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPANLINE_CAPTURE", mode)  # the environment variable, as users set it
    memory = InMemoryExporter()
    run = configure(tmp_path, exporters=[memory])
    _exercise()
    summary, events = finish(run)
    _assert_clean(run.telemetry_path)
    _assert_clean(run.summary_path)
    exported = tmp_path / "exported.txt"
    exported.write_text(repr(memory.events))  # exporters get the redacted events too
    _assert_clean(exported)
    assert "[REDACTED]" in run.telemetry_path.read_text()
    # redaction did not cost the events themselves
    names = [e["name"] for e in events if e["event"] == "span_start"]
    assert names.count("tool.read_doc") == 1 + len(range(150, 215, 3))
    assert {"llm.complete", "agent", "tool.failing", "manual"} <= set(names)
    assert summary.span_count == len(names)
    if mode == "full":
        agent_span = next(e for e in events if e["event"] == "span_start" and e["name"] == "agent")
        assert agent_span["attributes"]["input.value"]["config"]["google"] == "[REDACTED]"


@pytest.mark.parametrize("how", ["dataclass-attribute", "dataclass-event", "repr-attribute"])
def test_no_secret_from_objects_set_as_attributes(how: str, tmp_path: Path) -> None:
    run = configure(tmp_path)
    request = Request(prompt="hi", api_key=PLAIN, token=GITHUB)
    with spanline.span("s") as span:
        if how == "dataclass-attribute":
            span.set_attribute("request", request)
        elif how == "dataclass-event":
            spanline.event("sent", request=request)
        else:
            span.set_attribute("client", Client())
    finish(run)
    _assert_clean(run.telemetry_path)


def test_no_secret_from_the_run_query(tmp_path: Path) -> None:
    run = configure(tmp_path, query=f"summarize using {ANTHROPIC}")
    finish(run)
    _assert_clean(run.telemetry_path)


def test_no_secret_in_execution_metadata(tmp_path: Path) -> None:
    run = configure(
        tmp_path,
        config={"provider": {"api_key": PLAIN}},
        cli_args=["--token", GITHUB],
    )
    spanline.flush()
    finish(run)
    _assert_clean(run.metadata_path)
