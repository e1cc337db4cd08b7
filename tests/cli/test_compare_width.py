"""``spanline compare`` on an 80-column terminal: every name and every figure whole."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.cli._entry import spanline
from tests.cli.test_compare import T, end, span

NAMES = [
    "application_analysis", "application-analysis", "read_source_file",
    "claude-sonnet-4-5-20250929",
]  # fmt: skip


def _run(base: Path, name: str, ms: float, tokens: int, cost: float, fail: bool) -> str:
    usage = {"gen_ai.usage.input_tokens": tokens - 100, "gen_ai.usage.output_tokens": 100}
    model = {"gen_ai.request.model": "claude-sonnet-4-5-20250929"}
    events = [
        {"event": "run_start", "trace_id": T, "ts": 1.0},
        span("a" * 16, None, "root", "run", 1.0),
        span("b" * 16, "a" * 16, "application_analysis", "phase", 1.0),
        span("c" * 16, "b" * 16, "analyst", "application-analysis", 1.0),
        span("d" * 16, "c" * 16, "tool.read_source_file", "tool", 1.0),
        end("d" * 16, ms / 4, 2.0, status="error" if fail else "ok"),
        span("e" * 16, "c" * 16, "llm.ask", "llm", 2.0, **model),
        end("e" * 16, ms / 2, 3.0, tokens=tokens, **usage, **{"gen_ai.usage.cost_usd": cost}),
        end("c" * 16, ms - 10, 4.0),
        end("b" * 16, ms, 5.0),
        end("a" * 16, ms + 5, 6.0),
    ]
    directory = base / "runs" / name
    directory.mkdir(parents=True)
    lines = b"".join(orjson.dumps(event) + b"\n" for event in events)
    (directory / "telemetry.jsonl").write_bytes(lines)
    return name


@pytest.mark.parametrize("columns", [80, 100])
def test_names_and_figures_survive_a_narrow_terminal(tmp_path: Path, columns: int) -> None:
    a = _run(tmp_path, "before", 18_175.3, 987_654, 4.5678, fail=False)
    b = _run(tmp_path, "after", 36_350.6, 1_975_308, 12.3456, fail=True)
    result = spanline("--dir", str(tmp_path), "compare", a, b, env={"COLUMNS": str(columns)})
    assert result.returncode == 1, result.stderr  # slower, more tokens, a new error
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= columns, result.stdout
    assert "…" not in result.stdout
    for name in NAMES:
        assert any(line.startswith(f" {name} ") for line in lines), (name, result.stdout)
    for figure in ("18,175.3", "36,350.6", "+18,175.3", "+100%", "1.98M", "$12.3456", "0->1"):
        assert figure in result.stdout, (figure, result.stdout)
    titles = [line.strip() for line in lines]
    for title in ("Phases", "Agent kinds", "Tools", "Models"):
        assert title in titles
