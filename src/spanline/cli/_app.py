"""The Click group, its shared options and the output helpers of every command."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import click

from spanline._runs._store import Run, resolve_run
from spanline._version import __version__

__all__ = [
    "BAD_INPUT",
    "DIR_HELP",
    "FINDING",
    "INTERRUPTED",
    "CliError",
    "cli",
    "command",
    "console",
    "find_run",
    "read_options",
]

F = TypeVar("F", bound=Callable[..., Any])

#: The exit statuses every command shares (besides 0, done).
FINDING, BAD_INPUT, INTERRUPTED = 1, 2, 130


class CliError(Exception):
    """A one-line error for the user, with the exit status to return (bad input by default)."""

    def __init__(self, message: str, code: int = BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code


DIR_HELP = "base directory holding runs/ (default: $SPANLINE_DIR, else .spanline)"

#: Each command and the module that defines it (registering it on import).
_COMMAND_MODULES = {
    "analyze": "_analyze",
    "archive": "_archive",
    "check": "_check",
    "compare": "_compare",
    "emit": "_emit",
    "export": "_export",
    "list": "_list",
    "open": "_open",
    "prune": "_prune",
    "query": "_query",
    "replay": "_replay",
    "serve": "_serve",
    "sessions": "_sessions",
    "show": "_show",
    "summary": "_summary",
    "tail": "_tail",
    "tools": "_tools",
}


class _LazyGroup(click.Group):
    """A group that imports a command's module only when that command runs.

    ``spanline summary`` then never imports what ``compare`` or ``export`` need.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(_COMMAND_MODULES))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in _COMMAND_MODULES:
            import importlib

            importlib.import_module(f"spanline.cli.{_COMMAND_MODULES[cmd_name]}")
        return self.commands.get(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; Ctrl-C is one error line and status 130.

        Click itself would turn it into an ``Abort`` after writing an empty line
        on stderr: the interruption is taken here first.
        """
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise CliError("interrupted", INTERRUPTED) from None


@click.group(
    cls=_LazyGroup,
    name="spanline",
    help="Analyse spanline runs: every command is a fold of a run's telemetry.jsonl.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(
    __version__, "--version", prog_name="spanline", message="%(prog)s %(version)s"
)
@click.option("--dir", "directory", type=click.Path(path_type=Path), help=DIR_HELP)
@click.pass_context
def cli(ctx: click.Context, directory: Path | None) -> None:
    """The group; ``--dir`` given here applies to every command."""
    ctx.obj = {"dir": directory}


def read_options(func: F) -> F:
    """The options of every read command: ``--dir`` and ``--json``, after the command too."""
    func = click.option("--json", "as_json", is_flag=True, help="print JSON")(func)
    func = click.option("--dir", "directory", type=click.Path(path_type=Path), help=DIR_HELP)(func)
    return func


def base_dir(directory: Path | None) -> Path:
    """The base directory: the command's ``--dir``, else the one given before it, else
    ``SPANLINE_DIR`` (read through the settings table, as the library reads it), else
    ``.spanline``."""
    if directory is not None:
        return directory
    context = click.get_current_context(silent=True)
    while context is not None:
        if isinstance(context.obj, dict) and context.obj.get("dir") is not None:
            return Path(context.obj["dir"])
        context = context.parent
    from spanline._session._settings import variable_setting

    return Path(variable_setting("base_dir"))


def find_run(target: str | None, directory: Path | None) -> Run:
    """The run a command works on: an id, ``latest`` (None), or a path (with a ``/``)."""
    return resolve_run(target, base_dir(directory))


def console(*, stderr: bool = False, width: int | None = None, file: Any = None) -> Any:
    """The Rich console of every command: no colour when the output is not a terminal or
    NO_COLOR is set, and every value cut to a display length before it is drawn
    (:class:`~spanline.cli._render.BoundedConsole`).

    Args:
        stderr: draw on stderr rather than stdout.
        width: the width (default: ``COLUMNS``, else the terminal's).
        file: draw into this file instead (a measure taken off screen).
    """
    from spanline.cli._render import BoundedConsole

    stream = file if file is not None else sys.stderr if stderr else sys.stdout
    plain = file is not None or not stream.isatty() or "NO_COLOR" in os.environ
    columns = width or (int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS") else None)
    return BoundedConsole(
        file=stream,
        no_color=plain,
        color_system=None if plain else "auto",
        highlight=False,
        width=columns,
        soft_wrap=False,
    )


@cache
def command() -> click.Group:
    """The ``spanline`` group with every command registered (each is also loaded on demand)."""
    import importlib

    for module in _COMMAND_MODULES.values():  # each registers its commands on import
        importlib.import_module(f"spanline.cli.{module}")

    return cli
