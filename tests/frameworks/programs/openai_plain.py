"""The OpenAI SDK alone, traced by ``spanline.instrument("openai")`` (from
``SPANLINE_INSTRUMENT``): a chat completion, a streamed one and a Responses call, the
same program in every venv (openai 2.x beside CrewAI, 3.x beside the other frameworks).
"""

from __future__ import annotations

import openai

import spanline

WORD_COUNT = {
    "type": "function",
    "function": {"name": "word_count", "parameters": {"properties": {"text": {"type": "string"}}}},
}


def main() -> None:
    spanline.configure_observability(enabled=True, service_name="openai")
    client = openai.OpenAI(max_retries=0)
    ask = [{"role": "user", "content": "How many words?"}]
    client.chat.completions.create(model="gpt-4o-mini", messages=ask)  # type: ignore[arg-type]
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=ask,  # type: ignore[arg-type]
        tools=[WORD_COUNT],  # type: ignore[list-item]
        stream=True,
        stream_options={"include_usage": True},
    )
    for _ in stream:
        pass
    client.responses.create(model="gpt-4o-mini", input="How many words?")
    print(openai.__version__)
    spanline.shutdown()


if __name__ == "__main__":
    main()
