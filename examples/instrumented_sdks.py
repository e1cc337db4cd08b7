"""Provider SDK calls traced with no decorator: ``spanline.instrument(...)``.

An agent asks OpenAI and Anthropic through their own clients, streaming and
not, and one ``@traced_llm`` function wraps an instrumented call: its usage is
counted once, on the SDK call's span.

Run:  python examples/instrumented_sdks.py --base-url URL
      (URL serves the OpenAI and Anthropic HTTP APIs: the providers themselves
      with OPENAI_API_KEY / ANTHROPIC_API_KEY set, or a local stand-in.)
"""

from __future__ import annotations

import argparse
import os

import anthropic
import openai

import spanline
from spanline import traced_agent, traced_llm

spanline.instrument("openai")
spanline.instrument("anthropic")


def clients(base_url: str | None) -> tuple[openai.OpenAI, anthropic.Anthropic]:
    openai_url = f"{base_url}/v1" if base_url else None
    return (
        openai.OpenAI(base_url=openai_url, api_key=os.environ.get("OPENAI_API_KEY", "sk-local")),
        anthropic.Anthropic(
            base_url=base_url, api_key=os.environ.get("ANTHROPIC_API_KEY", "sk-ant-local")
        ),
    )


@traced_llm(provider="anthropic")
def summarize(claude: anthropic.Anthropic, text: str) -> str:
    """Returns text only: the instrumented call inside records the usage."""
    with claude.messages.stream(
        model="claude-sonnet-4-5", max_tokens=200, messages=[{"role": "user", "content": text}]
    ) as stream:
        return "".join(stream.text_stream)


@traced_agent(id="researcher")
def research(gpt: openai.OpenAI, claude: anthropic.Anthropic) -> str:
    question = [{"role": "user", "content": "What is a KZG commitment?"}]
    first = gpt.chat.completions.create(model="gpt-4o", messages=question)
    stream = gpt.chat.completions.create(
        model="gpt-4o", messages=question, stream=True, stream_options={"include_usage": True}
    )
    second = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    return summarize(claude, f"{first.choices[0].message.content}\n{second}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--base-url", help="where both APIs are served (default: the providers)")
    args = parser.parse_args()
    spanline.configure_observability(enabled=True, service_name="instrumented-sdks")
    gpt, claude = clients(args.base_url)
    with gpt, claude:
        research(gpt, claude)
    summary = spanline.shutdown()
    assert summary is not None
    totals = summary.totals
    print(f"tokens: {totals.total_tokens}  cost: ${totals.cost_usd:.6f}")
    print(f"LLM calls without usage: {totals.llm_calls_without_usage}")


if __name__ == "__main__":
    main()
