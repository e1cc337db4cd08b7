"""Google ADK: a lead agent that delegates to a researcher, who counts words with a tool.

``agent_tool`` (the default) makes the researcher the lead's ``AgentTool``; ``sub_agents``
makes it a sub-agent the lead transfers to; ``plain`` runs the AgentTool case with
``spanline.otel.install()`` instead of an integration. ADK talks Gemini's API to the loopback server
(``GOOGLE_GEMINI_BASE_URL``). Integrations to load come from ``SPANLINE_INSTRUMENT``.
"""

from __future__ import annotations

import asyncio
import sys

from google.adk.agents import LlmAgent
from google.adk.runners import Runner
from google.adk.sessions import InMemorySessionService
from google.adk.tools.agent_tool import AgentTool
from google.genai import types

import spanline
from spanline import otel

MODEL = "gemini-2.0-flash"


def word_count(text: str) -> int:
    """Count the words in a text."""
    return len(text.split())


async def run(mode: str) -> None:
    researcher = LlmAgent(
        name="researcher", model=MODEL, instruction="Count words.", tools=[word_count]
    )
    if mode == "sub_agents":
        lead = LlmAgent(name="lead", model=MODEL, instruction="Transfer.", sub_agents=[researcher])
    else:
        lead = LlmAgent(
            name="lead", model=MODEL, instruction="Delegate.", tools=[AgentTool(agent=researcher)]
        )
    sessions = InMemorySessionService()
    # The session id is ADK's conversation id (gen_ai.conversation.id).
    await sessions.create_session(app_name="words", user_id="user", session_id="conversation-1")
    runner = Runner(agent=lead, app_name="words", session_service=sessions)
    question = types.Content(role="user", parts=[types.Part(text="Count 'the quick brown fox'.")])
    async for event in runner.run_async(
        user_id="user", session_id="conversation-1", new_message=question
    ):
        if event.is_final_response() and event.content and event.content.parts:
            print(event.content.parts[0].text)


def main(mode: str) -> None:
    spanline.configure_observability(enabled=True, service_name="google-adk")
    if mode == "plain":  # the bridge alone, as a user might try it first
        otel.install()
    asyncio.run(run(mode))
    spanline.shutdown()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "agent_tool")
