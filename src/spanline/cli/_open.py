"""``spanline open``: print a run's directory, and open it where a desktop exists."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import orjson

from spanline.cli._app import cli, find_run, read_options

__all__ = ["open_run"]


@cli.command("open")
@click.argument("run", required=False)
@read_options
def open_run(run: str | None, directory: Path | None, as_json: bool) -> None:
    """Print the directory of RUN (an id, 'latest' by default, or a path), and open it
    in the file manager when there is a desktop (macOS, or DISPLAY / WAYLAND_DISPLAY set).
    """
    found = find_run(run, directory)
    if as_json:
        data = {"run_id": found.run_id, "directory": str(found.directory)}
        sys.stdout.write(orjson.dumps(data).decode() + "\n")
    else:
        sys.stdout.write(f"{found.directory}\n")
    sys.stdout.flush()
    opener = desktop_opener()
    if opener is None:
        return
    try:
        # Detached and silent: a file manager that is slow to start (or fails) is never
        # this command's problem; the directory is printed either way.
        subprocess.Popen(
            [opener, str(found.directory)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        pass


def desktop_opener() -> str | None:
    """The command that opens a directory on this desktop, or None without a desktop.

    Returns:
        The path of ``open`` on macOS, or of ``xdg-open`` when ``DISPLAY`` or
        ``WAYLAND_DISPLAY`` is set; None when there is no desktop or no such command.
    """
    if sys.platform == "darwin":
        return shutil.which("open")
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return shutil.which("xdg-open")
    return None
