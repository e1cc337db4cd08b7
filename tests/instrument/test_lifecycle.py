"""instrument() / uninstrument(): what is patched, what is put back, and misuse."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import spanline
from spanline import ConfigurationError
from spanline._instrument import _targets, instrumented
from spanline.testing import capture_spans
from tests.instrument._checks import llm_spans
from tests.instrument._providers import TEXT, ProviderServer
from tests.instrument.conftest import anthropic_client, openai_client

#: The provider SDKs (the agent frameworks are tested in tests/frameworks).
NAMES = ["anthropic", "google-genai", "openai"]


def _class_dicts(name: str) -> dict[tuple[type, str], Any]:
    return {(t.owner, t.attribute): t.owner.__dict__[t.attribute] for t in _targets(name)}


@pytest.fixture
def clean() -> Iterator[None]:
    yield
    for name in NAMES:
        spanline.uninstrument(name)


@pytest.mark.parametrize("name", NAMES)
def test_uninstrument_restores_the_originals_exactly(name: str, clean: None) -> None:
    before = _class_dicts(name)
    spanline.instrument(name)
    patched = _class_dicts(name)
    assert all(patched[key] is not before[key] for key in before)
    assert all(patched[key].__wrapped__ is before[key] for key in before)
    spanline.instrument(name)  # a second call changes nothing
    assert _class_dicts(name) == patched
    assert instrumented() == [name]
    spanline.uninstrument(name)
    after = _class_dicts(name)
    assert all(after[key] is before[key] for key in before)
    assert instrumented() == []
    spanline.uninstrument(name)  # not instrumented: left alone


def test_misuse_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="'openai', 'anthropic', 'google-genai', 'open"):
        spanline.instrument("mistral")
    with pytest.raises(ConfigurationError, match="cannot instrument 'mistral'"):
        spanline.uninstrument("mistral")
    with pytest.raises(TypeError, match="must be a str"):
        spanline.instrument(None)  # type: ignore[arg-type]


def test_a_missing_sdk_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    # A None entry makes the import fail, as if the package were not installed.
    monkeypatch.setitem(sys.modules, "anthropic.resources.messages", None)
    with pytest.raises(ConfigurationError, match=r"pip install anthropic"):
        spanline.instrument("anthropic")
    assert instrumented() == []


def test_tracing_off_calls_straight_through(server: ProviderServer, clean: None) -> None:
    spanline.instrument("openai")
    client = openai_client(server)
    answer = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "x"}]
    )
    assert type(answer).__name__ == "ChatCompletion"
    assert answer.usage is not None and answer.usage.total_tokens == 150


def test_instrumented_before_tracing_starts_is_traced_after(
    server: ProviderServer, clean: None
) -> None:
    spanline.instrument("anthropic")  # at import time, before configure_observability()
    client = anthropic_client(server)
    with capture_spans() as captured:
        client.messages.create(model="claude-sonnet-4-5", max_tokens=8, messages=[])
    assert [span["name"] for span in llm_spans(captured)] == ["llm.anthropic.messages.create"]


def test_streams_keep_their_types(server: ProviderServer, clean: None) -> None:
    import anthropic
    import openai

    spanline.instrument("openai")
    spanline.instrument("anthropic")
    with capture_spans():
        stream = openai_client(server).chat.completions.create(
            model="gpt-4o", messages=[], stream=True
        )
        assert isinstance(stream, openai.Stream)
        stream.close()
        manager = anthropic_client(server).messages.stream(
            model="claude-sonnet-4-5", max_tokens=8, messages=[]
        )
        assert isinstance(manager, anthropic.MessageStreamManager)
        with manager as helper:
            assert isinstance(helper, anthropic.MessageStream)


def test_a_failed_call_raises_unchanged_and_ends_its_span_in_error(clean: None) -> None:
    import openai

    spanline.instrument("openai")
    # Nothing listens on port 9 of the loopback: the SDK's own error reaches the caller.
    client = openai.OpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1", max_retries=0)
    with client, capture_spans() as captured:
        with pytest.raises(openai.APIConnectionError):
            client.chat.completions.create(model="gpt-4o", messages=[])
    (span,) = llm_spans(captured)
    assert span["status"] == "error" and span["error"]["type"] == "openai.APIConnectionError"


def test_answers_are_untouched(server: ProviderServer, clean: None) -> None:
    client = openai_client(server)
    plain = client.chat.completions.create(model="gpt-4o", messages=[])
    spanline.instrument("openai")
    with capture_spans():
        traced = client.chat.completions.create(model="gpt-4o", messages=[])
    assert traced.model_dump() == plain.model_dump()
    assert traced.choices[0].message.content == "".join(TEXT)
