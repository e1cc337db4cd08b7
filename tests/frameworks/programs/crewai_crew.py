"""CrewAI: a lead who delegates to a researcher, who counts words with a tool.

The lead may delegate (``allow_delegation=True``); the researcher has ``word_count``.
Integrations to load come from ``SPANLINE_INSTRUMENT``.
"""

from __future__ import annotations

from crewai import LLM, Agent, Crew, Process, Task
from crewai.events import crewai_event_bus
from crewai.tools import tool

import spanline


@tool("word_count")
def word_count(text: str) -> int:
    """Count the words in a text."""
    return len(text.split())


def kickoff() -> None:
    """Run the crew and print its answer."""
    llm = LLM(model="openai/gpt-4o-mini", max_retries=0)
    researcher = Agent(
        role="researcher", goal="Count words.", backstory="Careful.", tools=[word_count],
        llm=llm, allow_delegation=False,
    )  # fmt: skip
    lead = Agent(role="lead", goal="Delegate.", backstory="Busy.", llm=llm, allow_delegation=True)
    task = Task(
        description="How many words are in 'the quick brown fox'?",
        expected_output="A number.", agent=lead,
    )  # fmt: skip
    crew = Crew(agents=[lead, researcher], tasks=[task], process=Process.sequential)
    print(crew.kickoff())


def main() -> None:
    spanline.configure_observability(enabled=True, service_name="crewai")
    kickoff()
    # CrewAI hands its last event (the crew's end) to its thread pool as kickoff returns.
    crewai_event_bus.flush()
    spanline.shutdown()


if __name__ == "__main__":
    main()
