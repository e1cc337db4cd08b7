"""A small JSON Schema checker for the published telemetry schema.

``spanline emit`` validates each line before writing it, and a plain ``pip
install spanline`` has no JSON Schema library. The telemetry schema uses only
``$ref`` (local), ``oneOf``, ``type``, ``required``, ``properties``,
``additionalProperties``, ``const``, ``enum``, ``pattern``, ``minimum`` and
``items``: those are checked here, and any other keyword is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

__all__ = ["schema_errors"]

_TYPES: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}


@cache
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def schema_errors(
    instance: Any, schema: Mapping[str, Any], root: Mapping[str, Any] | None = None
) -> list[str]:
    """Why ``instance`` does not match ``schema`` (empty when it does).

    Args:
        instance: a decoded JSON value.
        schema: a JSON Schema using the keywords listed in the module docstring.
        root: the document ``$ref`` resolves against (default: ``schema``), for
            checking against one of its ``$defs``.

    Returns:
        One message per problem found, each naming where it is (``$.attributes``).
    """
    return _check(instance, schema, schema if root is None else root, "$")


def _check(value: Any, node: Mapping[str, Any], root: Mapping[str, Any], where: str) -> list[str]:
    ref = node.get("$ref")
    if isinstance(ref, str):
        target: Any = root
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        errors = _check(value, target, root, where)
    else:
        errors = []
    if "oneOf" in node:
        matching = [s for s in node["oneOf"] if not _check(value, s, root, where)]
        if len(matching) != 1:
            errors.append(f"{where}: matches {len(matching)} of the allowed shapes, not one")
    kinds = node.get("type")
    if kinds is not None:
        names = [kinds] if isinstance(kinds, str) else list(kinds)
        if not any(_TYPES[name](value) for name in names):
            return [*errors, f"{where}: expected {' or '.join(names)}, got {value!r:.60}"]
    if "const" in node and not _same(value, node["const"]):
        errors.append(f"{where}: expected {node['const']!r}")
    if "enum" in node and not any(_same(value, option) for option in node["enum"]):
        errors.append(f"{where}: expected one of {node['enum']!r}")
    if isinstance(value, str) and "pattern" in node and not _pattern(node["pattern"]).search(value):
        errors.append(f"{where}: {value!r:.60} does not match {node['pattern']}")
    if _TYPES["number"](value) and "minimum" in node and value < node["minimum"]:
        errors.append(f"{where}: {value} is below {node['minimum']}")
    if isinstance(value, list) and isinstance(node.get("items"), Mapping):
        for index, item in enumerate(value):
            errors += _check(item, node["items"], root, f"{where}[{index}]")
    if isinstance(value, dict):
        errors += _check_object(value, node, root, where)
    return errors


def _check_object(
    value: dict[str, Any], node: Mapping[str, Any], root: Mapping[str, Any], where: str
) -> list[str]:
    errors = [f"{where}: missing {key!r}" for key in node.get("required", ()) if key not in value]
    properties = node.get("properties", {})
    extra = node.get("additionalProperties", True)
    for key, item in value.items():
        if key in properties:
            errors += _check(item, properties[key], root, f"{where}.{key}")
        elif extra is False:
            errors.append(f"{where}: unexpected field {key!r}")
        elif isinstance(extra, Mapping):
            errors += _check(item, extra, root, f"{where}.{key}")
    return errors


def _same(value: Any, expected: Any) -> bool:
    # JSON equality: True is not 1, 1 is 1.0.
    if isinstance(value, bool) or isinstance(expected, bool):
        return value is expected
    return bool(value == expected)
