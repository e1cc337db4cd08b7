"""LangGraph: a lead agent whose tool is a researcher agent, who counts words with a tool.

Both agents are ``langchain.agents.create_agent`` graphs (LangGraph underneath), named
``lead`` and ``researcher``. Integrations to load come from ``SPANLINE_INSTRUMENT``;
with the argument ``off``, ``langchain``'s is undone before the agents run; with
``budget``, it prints what a spent budget surfaces as.
"""

from __future__ import annotations

import sys

from langchain.agents import create_agent
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

import spanline


@tool
def word_count(text: str) -> int:
    """Count the words in a text."""
    return len(text.split())


def run(mode: str = "on") -> None:
    """Run the two agents; tracing is set up by the caller (``budget``: print what a spent
    budget surfaces as)."""
    model = ChatOpenAI(model="gpt-4o-mini", max_retries=0)
    researcher = create_agent(
        model, tools=[word_count], system_prompt="Count words.", name="researcher"
    )

    @tool("researcher")
    def ask_researcher(question: str) -> str:
        """Ask the researcher."""
        answer = researcher.invoke({"messages": [{"role": "user", "content": question}]})
        return str(answer["messages"][-1].content)

    lead = create_agent(model, tools=[ask_researcher], system_prompt="Delegate.", name="lead")
    question = {"messages": [{"role": "user", "content": "How many words in 'the quick fox'?"}]}
    # The thread id is LangGraph's conversation id (gen_ai.conversation.id).
    if mode == "budget":  # a budget spent by the first call (SPANLINE_MAX_TOKENS=1)
        try:
            lead.invoke(question, {"configurable": {"thread_id": "conversation-1"}})
            print("returned")
        except Exception as exc:
            print(f"raised {type(exc).__name__} {getattr(exc, 'budget', None)}")
        return
    result = lead.invoke(question, {"configurable": {"thread_id": "conversation-1"}})
    print(result["messages"][-1].content)


def main(mode: str) -> None:
    spanline.configure_observability(enabled=True, service_name="langgraph")
    if mode == "off":
        spanline.uninstrument("langchain")
    run(mode)
    spanline.shutdown()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "on")
