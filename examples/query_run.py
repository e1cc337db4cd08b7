"""A small, reproducible run to try ``spanline query`` on (docs/query.md uses it).

Two agents call MCP tools with arguments (one tool fails, twice with the same
arguments), read files larger than 10,000 characters, run a custom tool (failing once) and
call models that report token usage. Span ids count 1, 2, 3… and the clock
advances one second per reading, so every query gives the same rows each time.

Run:  python examples/query_run.py BASE_DIR
Then: spanline --dir BASE_DIR query "SELECT span_name, duration FROM records"
"""

from __future__ import annotations

import sys

import spanline
from spanline.testing import deterministic_sources

SIZES = {"docs/design.md": 12_500, "src/encoder.go": 31_000}
CHUNK = 5_000
MIRRORS: list[str] = []  # each miss adds a mirror, so later misses look in more places


@spanline.traced_tool(name="mcp__github__search_code")
def search_code(query: str, repo: str) -> list[str]:
    return [f"{repo}/src/encoder.go", f"{repo}/docs/design.md"]


@spanline.traced_tool(name="mcp__filesystem__read_file")
def read_file(path: str) -> str:
    if path not in SIZES:
        MIRRORS.append(f"mirror-{len(MIRRORS) + 1}")
        for mirror in MIRRORS:  # each lookup is an event: one more tick of the clock
            spanline.event("file.lookup", path=path, mirror=mirror)
        raise FileNotFoundError(f"no such file: {path}")
    for offset in range(0, SIZES[path], CHUNK):
        spanline.event("file.chunk", path=path, offset=offset)
    return "x" * SIZES[path]


@spanline.traced_tool
def summarize_notes(notes: str) -> str:
    if not notes:
        raise ValueError("nothing to summarize")
    return notes[:40]


@spanline.traced_llm(provider="anthropic", model="claude-sonnet-4-5")
def plan(prompt: str) -> dict[str, object]:
    return {"type": "message", "usage": {"input_tokens": 1200, "output_tokens": 300}}


@spanline.traced_llm(provider="openai", model="gpt-4o")
def draft(prompt: str) -> dict[str, object]:
    usage = {"prompt_tokens": 800, "completion_tokens": 200, "total_tokens": 1000}
    return {"object": "chat.completion", "model": "gpt-4o", "usage": usage}


def read_or_skip(path: str) -> str:
    try:
        return read_file(path)
    except FileNotFoundError:
        return ""  # recorded on the tool's span; the agent goes on


@spanline.traced_agent(id="agent_a")
def researcher(question: str) -> str:
    plan(question)
    search_code("encoder", repo="eigenda")
    text = read_or_skip("docs/design.md") + read_or_skip("CHANGES.md")
    return summarize_notes(text)


@spanline.traced_agent(id="agent_b")
def writer(question: str) -> str:
    draft(question)
    text = read_or_skip("src/encoder.go") + read_or_skip("CHANGES.md")
    try:
        summarize_notes("")
    except ValueError:
        pass  # recorded on the tool's span
    draft(text[:100])
    return "done"


def main(base: str) -> None:
    run = spanline.configure_observability(
        enabled=True,
        service_name="query-demo",
        run_dir=base,
        run_id="query-demo",
        synchronous=True,
        **deterministic_sources(),
    )
    assert run is not None
    with spanline.span("answer", kind="phase"):
        researcher("How does the encoder work?")
        writer("How does the encoder work?")
    spanline.shutdown()
    print(run.directory)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".spanline")
