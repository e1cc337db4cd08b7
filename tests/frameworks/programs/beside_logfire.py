"""One of the framework programs with Logfire configured first, in one process.

``beside_logfire.py FRAMEWORK WHO``: FRAMEWORK is ``openai-agents``, ``pydantic-ai``,
``langgraph``, ``google-adk`` (the researcher as the lead's ``AgentTool``),
``google-adk-sub-agents`` (the researcher as a sub-agent) or ``crewai`` (in CrewAI's venv);
Logfire is configured first (nothing sent anywhere, its spans kept in
memory) with its own integration for that framework, then spanline when WHO is
``spanline`` (``alone`` leaves spanline out), with the OpenTelemetry bridge on Logfire's
provider. The last line printed is Logfire's spans
as JSON (name, the parent's name, attributes), for the test to compare both runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

FRAMEWORK, WHO = sys.argv[1], sys.argv[2]
if FRAMEWORK == "langgraph":  # Logfire's way to trace LangChain: LangSmith's OpenTelemetry
    os.environ |= {"LANGSMITH_OTEL_ENABLED": "true", "LANGSMITH_OTEL_ONLY": "true"}
    os.environ |= {"LANGSMITH_TRACING": "true", "LANGSMITH_API_KEY": "unused"}

import logfire  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)

import spanline  # noqa: E402
import spanline.otel  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))


def logfire_spans(exporter: InMemorySpanExporter) -> list[dict[str, Any]]:
    spans = exporter.get_finished_spans()
    names = {span.context.span_id: span.name for span in spans}
    return [
        {
            "name": span.name,
            "parent": None if span.parent is None else names.get(span.parent.span_id, "?"),
            "attributes": dict(span.attributes or {}),
        }
        for span in spans
    ]


def main() -> None:
    exporter = InMemorySpanExporter()
    logfire.configure(
        send_to_logfire=False,
        console=False,
        additional_span_processors=[SimpleSpanProcessor(exporter)],
    )
    if FRAMEWORK == "openai-agents":
        logfire.instrument_openai_agents()
        from openai_agents import run

        def go() -> None:
            run("as_tool")
    elif FRAMEWORK == "pydantic-ai":
        logfire.instrument_pydantic_ai()
        from pydantic_ai_agents import run as go
    elif FRAMEWORK.startswith("google-adk"):  # Logfire reads ADK's own OpenTelemetry spans
        from google_adk_agents import run as adk

        mode = "sub_agents" if FRAMEWORK.endswith("sub-agents") else "agent_tool"

        def go() -> None:
            asyncio.run(adk(mode))
    elif FRAMEWORK == "crewai":  # Logfire's way to trace CrewAI: OpenInference's instrumentor
        from openinference.instrumentation.crewai import CrewAIInstrumentor

        CrewAIInstrumentor().instrument()
        from crewai_crew import kickoff as go
    else:
        from langgraph_agents import run as go
    if WHO == "spanline":
        spanline.configure_observability(enabled=True, service_name=FRAMEWORK)
        # The bridge on Logfire's provider too, so the application's other spans are kept.
        spanline.otel.install()
    go()
    if FRAMEWORK == "langgraph":
        from langchain_core.tracers.langchain import wait_for_all_tracers

        wait_for_all_tracers()  # LangSmith builds its spans on a thread
    if FRAMEWORK == "crewai":
        from crewai.events import crewai_event_bus

        crewai_event_bus.flush()  # CrewAI hands its last event to its thread pool
    if WHO == "spanline":
        spanline.shutdown()
    logfire.force_flush()
    print(json.dumps(logfire_spans(exporter), default=str))


if __name__ == "__main__":
    main()
