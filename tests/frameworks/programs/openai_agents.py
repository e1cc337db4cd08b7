"""openai-agents: a lead that delegates to a researcher, who counts words with a tool.

``as_tool`` (the default) or ``handoff`` (first argument) decides how the lead
delegates; ``budget`` delegates as a tool and prints what a spent budget surfaces
as. Integrations to load come from ``SPANLINE_INSTRUMENT``.
"""

from __future__ import annotations

import os
import sys

from agents import Agent, RunConfig, Runner, function_tool, set_default_openai_api
from agents.tracing.processors import default_exporter

import spanline


@function_tool
def word_count(text: str) -> int:
    """Count the words in a text."""
    return len(text.split())


def run(mode: str) -> None:
    """Run the two agents (``as_tool`` or ``handoff``); tracing is set up by the caller."""
    set_default_openai_api("responses")
    # The SDK's own trace exporter stays on, posting to the loopback server.
    default_exporter().endpoint = f"{os.environ['AGENT_SERVER_URL']}/v1/traces/ingest"
    researcher = Agent(
        name="researcher",
        instructions="Count words with word_count.",
        tools=[word_count],
        model="gpt-4o-mini",
    )
    if mode == "handoff":
        lead = Agent(
            name="lead", instructions="Hand off.", handoffs=[researcher], model="gpt-4o-mini"
        )
    else:
        tool = researcher.as_tool(tool_name="researcher", tool_description="Researches.")
        lead = Agent(name="lead", instructions="Delegate.", tools=[tool], model="gpt-4o-mini")
    question = "How many words are in 'the quick brown fox'?"
    # The group id is the framework's conversation id (gen_ai.conversation.id).
    if mode == "budget":  # a budget spent by the first call (SPANLINE_MAX_TOKENS=1)
        config = RunConfig(group_id="conversation-1")
        print(what_surfaces(lambda: Runner.run_sync(lead, question, run_config=config)))
        return
    result = Runner.run_sync(lead, question, run_config=RunConfig(group_id="conversation-1"))
    print(result.final_output)


def main(mode: str) -> None:
    spanline.configure_observability(enabled=True, service_name="openai-agents")
    run(mode)
    spanline.shutdown()


def what_surfaces(run: object) -> str:
    """What the program sees when a budget stops a call inside the framework."""
    try:
        run()  # type: ignore[operator]
    except Exception as exc:
        return f"raised {type(exc).__name__} {getattr(exc, 'budget', None)}"
    return "returned"


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "as_tool")
