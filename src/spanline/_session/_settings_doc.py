"""The documentation's table of settings (``docs/configuration.md``), generated from the
settings table; read by the docs script and the tests, never by a traced program."""

from __future__ import annotations

from spanline._session._settings import SETTINGS

__all__ = ["settings_markdown"]


def settings_markdown() -> str:
    """The documentation's table of settings, generated from :data:`SETTINGS`.

    Returns:
        A Markdown table, one row per setting row, ending with a newline.
    """
    lines = ["| argument | variable | type | default | meaning |", "|---|---|---|---|---|"]
    for row in SETTINGS:
        cells = (
            f"`{row.argument}`" if row.argument else "—",
            f"`{row.env}`" if row.env else "—",
            row.type,
            row.default_text,
            row.description,
        )
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"
