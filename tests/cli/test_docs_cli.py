"""docs/cli.md documents every registered command, and its examples are real commands."""

from __future__ import annotations

import re
from pathlib import Path

from spanline.cli._app import command
from tests._helpers import ROOT, run_cli
from tests.cli._runs import cli_env, make_golden_run

DOC = ROOT / "docs" / "cli.md"


def test_every_registered_command_has_a_section() -> None:
    text = DOC.read_text(encoding="utf-8")
    documented = set(re.findall(r"^## `spanline ([a-z-]+)", text, flags=re.MULTILINE))
    registered = set(command().commands)
    assert registered <= documented, registered - documented


def test_every_documented_option_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    group = command()
    for name, option in re.findall(r"^\$ spanline ([a-z-]+)[^\n]*?(--[a-z-]+)", text, re.M):
        if name in group.commands:
            params = {o for p in group.commands[name].params for o in getattr(p, "opts", [])}
            params |= {
                o for p in group.commands[name].params for o in getattr(p, "secondary_opts", [])
            }
            assert option in params, (name, option)


def test_the_documented_examples_print_what_the_doc_shows(tmp_path: Path) -> None:
    make_golden_run(tmp_path)
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```console\n\$ spanline ([^\n]*)\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 6
    for args, expected in blocks:
        result = run_cli("--dir", str(tmp_path), *args.split(), env=cli_env())
        assert result.returncode == 0, result.stderr
        assert result.stdout == expected, args


def test_the_docs_index_names_every_command_that_cli_md_covers() -> None:
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    (entry,) = re.findall(
        r"^- \[The `spanline` command\]\(cli\.md\):(.*?)(?=^- |\Z)", index, re.M | re.S
    )
    named = set(re.findall(r"`([a-z]+)`", entry))
    assert set(command().commands) <= named, set(command().commands) - named
