"""Runs for the CLI tests: a deterministic one whose every file is byte-stable."""

from __future__ import annotations

import os
from pathlib import Path

import orjson

import spanline
from spanline.testing import deterministic_sources
from tests._helpers import clean_env

GOLDEN_RUN = "golden-run"


@spanline.traced_tool
def read_file(path: str) -> str:
    return f"# {path}\nfn main() {{}}\n"


@spanline.traced_tool
def grep(pattern: str) -> list[str]:
    return [pattern]


@spanline.traced_llm(provider="anthropic", model="claude-sonnet-4-5")
def think(prompt: str) -> dict[str, object]:
    return {
        "type": "message",
        "model": "claude-sonnet-4-5-20250929",
        "usage": {
            "input_tokens": 800 + len(prompt),
            "output_tokens": 120,
            "cache_read_input_tokens": 200,
        },
    }


@spanline.traced_agent(kind="library-analysis")
def review(path: str, agent_id: str) -> str:
    source = read_file(path)
    grep("fn ")
    think(source)
    if path.endswith("broken.rs"):
        raise ValueError(f"cannot parse {path}")
    return "looks fine"


def make_golden_run(
    base: Path, run_id: str = GOLDEN_RUN, *, start: float = 1_700_000_000.0
) -> Path:
    """Write a deterministic run under ``base``; return its directory.

    Every file of the run directory is byte-stable (the metadata and the log are
    replaced by fixed text, the git branch of the run_start line is cleared), so
    the disk use that ``list`` shows is stable too.
    """
    run = spanline.configure_observability(
        enabled=True,
        service_name="golden",
        environment="test",
        run_dir=base,
        run_id=run_id,
        synchronous=True,
        query="Review the parser crate for edge cases",
        source_repo="example/repo",
        source_commit="0" * 40,
        handle_signals=False,
        **deterministic_sources(start),
    )
    assert run is not None
    tracer = spanline.get_tracer()
    with tracer.span("review-run", kind="run"):
        with tracer.span("analysis", kind="phase"):
            for number, path in enumerate(("src/main.rs", "src/lexer.rs", "src/broken.rs")):
                try:
                    review(path, agent_id=f"reviewer-{number}")
                except ValueError:
                    pass  # recorded on the agent's span
            spanline.phase("reviewed", files=3)
        with tracer.span("report", kind="phase"):
            with tracer.span("writer", kind="synthesis"):
                read_file("REPORT.md")
    spanline.shutdown()
    _stabilize(run.directory)
    return run.directory


def _stabilize(directory: Path) -> None:
    (directory / "execution_metadata.yaml").write_text('query: "fixed for golden files"\n')
    (directory / "spanline.log").unlink(missing_ok=True)
    path = directory / "telemetry.jsonl"
    lines = path.read_bytes().splitlines()
    first = orjson.loads(lines[0])
    assert first["event"] == "run_start"
    first["git_branch"] = None
    first["spanline_version"] = "0.0.0"
    lines[0] = orjson.dumps(first)
    # Stack traces hold the checkout's path: its length would change the run's size.
    for number, line in enumerate(lines):
        event = orjson.loads(line)
        error = event.get("error")
        if isinstance(error, dict) and "stacktrace" in error:
            error["stacktrace"] = "Traceback (fixed for golden files)"
            lines[number] = orjson.dumps(event)
    path.write_bytes(b"\n".join(lines) + b"\n")
    # The summary covers the log as it is now (its log_offset is the log's size).
    summary_path = directory / "run_summary.json"
    summary = orjson.loads(summary_path.read_bytes())
    summary["log_offset"] = path.stat().st_size
    summary_path.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2) + b"\n")


def cli_env() -> dict[str, str]:
    """A fixed-width, colourless terminal for the CLI's output."""
    env = clean_env({"COLUMNS": "100", "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"})
    env.pop("FORCE_COLOR", None)
    return env


def file_size(path: Path) -> int:
    return os.path.getsize(path)
