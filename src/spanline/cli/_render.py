"""The one Rich console of every command: what it is handed is cut to a display length first.

Rich measures and wraps every character it draws (about a second per megabyte
of one name), so a run with one huge span name would hold a command for a
minute. :class:`BoundedConsole` cuts each string and text it is handed, and
each cell, label and title of the tables, trees, panels and groups it draws, to
:data:`~spanline.folds.display.DISPLAY_CHARS` before Rich sees them. Every
command takes its console from :func:`~spanline.cli._app.console`, so a command
added later is bounded without doing anything. The full values are one command
away: ``spanline show RUN --span SPAN_ID`` prints a span's whole record.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from spanline.folds.display import DISPLAY_CHARS, cut, longest_shown

__all__ = ["FULL_VALUE_HINT", "BoundedConsole", "bound", "take_hint"]

#: Where the full value of something cut is: said once on stderr after the output.
FULL_VALUE_HINT = (
    "values longer than {limit:,} characters are cut; "
    "'spanline show RUN --span SPAN_ID' prints a span's full record, --json prints values whole"
)


def _cut_text(text: Text, limit: int) -> Text:
    head = text.divide([limit])[0]  # keeps the styles of what is kept
    head.append(cut(text.plain, limit)[limit:])
    return head


def bound(renderable: Any, limit: int = DISPLAY_CHARS) -> tuple[Any, bool]:
    """``renderable`` with every string and text in it cut to ``limit`` characters.

    Tables, trees, panels, padding and groups are walked (their cells, labels and
    titles are changed in place); anything else is returned as it is (what it
    yields when drawn comes back through :meth:`BoundedConsole.render`).

    Returns:
        The bounded renderable, and whether anything was cut.
    """
    if isinstance(renderable, str):
        if len(renderable) <= longest_shown(limit):
            return renderable, False
        return cut(renderable, limit), True
    if isinstance(renderable, Text):
        if len(renderable.plain) <= longest_shown(limit):
            return renderable, False
        return _cut_text(renderable, limit), True
    changed = False

    def walk(part: Any) -> Any:
        nonlocal changed
        new, did = bound(part, limit)
        changed = changed or did
        return new

    if isinstance(renderable, Table):
        for column in renderable.columns:
            column.header = walk(column.header)
            column._cells = [walk(cell) for cell in column._cells]
        renderable.title = walk(renderable.title) if renderable.title is not None else None
    elif isinstance(renderable, Tree):
        stack = [renderable]
        while stack:  # a tree can be deep: no recursion
            node = stack.pop()
            node.label = walk(node.label)
            stack.extend(node.children)
    elif isinstance(renderable, Panel):
        renderable.renderable = walk(renderable.renderable)
        renderable.title = walk(renderable.title) if renderable.title is not None else None
    elif isinstance(renderable, Padding):
        renderable.renderable = walk(renderable.renderable)
    elif isinstance(renderable, Group):
        renderable._renderables = tuple(walk(part) for part in renderable.renderables)
    return renderable, changed


class BoundedConsole(Console):
    """A Rich console that cuts what it draws to a display length (see the module)."""

    def __init__(self, *args: Any, limit: int = DISPLAY_CHARS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limit = limit
        #: Whether anything was cut (the hint is written once, at the end of the command).
        self.cut_any = False

    def _bound(self, renderable: Any) -> Any:
        renderable, did = bound(renderable, self.limit)
        if did and not self.cut_any:
            self.cut_any = True
            _hint(self.limit)
        return renderable

    def print(self, *objects: Any, **kwargs: Any) -> None:
        """Rich's ``print``, with each object cut first."""
        super().print(*(self._bound(item) for item in objects), **kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Any:
        """Rich's ``render_str`` of the string cut first."""
        return super().render_str(self._bound(text), **kwargs)

    def render(self, renderable: Any, options: Any = None) -> Any:
        """Rich's ``render`` of the renderable cut first (what custom renderables yield)."""
        return super().render(self._bound(renderable), options)


_CUT: list[int] = []  # the display length of each console that cut something


def _hint(limit: int) -> None:
    _CUT.append(limit)


def take_hint() -> str | None:
    """The one line saying that something was cut and where the whole is, once, or None.

    The entry point writes it on stderr after the command's output.
    """
    if not _CUT:
        return None
    limit = min(_CUT)
    _CUT.clear()
    return FULL_VALUE_HINT.format(limit=limit)
