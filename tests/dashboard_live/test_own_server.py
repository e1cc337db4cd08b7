"""A program that served its own dashboard says, as it exits, how to serve the run again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests._helpers import BARE_PATH

PROGRAM = (
    "import spanline\n"
    "spanline.configure_observability(enabled=True, service_name='own')\n"
    "with spanline.get_tracer().span('work', kind='agent'):\n"
    "    pass\n"
)


def run(
    tmp_path: Path,
    dashboard: str = "1",
    program: str = PROGRAM,
    base: Path | None = None,
    one_stream: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``program`` in a bare environment; with ``one_stream``, stderr goes into stdout,
    in the order the user sees them."""
    env = {"PATH": BARE_PATH, "SPANLINE_DIR": str(base or tmp_path / "base")}
    env["SPANLINE_DASHBOARD"] = dashboard
    return subprocess.run(
        [sys.executable, "-c", program],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if one_stream else subprocess.PIPE,
        text=True,
        timeout=120,
        check=True,
    )


def test_a_program_that_served_its_dashboard_prints_the_reopen_command_at_exit(
    tmp_path: Path,
) -> None:
    result = run(tmp_path, "1")
    (run_dir,) = (tmp_path / "base" / "runs").glob("own-*")
    lines = result.stderr.splitlines()
    assert any(line.startswith("spanline: dashboard at http://") for line in lines)
    prefix = "spanline: run ended, dashboard stopped; reopen with: "
    assert lines[-1].startswith(prefix)
    command = lines[-1].removeprefix(prefix).split()
    assert command[1:] == ["serve", str(run_dir.relative_to(tmp_path))]
    # Not on this PATH: the one beside the program's Python, which serves the run.
    assert Path(command[0]).name == "spanline" and Path(command[0]).is_file()


def test_no_dashboard_no_reopen_command(tmp_path: Path) -> None:
    result = run(tmp_path, "0")
    assert "reopen with" not in result.stderr


def test_the_reopen_command_comes_last_even_after_an_explicit_shutdown(tmp_path: Path) -> None:
    """A program that shuts tracing down itself and then prints its own results still ends
    with the reopen command, said once, as it exits."""
    program = PROGRAM + "spanline.shutdown()\nprint('results of the program', flush=True)\n"
    result = run(tmp_path, program=program, one_stream=True)
    lines = result.stdout.splitlines()
    assert lines.index("results of the program") < len(lines) - 1
    assert lines[-1].startswith("spanline: run ended, dashboard stopped; reopen with: ")
    assert sum("reopen with" in line for line in lines) == 1


def test_the_reopen_command_is_said_when_the_program_ends_tracing_in_its_own_exit_hook(
    tmp_path: Path,
) -> None:
    """A program (or a framework) that shuts tracing down from an exit hook of its own,
    registered after configuring, runs it before spanline's: the command is still said,
    once and last."""
    program = PROGRAM + (
        "import atexit\n"
        "def finish():\n"
        "    spanline.shutdown()\n"
        "    print('results of the program', flush=True)\n"
        "atexit.register(finish)\n"
    )
    result = run(tmp_path, program=program, one_stream=True)
    lines = result.stdout.splitlines()
    assert "results of the program" in lines
    assert lines[-1].startswith("spanline: run ended, dashboard stopped; reopen with: ")
    assert sum("reopen with" in line for line in lines) == 1


def test_a_second_run_with_a_dashboard_says_only_its_own_reopen_command(tmp_path: Path) -> None:
    """Configuring again ends the first run (and its server): at exit the program says the
    command of its last run only, whether that run ended at exit or before."""
    second = "spanline.configure_observability(enabled=True, service_name='two')\n"
    for ending in ("", "spanline.shutdown()\n"):
        base = tmp_path / ("explicit" if ending else "at-exit")
        result = run(tmp_path, program=PROGRAM + second + ending, base=base)
        (second_run,) = (base / "runs").glob("two-*")
        said = [line for line in result.stderr.splitlines() if "reopen with" in line]
        assert len(said) == 1, ending
        assert said[0].endswith(second_run.name)
