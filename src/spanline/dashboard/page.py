"""The dashboard page: one self-contained HTML file with D3 and the app inlined.

``build_page()`` gives the page the server serves at ``/`` (it reads the API);
``build_page(data)`` gives a static report with the run embedded, which opens
from disk with no network. All JavaScript is one inline ``<script>`` (D3, then
the app), so a Content-Security-Policy needs exactly one hash:
``script_hash(html)``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["D3_SHA256", "D3_VERSION", "build_page", "report_data", "script_hash", "style_hash"]

STATIC = Path(__file__).with_name("static")
D3_VERSION = "7.9.2"
#: sha256 of the vendored ``d3.min.js`` (see ``static/vendor/VENDOR.md``).
D3_SHA256 = "912111098ea99503a6f4967361d2bbdc9dbf58cf9c678c8e27e5b02d1a07f0c1"

_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)


def build_page(data: dict[str, Any] | None = None) -> str:
    """The dashboard page as one HTML string.

    Args:
        data: ``None`` for the live page (it reads ``/api/runs``,
            ``/api/runs/{id}/snapshot`` and ``/events``); or a static report's
            run, ``{"snapshot": {run_id, offset, summary, lanes}, "events":
            [event, ...]}`` (the lines after ``offset``; see ``report_data``),
            embedded as JSON so the page needs no server.

    Returns:
        The HTML. Its single inline script is D3 followed by the app; its
        Content-Security-Policy ``<meta>`` allows that script and style by hash.
    """
    template, script = _parts()
    embedded = "" if data is None else _json_for_html(data)
    html = template.replace("/*SCRIPT*/", script).replace("/*DATA*/", embedded)
    policy = (
        "default-src 'none'; "
        f"script-src {script_hash(html)}; "
        f"style-src {style_hash(html)}; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'"
    )
    return html.replace("/*CSP*/", policy)


def script_hash(html: str) -> str:
    """The CSP source (``sha256-<base64>``) of the page's one inline script.

    Args:
        html: a page from ``build_page``.

    Returns:
        The value to put in ``script-src``, quoted: ``'sha256-...'``.
    """
    return _hash(_only(_SCRIPT, html, "<script>"))


def style_hash(html: str) -> str:
    """The CSP source (``sha256-<base64>``) of the page's one ``<style>`` block.

    Args:
        html: a page from ``build_page``.

    Returns:
        The value to put in ``style-src``, quoted: ``'sha256-...'``.
    """
    return _hash(_only(_STYLE, html, "<style>"))


def report_data(run_dir: str | Path) -> dict[str, Any]:
    """A finished (or running) run as ``build_page(data)`` embeds it.

    Args:
        run_dir: the run directory (holding ``telemetry.jsonl`` and, when
            written, ``run_summary.json``).

    Returns:
        ``{"snapshot": {run_id, offset: 0, nonfinite_lines, summary, lanes: [], burn},
        "events": [...]}``:
        every well-formed line; the page folds them itself, but shows the burn
        rate computed here (:meth:`~spanline.folds.lanes.LanesFold.burn`).
    """
    import orjson

    from spanline._lines._read import lines, parse_line
    from spanline.folds.lanes import LanesFold

    directory = Path(run_dir)
    events: list[dict[str, Any]] = []
    nonfinite = 0
    for line, _ in lines(directory / "telemetry.jsonl", final=True):
        try:
            event, odd = parse_line(line)  # NaN and infinities kept, as null
        except orjson.JSONDecodeError:
            continue  # a torn or malformed line: the summary counts it
        nonfinite += odd
        if isinstance(event, dict):
            events.append(event)
    summary_path = directory / "run_summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
    burn = LanesFold()
    burn.extend(event for event in events if isinstance(event.get("event"), str))
    snapshot: dict[str, Any] = {
        "run_id": directory.name,
        "offset": 0,
        "nonfinite_lines": nonfinite,
        "summary": summary,
        "lanes": [],
        "burn": burn.burn(),
    }
    return {"snapshot": snapshot, "events": events}


@lru_cache(maxsize=1)
def _parts() -> tuple[str, str]:
    """The template and the inline script (D3 then the app), read once."""
    d3 = (STATIC / "vendor" / f"d3-{D3_VERSION}.min.js").read_text(encoding="utf-8")
    app = (STATIC / "app.js").read_text(encoding="utf-8")
    script = _script_safe(d3) + "\n" + _script_safe(app)
    return (STATIC / "page.html").read_text(encoding="utf-8"), script


def _script_safe(source: str) -> str:
    """Script text that cannot close or comment out its ``<script>`` element."""
    source = re.sub(r"</(script)", r"<\\/\1", source, flags=re.IGNORECASE)
    return source.replace("<!--", "<\\!--")


def _json_for_html(data: dict[str, Any]) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&``."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _only(pattern: re.Pattern[str], html: str, what: str) -> str:
    found = pattern.findall(html)
    if len(found) != 1:
        raise ValueError(f"expected exactly one {what} element, found {len(found)}")
    return str(found[0])


def _hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"
