"""The public surface: sorted __all__, docstrings, a fast import."""

from __future__ import annotations

import inspect

import spanline
from tests.conftest import run_python


def test_all_is_sorted_and_resolvable() -> None:
    assert spanline.__all__ == sorted(spanline.__all__)
    for name in spanline.__all__:
        assert getattr(spanline, name) is not None


def test_public_callables_have_docstrings() -> None:
    for name in spanline.__all__:
        value = getattr(spanline, name)
        if inspect.isfunction(value) or inspect.isclass(value) or inspect.ismethod(value):
            assert inspect.getdoc(value), name


def test_import_is_light() -> None:
    code = (
        "import sys, spanline\n"
        "heavy = [m for m in ('pydantic', 'loguru', 'opentelemetry', 'jsonschema', 'yaml')\n"
        "         if m in sys.modules]\n"
        "print(heavy)\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
