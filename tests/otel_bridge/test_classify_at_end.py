"""Bridged spans are classified when they end: kinds, agent and tool names set after the
start (as ADK, LangSmith and Logfire set them) count in every reader of the run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import TracerProvider

import spanline
import spanline.otel
from spanline.folds.compare import ProfileFold
from spanline.folds.lanes import lanes
from spanline.folds.mlflow import mlflow_trace
from spanline.folds.tree import TreeFold
from tests._helpers import configure, finish, one, run_cli, spans
from tests.otel_bridge.conftest import Host


def _late(span: Any, **attributes: Any) -> None:
    """Set the attributes after the start, as ADK and LangSmith do."""
    span.set_attributes(attributes)


def _lead_researcher(host: Host, *, openinference: bool = False) -> None:
    """lead -> delegate tool -> researcher -> (chat, word_count), every kind set late."""
    tracer = host.tracer

    def agent(name: str, **ids: Any) -> dict[str, Any]:
        if openinference:
            return {"openinference.span.kind": "AGENT", "agent.name": name}
        return {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": name, **ids}

    def tool(name: str) -> dict[str, Any]:
        if openinference:
            return {"openinference.span.kind": "TOOL", "tool.name": name}
        return {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name}

    def chat() -> dict[str, Any]:
        if openinference:
            return {
                "openinference.span.kind": "LLM",
                "llm.model_name": "gpt-4o-mini",
                "llm.token_count.prompt": 400,
                "llm.token_count.completion": 150,
                "llm.token_count.total": 550,
            }
        return {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 400,
            "gen_ai.usage.output_tokens": 150,
        }

    with tracer.start_as_current_span("invoke_agent") as lead:
        with tracer.start_as_current_span("execute_tool") as delegate:
            with tracer.start_as_current_span("invoke_agent") as researcher:
                with tracer.start_as_current_span("chat") as call:
                    _late(call, **chat())
                with tracer.start_as_current_span("execute_tool") as count:
                    _late(count, **tool("word_count"))
                _late(researcher, **agent("researcher", **{"gen_ai.agent.id": "r-1"}))
            _late(delegate, **tool("delegate"))
        _late(lead, **agent("lead"))


def _run(tmp_path: Path, host: Host, **options: Any) -> tuple[Any, list[dict[str, Any]]]:
    run = configure(tmp_path)
    spanline.otel.install(host.provider)
    _lead_researcher(host, **options)
    return finish(run)


def test_kinds_set_after_the_start_make_agents_and_tools_in_the_summary(
    tmp_path: Path, host: Host
) -> None:
    summary, events = _run(tmp_path, host)
    lead, researcher = summary.agents
    assert (lead.name, researcher.name) == ("lead", "researcher")
    assert lead.kind == researcher.kind == "agent"
    assert lead.agent_id == lead.span_id  # no gen_ai.agent.id: its span id, as native agents
    assert researcher.agent_id == "r-1"
    # Subtree sums: the researcher's call and tool count in the lead's card too.
    assert (researcher.tokens, researcher.tool_uses) == (550, 1)
    assert (lead.tokens, lead.tool_uses) == (550, 2)
    assert summary.totals.agents_spawned == 2
    assert summary.totals.total_tool_uses == 2
    assert summary.totals.total_tokens == 550
    assert summary.totals.llm_calls_without_usage == 0
    assert set(summary.tools) == {"delegate", "word_count"}
    assert summary.tools["word_count"].calls == 1
    # The log says it: a start without a kind, an end with the final kind and name.
    start = next(e for e in events if e["event"] == "span_start" and e["span_id"] == lead.span_id)
    end = next(e for e in events if e["event"] == "span_end" and e["span_id"] == lead.span_id)
    assert (start["kind"], start["name"]) == (None, "invoke_agent")
    assert (end["kind"], end["name"]) == ("agent", "lead")
    assert end["attributes"]["gen_ai.agent.id"] == lead.span_id


def test_a_kind_known_at_start_is_written_at_start(tmp_path: Path, host: Host) -> None:
    """Live views show a framework's agent while it runs."""
    run = configure(tmp_path)
    spanline.otel.install(host.provider)
    attributes = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "lead"}
    with host.tracer.start_as_current_span("invoke_agent lead", attributes=attributes):
        with host.tracer.start_as_current_span("chat") as call:
            _late(call, **{"gen_ai.operation.name": "chat"})
    summary, events = finish(run)
    start = next(e for e in events if e["event"] == "span_start" and e["kind"] == "agent")
    assert start["name"] == "lead"
    assert start["attributes"]["gen_ai.agent.name"] == "lead"
    assert start["attributes"]["gen_ai.agent.id"] == start["span_id"]
    end = next(e for e in events if e["event"] == "span_end" and e["span_id"] == start["span_id"])
    assert "kind" not in end and "name" not in end  # nothing changed at the end
    assert [agent.name for agent in summary.agents] == ["lead"]
    assert one(events, "chat")["kind"] == "llm"


def test_openinference_spans_count_agents_tools_and_tokens(tmp_path: Path, host: Host) -> None:
    summary, events = _run(tmp_path, host, openinference=True)
    assert [agent.name for agent in summary.agents] == ["lead", "researcher"]
    assert summary.totals.total_tool_uses == 2
    assert set(summary.tools) == {"delegate", "word_count"}
    assert summary.totals.total_tokens == 550
    assert summary.totals.tokens_by_type.input == 400
    chat = one(events, "chat")
    assert chat["kind"] == "llm" and chat["end"]["tokens"] == 550
    assert chat["attrs"]["gen_ai.request.model"] == "gpt-4o-mini"


def test_lanes_tree_compare_and_mlflow_honour_the_final_kind(tmp_path: Path, host: Host) -> None:
    _, events = _run(tmp_path, host)
    assert [(lane["name"], lane["kind"]) for lane in lanes(events)] == [
        ("lead", "agent"),
        ("researcher", "agent"),
    ]
    fold = TreeFold()
    fold.extend(events)
    (root,) = fold.result().select(depth=None).roots
    assert (root.name, root.kind) == ("lead", "agent")
    (delegate,) = root.children
    assert (delegate.name, delegate.kind) == ("tool.delegate", "tool")
    (researcher,) = delegate.children
    assert [(c.name, c.kind) for c in researcher.children] == [
        ("chat", "llm"),
        ("tool.word_count", "tool"),
    ]
    profile = ProfileFold()
    profile.extend(events)
    assert profile.result().sections["agent_kind"]["agent"].count == 2
    trace = mlflow_trace(events)
    types = {
        span["name"]: json.loads(span["attributes"]["mlflow.spanType"])
        for span in trace["data"]["spans"]
    }
    assert types["lead"] == types["researcher"] == "AGENT"
    assert types["tool.word_count"] == "TOOL"
    assert types["chat"] == "LLM"


def test_sql_records_show_the_final_kind_name_and_agent(tmp_path: Path, host: Host) -> None:
    _, events = _run(tmp_path, host)
    merged = spans(events)
    lead = next(s for s in merged.values() if s["name"] == "lead")
    sql = (
        "SELECT span_name, kind, agent_id FROM records"
        " WHERE kind IN ('agent', 'tool') ORDER BY start_timestamp"
    )
    result = run_cli("query", sql, "--json", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        {"span_name": "lead", "kind": "agent", "agent_id": lead["span_id"]},
        {"span_name": "tool.delegate", "kind": "tool", "agent_id": None},
        {"span_name": "researcher", "kind": "agent", "agent_id": "r-1"},
        {"span_name": "tool.word_count", "kind": "tool", "agent_id": None},
    ]


def test_logfire_spans_are_named_by_their_message(tmp_path: Path, host: Host) -> None:
    run = configure(tmp_path)
    spanline.otel.install(host.provider)
    template = {"logfire.msg_template": "Fetching {url}", "logfire.msg": "Fetching /a"}
    with host.tracer.start_as_current_span("Fetching {url}", attributes=template):
        pass
    with host.tracer.start_as_current_span("Agent run: {name!r}") as span:
        _late(
            span,
            **{
                "logfire.msg": "Agent run: 'lead'",
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": "lead",
            },
        )
    summary, events = finish(run)
    assert one(events, "Fetching /a")["kind"] is None
    assert [agent.name for agent in summary.agents] == ["lead"]  # the agent's name wins


def test_a_plain_provider_span_stays_as_it_was(tmp_path: Path) -> None:
    """A span with no GenAI or OpenInference attribute keeps its name and no kind."""
    provider = TracerProvider()
    run = configure(tmp_path)
    spanline.otel.install(provider)
    with provider.get_tracer("app").start_as_current_span("GET /items") as span:
        span.set_attribute("http.method", "GET")
    summary, events = finish(run)
    provider.shutdown()
    (end,) = [e for e in events if e["event"] == "span_end"]
    assert "kind" not in end and "name" not in end
    assert one(events, "GET /items")["kind"] is None
    assert summary.agents == []
