"""pydantic-ai: a lead agent that delegates to a researcher through a tool (pydantic-ai's
documented delegation pattern); the researcher counts words with a tool.

Integrations to load come from ``SPANLINE_INSTRUMENT``. With the argument ``preset``, the
program sets pydantic-ai's class-wide instrumentation itself before configuring spanline
(a setting spanline must keep) and prints whether it was kept.
"""

from __future__ import annotations

import sys

from pydantic_ai import Agent, InstrumentationSettings, RunContext

import spanline


def run() -> None:
    """Run the two agents; tracing is set up by the caller."""
    researcher = Agent("openai:gpt-4o-mini", name="researcher", instructions="Count words.")

    @researcher.tool_plain
    def word_count(text: str) -> int:
        """Count the words in a text."""
        return len(text.split())

    lead = Agent("openai:gpt-4o-mini", name="lead", instructions="Delegate.")

    @lead.tool
    async def ask_researcher(ctx: RunContext[None], question: str) -> str:
        """Ask the researcher."""
        answer = await researcher.run(question, usage=ctx.usage)
        return answer.output

    print(lead.run_sync("How many words in 'the quick brown fox'?").output)


def main(mode: str) -> None:
    settings = InstrumentationSettings(include_content=False)
    if mode == "preset":
        Agent.instrument_all(settings)
    spanline.configure_observability(enabled=True, service_name="pydantic-ai")
    run()
    if mode == "preset":
        print("kept" if Agent._instrument_default is settings else "replaced")
    spanline.shutdown()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "on")
