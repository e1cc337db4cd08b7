"""A call's usage counts once when a framework's OpenTelemetry span and spanline's SDK span
both saw it: nested either way (the innermost keeps it), or not nested and sharing
``gen_ai.response.id`` (the one written second is the duplicate). Real openai SDK calls
against the loopback provider server, real OpenTelemetry SDK spans."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import spanline
import spanline.otel
from spanline.schema import DUPLICATE_OF, USAGE_ON_CHILD
from tests._helpers import configure, finish, run_cli, spans
from tests.instrument._providers import OPENAI_TOKENS, ProviderServer, provider_server
from tests.otel_bridge.conftest import Host

CALL = OPENAI_TOKENS["input"] + OPENAI_TOKENS["output"]  # 150, what the server reports
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def server() -> Iterator[ProviderServer]:
    with provider_server() as running:
        yield running


@pytest.fixture(autouse=True)
def _openai() -> Iterator[None]:
    spanline.instrument("openai")
    yield
    spanline.uninstrument("openai")


def _client(server: ProviderServer, http_client: httpx.Client | None = None) -> Any:
    import openai

    return openai.OpenAI(
        api_key="sk-test", base_url=f"{server.url}/v1", max_retries=0, http_client=http_client
    )


def _chat(client: Any) -> Any:
    return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)


def _usage(span: Any, **extra: Any) -> None:
    """What a framework's chat span carries at its end (set after its start)."""
    span.set_attributes(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.usage.input_tokens": OPENAI_TOKENS["input"],
            "gen_ai.usage.output_tokens": OPENAI_TOKENS["output"],
            **extra,
        }
    )


def _sql_tokens(base: Path) -> list[Any]:
    """Tokens summed over every span by SQL: the counters, and the usage attributes."""
    sql = (
        "SELECT sum(CAST(attributes ->> 'gen_ai.usage.input_tokens' AS INTEGER)) AS input,"
        " count(*) FILTER (WHERE span_name LIKE 'llm.%' OR kind = 'llm') AS llm_spans"
        " FROM records"
    )
    result = run_cli("query", sql, "--json", "--dir", str(base))
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout)[0]
    return [row["input"], row["llm_spans"]]


def _sdk_span(events: list[dict[str, Any]]) -> dict[str, Any]:
    (found,) = [s for s in spans(events).values() if s["name"].startswith("llm.openai")]
    return found


def _framework_span(events: list[dict[str, Any]]) -> dict[str, Any]:
    (found,) = [s for s in spans(events).values() if s["name"] == "chat gpt-4o-mini"]
    return found


def test_sdk_span_inside_a_framework_chat_span_keeps_the_usage(
    tmp_path: Path, host: Host, server: ProviderServer
) -> None:
    run = configure(tmp_path)
    spanline.otel.install(host.provider)
    client = _client(server)
    with host.tracer.start_as_current_span("invoke_agent") as agent:
        with host.tracer.start_as_current_span("chat gpt-4o-mini") as chat:
            _chat(client)
            _usage(chat, **{"gen_ai.response.id": "chatcmpl-1"})
        # An agent span with the run's usage totals (as pydantic-ai's has): not counted
        # again, its calls below recorded it.
        _usage(agent, **{"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "lead"})
    client.close()
    summary, events = finish(run)
    sdk, framework = _sdk_span(events), _framework_span(events)
    assert sdk["parent"] == framework["span_id"]
    assert sdk["end"]["tokens"] == CALL
    assert framework["end"]["tokens"] == 0
    assert framework["attrs"][USAGE_ON_CHILD] is True
    assert framework["attrs"]["gen_ai.usage.input_tokens"] is None
    assert summary.totals.total_tokens == CALL
    assert summary.totals.tokens_by_type.input == OPENAI_TOKENS["input"]
    assert summary.totals.llm_calls_without_usage == 0
    (lead,) = summary.agents
    assert lead.tokens == CALL
    assert _sql_tokens(tmp_path) == [OPENAI_TOKENS["input"], 2]


class _TracedTransport(httpx.HTTPTransport):
    """An instrumentation below the SDK (as OpenInference's openai one sits inside the
    SDK call): an OpenTelemetry chat span around the HTTP exchange, with the usage and
    response id of the answer set at its end."""

    def __init__(self, host: Host) -> None:
        super().__init__()
        self.host = host

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self.host.tracer.start_as_current_span("chat gpt-4o-mini") as span:
            response = super().handle_request(request)
            body = json.loads(response.read())
            _usage(span, **{"gen_ai.response.id": body["id"]})
            return httpx.Response(
                response.status_code,
                headers=response.headers,
                content=body and json.dumps(body).encode(),
            )


def test_framework_span_inside_the_sdk_span_keeps_the_usage(
    tmp_path: Path, host: Host, server: ProviderServer
) -> None:
    run = configure(tmp_path)
    spanline.otel.install(host.provider)
    client = _client(server, httpx.Client(transport=_TracedTransport(host)))
    _chat(client)
    client.close()
    summary, events = finish(run)
    sdk, framework = _sdk_span(events), _framework_span(events)
    assert framework["parent"] == sdk["span_id"]
    assert framework["end"]["tokens"] == CALL
    assert sdk["end"]["tokens"] == 0
    assert sdk["attrs"][USAGE_ON_CHILD] is True
    assert summary.totals.total_tokens == CALL
    assert _sql_tokens(tmp_path) == [OPENAI_TOKENS["input"], 2]


def test_a_chat_span_classified_late_inside_traced_llm_keeps_the_usage(
    tmp_path: Path, host: Host
) -> None:
    run = configure(tmp_path)
    spanline.otel.install(host.provider)

    @spanline.traced_llm(provider="openai", model="gpt-4o-mini")
    def ask() -> str:
        with host.tracer.start_as_current_span("chat gpt-4o-mini") as chat:
            _usage(chat)  # its kind, too, is known only now
        return "text"

    ask()
    summary, events = finish(run)
    assert _framework_span(events)["end"]["tokens"] == CALL
    assert summary.totals.total_tokens == CALL
    assert summary.totals.llm_calls_without_usage == 0


def _later_on_a_thread(host: Host, response_id: str | None) -> None:
    """A span built after the call, on another thread, as LangSmith builds its spans."""

    def build() -> None:
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.usage.input_tokens": OPENAI_TOKENS["input"],
            "gen_ai.usage.output_tokens": OPENAI_TOKENS["output"],
        }
        if response_id is not None:
            attributes["gen_ai.response.id"] = response_id
        span = host.tracer.start_span("chat gpt-4o-mini", attributes=attributes)
        span.end()

    thread = threading.Thread(target=build)
    thread.start()
    thread.join()


def test_a_later_span_sharing_the_response_id_is_the_duplicate(
    tmp_path: Path, host: Host, server: ProviderServer
) -> None:
    run = configure(tmp_path)
    spanline.otel.install(host.provider)
    client = _client(server)
    _chat(client)
    client.close()
    _later_on_a_thread(host, "chatcmpl-1")
    summary, events = finish(run)
    sdk, framework = _sdk_span(events), _framework_span(events)
    assert framework["parent"] != sdk["span_id"]
    assert sdk["end"]["tokens"] == CALL
    assert framework["end"]["tokens"] == 0
    assert framework["attrs"][DUPLICATE_OF] == sdk["span_id"]
    assert framework["attrs"]["gen_ai.usage.output_tokens"] is None
    assert summary.totals.total_tokens == CALL
    assert _sql_tokens(tmp_path) == [OPENAI_TOKENS["input"], 2]


def test_an_sdk_span_after_a_framework_span_with_the_response_id_is_the_duplicate(
    tmp_path: Path, host: Host, server: ProviderServer
) -> None:
    run = configure(tmp_path)
    spanline.otel.install(host.provider)
    _later_on_a_thread(host, "chatcmpl-1")
    client = _client(server)
    _chat(client)
    client.close()
    summary, events = finish(run)
    sdk, framework = _sdk_span(events), _framework_span(events)
    assert framework["end"]["tokens"] == CALL
    assert sdk["end"]["tokens"] == 0
    assert sdk["attrs"][DUPLICATE_OF] == framework["span_id"]
    assert "gen_ai.usage.input_tokens" not in sdk["attrs"]
    assert summary.totals.total_tokens == CALL
    assert summary.totals.llm_calls_without_usage == 0


def test_without_a_shared_response_id_both_count_and_one_warning_names_both(
    tmp_path: Path, host: Host, server: ProviderServer
) -> None:
    run = configure(tmp_path)
    spanline.otel.install(host.provider)
    client = _client(server)
    for _ in range(2):
        _chat(client)  # the server answers every call with the same response id
        _later_on_a_thread(host, None)
    client.close()
    summary, _ = finish(run)
    assert summary.totals.total_tokens == 4 * CALL  # one source's calls are never merged
    log = (run.telemetry_path.parent / "spanline.log").read_text()
    warnings = [line for line in log.splitlines() if "counted twice" in line]
    assert len(warnings) == 1
    assert "spanline.instrument('openai')" in warnings[0]
    assert "OpenTelemetry scope 'host-app'" in warnings[0]


def test_a_streamed_sdk_call_records_its_response_id_and_settles_a_later_span(
    tmp_path: Path, host: Host, server: ProviderServer
) -> None:
    run = configure(tmp_path)
    spanline.otel.install(host.provider)
    client = _client(server)
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True,
        stream_options={"include_usage": True},
    )  # fmt: skip
    for _ in stream:
        pass
    client.close()
    _later_on_a_thread(host, "chatcmpl-1")
    summary, events = finish(run)
    sdk, framework = _sdk_span(events), _framework_span(events)
    assert sdk["attrs"]["gen_ai.response.id"] == "chatcmpl-1"
    assert sdk["end"]["tokens"] == CALL
    assert framework["attrs"][DUPLICATE_OF] == sdk["span_id"]
    assert summary.totals.total_tokens == CALL
