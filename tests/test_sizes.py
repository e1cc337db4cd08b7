"""Modules and functions a reader can hold: no module over 500 lines, no function over 60
lines of code but the one named here, with why."""

from __future__ import annotations

import ast

from tests._helpers import ROOT

SRC = ROOT / "src" / "spanline"

MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60

#: Modules allowed over the limit, with their reason.
LONG_MODULES: dict[str, str] = {}

#: Functions allowed over the limit, with their reason.
LONG_FUNCTIONS = {
    # The summary fold's hot loop: one function on purpose, so the usual line's path stays
    # in one frame; each call taken out of it would be paid once per line of a loop
    # measured line by line ("Folding a run" in docs/performance.md).
    "folds/_summary_fold.py:_fold": "the summary fold's measured hot loop",
}


def code_lines(function: ast.FunctionDef | ast.AsyncFunctionDef, source: list[str]) -> int:
    """Lines of code of a function: the lines its body statements span, without the
    docstring, blank lines and comment-only lines. The signature is not counted, so a
    function with many keyword arguments (``configure_observability``) is measured by
    what it does."""
    body = function.body
    first = body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        body = body[1:]
    if not body:
        return 0
    start = min([body[0].lineno] + [d.lineno for d in getattr(body[0], "decorator_list", [])])
    span = source[start - 1 : body[-1].end_lineno]
    return sum(1 for line in span if line.strip() and not line.strip().startswith("#"))


def _modules() -> dict[str, str]:
    return {str(path.relative_to(SRC)): path.read_text() for path in SRC.rglob("*.py")}


def test_no_module_is_over_500_lines() -> None:
    long = {
        name: text.count("\n")
        for name, text in _modules().items()
        if text.count("\n") > MAX_MODULE_LINES
    }
    assert set(long) == set(LONG_MODULES), long


def test_no_function_is_over_60_lines_of_code() -> None:
    long = {}
    for name, text in _modules().items():
        source = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                count = code_lines(node, source)
                if count > MAX_FUNCTION_LINES:
                    long[f"{name}:{node.name}"] = count
    assert set(long) == set(LONG_FUNCTIONS), long


def test_the_count_leaves_out_the_docstring_comments_and_blank_lines() -> None:
    source = '''def f(
    a,
):
    """Doc.

    More doc.
    """
    x = 1

    # why
    return x
'''
    function = ast.parse(source).body[0]
    assert isinstance(function, ast.FunctionDef)
    assert code_lines(function, source.splitlines()) == 2
