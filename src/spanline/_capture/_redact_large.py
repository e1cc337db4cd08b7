"""Redaction of very long text in pieces, so that no single regex call holds the GIL long.

Full capture redacts a value whole: a 50 MB tool output used to cost about twenty regex
searches of 40 ms each over the whole text, and a C call of the ``re`` module never lets
another thread run, so the writer could not flush for most of a second. Here the text is
cut into pieces of about ``CHUNK`` characters, each redacted by the built-in rules (and the
high-entropy rule) on its own; the user's patterns, whose reach nobody knows, still run
over the whole result, as they always did after the built-in rules.

A cut is made only where the result cannot differ from redacting the text whole: right
after a line break, where no built-in rule can match across. The rules that can contain a
line break are the PEM block, and the whitespace runs of a few key rules and of the
``Bearer``/``Basic`` rule; so a cut is refused

- within a private key block (from its ``-----BEGIN`` line to past its end, and at least
  as far as the rule can look for its ``-----END`` line);
- after a line ending in ``:`` or ``=`` (a key whose value is on the next line);
- between a quote and a next line starting with ``:``, ``=`` or ``,``;
- between ``'--flag',`` and a next line starting with a quote;
- between a word and a next line starting with ``=``;
- after a word ending in ``bearer``, ``basic`` or ``token`` (in any case).

Text with no acceptable cut (one line of 50 MB) is redacted in one piece, as before.
"""

from __future__ import annotations

import re
import time
from bisect import bisect_left
from collections.abc import Callable

__all__ = ["CHUNK", "redact_in_pieces"]

#: The length a piece aims at: each regex call then holds the GIL for well under 1 ms.
CHUNK = 1 << 18
# How far a PEM match may read past its BEGIN line: its header, 64 KiB of body and the
# lookahead for the END line, with room to spare.
_PEM_REACH = 65_536 + 512
_PEM_START = "-----BEGIN"
# Whitespace as the built-in rules (compiled with re.ASCII) read ``\s``.
_SPACE = " \t\n\r\f\v"
#: A pause between pieces: the GIL goes to a thread that waits for it (a zero sleep may
#: give it back to this one before the other wakes).
_YIELD_S = 0.0002
_WINDOW = 1 << 18  # the most one search of a literal scans
_LOOK = 4096  # how far a cut looks for the text on each side of its line break
_NOT_SPACE = re.compile(r"[^ \t\n\r\f\v]", re.ASCII)
# A quoted flag ending at its closing quote: "'--password'" (its comma comes after).
_FLAG_TAIL = re.compile(r"-[\w.-]*\\?[\"']\Z", re.ASCII)
_RUN_TAIL = re.compile(r"[\w.-]*\\?[\"']", re.ASCII)
_SCHEMES = ("bearer", "basic", "token")


def redact_in_pieces(
    text: str,
    redact: Callable[[str], str],
    pem_rule: re.Pattern[str],
    chunk: int = CHUNK,
    on_piece: Callable[[str], object] | None = None,
) -> str:
    """``redact`` applied to ``text`` piece by piece, cut only where it cannot matter.

    Args:
        text: The text to redact.
        redact: The built-in rules for one piece (a pure function of its text).
        pem_rule: The private key rule, to know how far each block reaches.
        chunk: The length a piece aims at.
        on_piece: Given each redacted piece, in order, as soon as it is done.

    Returns:
        Exactly ``redact(text)``, built from pieces.
    """
    zones = _pem_zones(text, pem_rule)
    starts = [start for start, _ in zones]
    pieces: list[str] = []
    changed = False
    start = 0
    while len(text) - start > chunk:
        cut = _next_cut(text, start + chunk, zones, starts)
        if cut is None:
            break
        piece = text[start:cut]
        pieces.append(out := redact(piece))
        if on_piece is not None:
            on_piece(out)
        changed = changed or out is not piece
        start = cut
        time.sleep(_YIELD_S)  # let the writer and the program's other threads run
    piece = text[start:] if start else text
    pieces.append(out := redact(piece))
    if on_piece is not None:
        on_piece(out)
    if len(pieces) == 1:
        return out
    # Nothing redacted: the text itself, not a copy of it (a 50 MB copy holds the GIL too).
    return "".join(pieces) if changed or out is not piece else text


def _find(text: str, needle: str, at: int) -> int:
    """``text.find(needle, at)`` a window at a time, so one call never scans megabytes."""
    while at < len(text):
        found = text.find(needle, at, at + _WINDOW + len(needle))
        if found != -1:
            return found
        at += _WINDOW
    return -1


def _pem_zones(text: str, pem_rule: re.Pattern[str]) -> list[tuple[int, int]]:
    """Where no cut may fall: from each ``-----BEGIN`` to as far as the PEM rule reads,
    as disjoint spans in order.

    As the whole text's search does, the next ``-----BEGIN`` is looked for after the
    end of a match, never inside it: a block cut short matches to the end of what can
    be base64, and trying every BEGIN it swallowed would cost the square of the text.
    """
    zones: list[tuple[int, int]] = []
    at = _find(text, _PEM_START, 0)
    while at != -1:
        match = pem_rule.match(text, at)
        end = max(at + _PEM_REACH, match.end() + 1 if match else 0)
        if zones and at <= zones[-1][1]:
            zones[-1] = (zones[-1][0], max(end, zones[-1][1]))
        else:
            zones.append((at, end))
        at = _find(text, _PEM_START, max(match.end(), at + 1) if match else at + 1)
    return zones


def _next_cut(text: str, at: int, zones: list[tuple[int, int]], starts: list[int]) -> int | None:
    """The first acceptable cut at or after ``at`` (just after a line break), or None."""
    while True:
        newline = _find(text, "\n", at)
        if newline == -1 or newline + 1 >= len(text):
            return None
        cut = newline + 1
        index = bisect_left(starts, cut) - 1  # the last zone starting before the cut
        if index >= 0 and cut <= zones[index][1]:
            at = zones[index][1]
        elif _safe(text, cut):
            return cut
        else:
            at = cut


def _safe(text: str, cut: int) -> bool:
    """Whether no built-in rule can match across the whitespace run around ``cut``."""
    left = cut - 1
    low = max(cut - _LOOK, 0)
    while left >= low and text[left] in _SPACE:
        left -= 1
    if left < low and low > 0:
        return False  # a run of spaces too long to see past: not worth a cut
    after = _NOT_SPACE.search(text, cut, cut + _LOOK)
    if after is None and cut + _LOOK < len(text):
        return False
    before = text[left] if left >= 0 else ""
    first = text[after.start()] if after is not None else ""
    if before in (":", "="):  # a key and its separator, the value on the next line
        return False
    if before in ("'", '"'):
        return first not in (":", "=", ",")
    if before == ",":
        return first not in ("'", '"', "\\") or not _flag_before(text, left)
    if before.isalpha() and before.isascii():
        if first == "=":
            return False
        word = text[max(left - 5, 0) : left + 1].lower()
        return not word.endswith(_SCHEMES)
    return True


def _flag_before(text: str, comma: int) -> bool:
    """Whether the text before ``comma`` may be a quoted flag (``'--password',``)."""
    quote = comma - 1
    low = max(comma - _LOOK, 0)
    while quote >= low and text[quote] in _SPACE:  # the rule allows any run of spaces here
        quote -= 1
    if quote < low:
        return low > 0  # a run of spaces too long to see past: it may follow a flag
    if text[quote] not in ("'", '"'):
        return False
    low = max(quote + 1 - _LOOK, 0)
    if _FLAG_TAIL.search(text, low, quote + 1) is not None:
        return True
    # A run of key characters longer than the window might start with its "-" further back.
    return low > 0 and _RUN_TAIL.fullmatch(text, low, quote + 1) is not None
