"""Every command's ``--help``, through the console script, reads as plain text."""

from __future__ import annotations

import click
import pytest

from spanline.cli._app import command
from tests.cli._entry import spanline


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, sub in sorted(group.commands.items()):
        if isinstance(sub, click.Group):
            found += _commands(sub, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


COMMANDS = _commands(command())


def test_every_command_and_subcommand_is_checked() -> None:
    assert {("summary",), ("emit",), ("emit", "span_end"), ("serve",)} <= set(COMMANDS)


@pytest.mark.parametrize("words", COMMANDS, ids=lambda words: " ".join(words) or "spanline")
def test_help_has_no_rest_markup(words: tuple[str, ...]) -> None:
    result = spanline(*words, "--help", env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    assert "Usage: spanline" in result.stdout
    assert "``" not in result.stdout, result.stdout
