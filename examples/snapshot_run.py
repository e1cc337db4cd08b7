"""A reproducible run for snapshot tests: the same code gives the same bytes.

Span ids count 1, 2, 3…, the clock advances one second per reading, the run id
is fixed and every span is written as it ends, so two runs of this script
write byte-identical ``telemetry.jsonl`` and ``run_summary.json``.

Run:  python examples/snapshot_run.py BASE_DIR
"""

from __future__ import annotations

import sys

import spanline
from spanline.testing import deterministic_sources


@spanline.traced_tool
def read_file(path: str) -> str:
    return f"# {path}\nfn main() {{}}\n"


@spanline.traced_llm(provider="anthropic", model="claude-sonnet-4-5")
def think(prompt: str) -> dict[str, object]:
    return {
        "type": "message",
        "model": "claude-sonnet-4-5-20250929",
        "usage": {"input_tokens": 800 + len(prompt), "output_tokens": 120},
    }


@spanline.traced_agent(id="reviewer")
def review(path: str) -> str:
    source = read_file(path)
    think(source)
    if path.endswith("broken.rs"):
        raise ValueError(f"cannot parse {path}")
    return "looks fine"


def main(base: str) -> None:
    run = spanline.configure_observability(
        enabled=True,
        service_name="snapshot",
        run_dir=base,
        run_id="snapshot-run",
        synchronous=True,
        source_repo="example/repo",
        source_commit="0" * 40,
        **deterministic_sources(),
    )
    assert run is not None
    with spanline.span("analysis", kind="phase"):
        for path in ("src/main.rs", "src/broken.rs"):
            try:
                review(path)
            except ValueError:
                pass  # recorded on the agent's span
        spanline.phase("reviewed", files=2)
    summary = spanline.shutdown()
    assert summary is not None
    print(f"telemetry: {run.telemetry_path}")
    print(f"summary:   {run.summary_path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".spanline")
