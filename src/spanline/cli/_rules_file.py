"""Reading a rules file for ``spanline check``: YAML or TOML, validated, errors with lines.

A YAML file is composed into its node tree first, so a key the schema refuses
(or a value of the wrong type) is named with the line it is on; TOML's parser
gives no positions, so its errors name the key alone.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from spanline.cli._app import BAD_INPUT, CliError
from spanline.folds.rules import RulesSpec

__all__ = ["MAX_RULES_BYTES", "load_rules", "parse_rules"]

#: A rules file is a few lines; anything past this is refused unread.
MAX_RULES_BYTES = 1 << 20


def load_rules(path: Path) -> RulesSpec:
    """Read and validate the rules file at ``path`` (``.toml``: TOML, else YAML).

    Raises:
        CliError: the file cannot be read, does not parse, or breaks the schema (exit 2).
    """
    try:
        if path.stat().st_size > MAX_RULES_BYTES:
            raise CliError(f"{path}: rules file over {MAX_RULES_BYTES} bytes", BAD_INPUT)
        data = path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read rules file {path}: {exc.strerror or exc}", BAD_INPUT) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CliError(f"{path}: rules file is not UTF-8 text", BAD_INPUT) from None
    return parse_rules(text, toml=path.suffix.lower() == ".toml", where=str(path))


def parse_rules(text: str, *, toml: bool = False, where: str = "rules") -> RulesSpec:
    """Parse and validate rules text.

    Args:
        text: the file's text.
        toml: TOML (else YAML).
        where: the file's name, for messages.

    Returns:
        The validated rules.

    Raises:
        CliError: the text does not parse or breaks the schema (exit 2).
    """
    lines: dict[tuple[Any, ...], int] = {}
    data = _toml(text, where) if toml else _yaml(text, where, lines)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise CliError(f"{where}: a rules file is a mapping of rule sections", BAD_INPUT)
    from pydantic import ValidationError

    try:
        return RulesSpec.model_validate(data)
    except ValidationError as exc:
        raise CliError(_message(exc, lines, where), BAD_INPUT) from None


def _toml(text: str, where: str) -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CliError(f"{where}: not valid TOML: {exc}", BAD_INPUT) from None


def _yaml(text: str, where: str, lines: dict[tuple[Any, ...], int]) -> Any:
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise CliError(f"{where}: not valid YAML{at}: {exc.problem}", BAD_INPUT) from None
    except yaml.YAMLError as exc:
        raise CliError(f"{where}: not valid YAML: {exc}", BAD_INPUT) from None
    if node is not None:
        _lines_of(node, (), lines, set())
    return data


def _lines_of(
    node: Any, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int], seen: set[int]
) -> None:
    """Each key path of the node tree and the line (1-based) its key or item is on.

    An alias is the node it names: each node is walked once, so a file of nested
    aliases (a few lines standing for billions of items) costs its size, not theirs.
    """
    import yaml

    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                here = (*path, key.value)
                lines.setdefault(here, key.start_mark.line + 1)
                _lines_of(value, here, lines, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            here = (*path, index)
            lines.setdefault(here, item.start_mark.line + 1)
            _lines_of(item, here, lines, seen)


def _message(exc: Any, lines: dict[tuple[Any, ...], int], where: str) -> str:
    """The first schema error in one line: the key, its line when known, and why."""
    # The deepest error first: for a union (`no_errors: true` or a table) it is the
    # branch the value was meant for.
    error = max(exc.errors(), key=lambda found: len(found["loc"]))
    loc = tuple(part for part in error["loc"] if not _is_union_branch(part))
    key = ".".join(str(part) for part in loc) or "(top level)"
    line = None
    for size in range(len(loc), 0, -1):  # the key's own line, else its nearest parent's
        line = lines.get(loc[:size])
        if line is not None:
            break
    at = f" (line {line})" if line is not None else ""
    if error["type"] == "extra_forbidden":
        why = f"unknown key {str(loc[-1])!r}" if loc else "unknown key"
    else:
        why = error["msg"]
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {key}{at}: {why}{more}"


def _is_union_branch(part: Any) -> bool:
    """Pydantic adds the branch of a union to an error's path (``bool``, ``ErrorsRule``)."""
    return part in _UNION_BRANCHES


_UNION_BRANCHES = frozenset({"bool", "ErrorsRule"})
