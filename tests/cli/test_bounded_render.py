"""Every command draws huge names and strings cut to the display length, and fast.

A run holds values of 4 MB (an open span's name, a tool's, a phase's, an error
message, the question): far past the display length, and under the largest line
DuckDB reads, so ``query`` draws them too (the 50 MB name is the benchmark's).
Each registered command runs on it through the real entry point in a fresh
interpreter that records the longest text handed to Rich's renderer; none may
exceed the display length and its mark. A command added later must be listed
here, so it is checked too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spanline.cli._app import command
from spanline.folds.display import DISPLAY_CHARS, longest_shown
from tests._helpers import run_python
from tests.cli._huge import write_huge_run

HUGE = 4 * 1024 * 1024

RUN_A = "huge-20261207T000000-aaaaaa"
RUN_B = "huge-20261207T000001-bbbbbb"

#: Every command, and the arguments that make it draw the huge values (None: it draws
#: nothing of a run's values, and why).
COMMANDS: dict[str, list[list[str]] | str] = {
    "summary": [["summary", RUN_A], ["summary", RUN_A, "--refold"]],
    "show": [["show", RUN_A], ["show", RUN_A, "--errors"], ["show", RUN_A, "--depth", "0"]],
    "tools": [["tools", RUN_A]],
    "list": [["list"]],
    "compare": [["compare", RUN_A, RUN_B]],
    "query": [["query", "select span_name, attributes from records", RUN_A]],
    "export": [["export", RUN_A, "--format", "bundle", "--dry-run"]],
    "open": [["open", RUN_A]],
    "emit": "writes lines and prints a span id, which it generates",
    "analyze": [["analyze", RUN_A]],
    "check": [["check", RUN_A, "--rules", "{base}/rules.yaml"]],
    "tail": [["tail", RUN_A, "--plain"]],
    "sessions": [["sessions"]],
    "prune": "prints the ids and sizes of the runs it deletes, nothing of their values",
    "replay": "sends spans to a receiver and prints run ids and counts",
    "archive": "copies files and prints run ids",
    "serve": "prints its address only; what the dashboard serves is bounded by its own test",
}

#: In a fresh interpreter: record the longest text Rich is handed to draw or measure,
#: run the command through the entry point, write the figure to a file.
_SPY = """
import sys
from rich.console import Console
from rich.text import Text
longest = [0]
def spy(original):
    def wrapper(self, *args, **kwargs):
        longest[0] = max(longest[0], len(self.plain))
        return original(self, *args, **kwargs)
    return wrapper
Text.__rich_console__ = spy(Text.__rich_console__)
Text.__rich_measure__ = spy(Text.__rich_measure__)
render_str = Console.render_str
def spied_render_str(self, text, *args, **kwargs):
    longest[0] = max(longest[0], len(text))
    return render_str(self, text, *args, **kwargs)
Console.render_str = spied_render_str
from spanline.cli import main
code = main({args!r})
open({out!r}, "w").write(str(longest[0]))
sys.exit(code)
"""


@pytest.fixture(scope="module")
def huge_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("huge")
    (base / "rules.yaml").write_text("run:\n  max_tokens: 1\nno_errors: true\n")
    write_huge_run(base, RUN_A, HUGE)
    write_huge_run(base, RUN_B, HUGE)
    return base


def test_every_command_is_listed() -> None:
    """A command added later must say here how it draws a huge run."""
    assert set(COMMANDS) == set(command().commands)


CASES = [args for value in COMMANDS.values() if isinstance(value, list) for args in value]


@pytest.mark.parametrize("args", CASES, ids=[" ".join(args[:3]) for args in CASES])
def test_a_command_hands_rich_only_bounded_text(
    args: list[str], huge_base: Path, tmp_path: Path
) -> None:
    out = tmp_path / "longest"
    full = [arg.replace("{base}", str(huge_base)) for arg in [*args, "--dir", str(huge_base)]]
    result = run_python(_SPY.format(args=full, out=str(out)), cwd=tmp_path, timeout=300)
    assert result.returncode in (0, 1), result.stderr[-2000:]
    longest = int(out.read_text())
    # A cell may hold a bounded value and a little more (a kind, a duration, a mark).
    assert longest <= longest_shown() + 200, (args, longest)
    longest_line = max(map(len, result.stdout.splitlines()), default=0)
    assert longest_line < DISPLAY_CHARS * 4, (args, longest_line)


def test_the_spy_sees_what_rich_draws(huge_base: Path, tmp_path: Path) -> None:
    """The measure above can fail: a value drawn whole is seen at its full length."""
    out = tmp_path / "longest"
    code = _SPY.replace("from spanline.cli import main", "from rich import print as main")
    result = run_python(code.format(args="x" * 5000, out=str(out)), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert int(out.read_text()) >= 5000


def test_the_cut_names_where_the_whole_value_is(huge_base: Path, tmp_path: Path) -> None:
    """The output says a value was cut, and show --span prints that span's lines whole."""
    result = run_python(
        _SPY.format(args=["summary", RUN_A, "--dir", str(huge_base)], out=str(tmp_path / "n")),
        env={"COLUMNS": "2000"},  # a line wide enough for a cut value and its mark
        timeout=300,
    )
    assert f"… [{HUGE + len('phase-'):,} characters]" in result.stdout
    assert "spanline show RUN --span SPAN_ID" in result.stderr
    code = (
        "import sys; from spanline.cli import main; "
        f"sys.exit(main(['show', {RUN_A!r}, '--span', 'a000000000000002', '--dir', "
        f"{str(huge_base)!r}]))"
    )
    whole = run_python(code, timeout=300)
    assert whole.returncode == 0, whole.stderr
    record = json.loads(whole.stdout)
    assert record["start"]["name"] == "agent-" + "n" * HUGE
    assert record["end"] is None  # the span is open
    assert record["start"]["attributes"]["note"] == "n" * HUGE


def test_an_unknown_span_is_bad_input(huge_base: Path) -> None:
    code = (
        "import sys; from spanline.cli import main; "
        f"sys.exit(main(['show', {RUN_A!r}, '--span', 'ffffffffffffffff', '--dir', "
        f"{str(huge_base)!r}]))"
    )
    result = run_python(code, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip() == f"spanline: error: no span 'ffffffffffffffff' in run {RUN_A}"
