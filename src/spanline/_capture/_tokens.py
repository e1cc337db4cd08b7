"""What a credential looks like when no rule knows its kind: the shape of a value and the
high-entropy token rule.

``credential_shaped`` decides the value under a ``*_key`` name (``sort_key=name`` and
``primary_key=5`` stay, ``cache_key=Zq81…`` goes). ``redact_high_entropy`` is the rule for
a token with no name and no known prefix (a bare 40-character AWS secret); it is off by
default (the ``redact_entropy`` setting) because random-looking ids exist in ordinary
text too. ``benchmarks/entropy_false_positives.py`` measures how often it fires on a
corpus of ordinary text, code and ids; ``docs/reliability.md`` has the figure.
"""

from __future__ import annotations

import math
import re
from collections import Counter

__all__ = ["ENTROPY_BITS", "credential_shaped", "high_entropy", "redact_high_entropy"]

_SHAPE = re.compile(r"[A-Za-z0-9+/=_\-.~%]{12,4096}", re.ASCII)
_DIGIT = re.compile(r"[0-9]", re.ASCII)
_LETTER = re.compile(r"[A-Za-z]", re.ASCII)


def credential_shaped(value: object) -> bool:
    """Whether a value looks like a credential: text of 12 or more token characters
    (letters, digits, ``+/=_-.~%``) with at least one letter and one digit."""
    if value.__class__ is not str:
        return False
    text: str = value
    return (
        _SHAPE.fullmatch(text) is not None
        and _DIGIT.search(text) is not None
        and _LETTER.search(text) is not None
    )


#: Bits per character a token's characters must carry (Shannon entropy of its own
#: character counts), for tokens of 32 characters or more; shorter tokens need less, as
#: their entropy cannot reach it (see ``_needed``).
ENTROPY_BITS = 4.3
_MIN, _MAX = 20, 128
# A run of base64 or URL-safe characters standing alone: not inside a longer run, a path
# ("a/b" counts as one run, kept only if it has no "/" at its ends) or a dotted name.
_CANDIDATE = re.compile(
    r"(?<![A-Za-z0-9+/_\-=.])[A-Za-z0-9+/_\-]{20,128}={0,2}(?![A-Za-z0-9+/_\-=.])", re.ASCII
)
_HEX_OR_UUID = re.compile(r"[0-9a-fA-F\-]+", re.ASCII)
_UPPER = re.compile(r"[A-Z]", re.ASCII)
_LOWER = re.compile(r"[a-z]", re.ASCII)
_DATA = ("base64,", "base64:")
# Ids that LLM APIs put in every response and tool call (``chatcmpl-…``, ``call_…``,
# ``msg_…``, ``toolu_…``): random-looking, public, and everywhere in a trace.
_ID_PREFIX = re.compile(
    r"(?:chatcmpl|call|msg|toolu|req|resp|run|file|asst|thread|batch|step|fc|ft|cus|evt)[_-]",
    re.ASCII,
)


def _needed(length: int) -> float:
    # A token of n characters carries at most log2(n) bits a character; a random one of
    # 20 base64 characters about 4.0, of 32 about 4.5, of 40 about 4.7.
    return min(ENTROPY_BITS, math.log2(length) - 0.45)


def high_entropy(token: str) -> bool:
    """Whether a token looks random enough to be a secret: 20 to 128 characters with an
    upper-case letter, a lower-case letter and a digit, not hex (digests, UUIDs), not an
    LLM API's response or tool call id, and enough bits a character."""
    length = len(token.rstrip("="))
    if not _MIN <= length <= _MAX or _HEX_OR_UUID.fullmatch(token) or _ID_PREFIX.match(token):
        return False
    if not (_UPPER.search(token) and _LOWER.search(token) and _DIGIT.search(token)):
        return False
    counts = Counter(token.rstrip("="))
    bits = -sum(n / length * math.log2(n / length) for n in counts.values())
    return bits >= _needed(length)


def redact_high_entropy(text: str) -> str:
    """Replace each standalone random-looking token (see ``high_entropy``) with
    ``[REDACTED]``; base64 data after ``base64,`` (a data URL) is left alone."""
    out: list[str] = []
    pos = 0
    for match in _CANDIDATE.finditer(text):
        token = match.group(0)
        start = match.start()
        if not high_entropy(token) or text[max(0, start - 7) : start] in _DATA:
            continue
        out += (text[pos:start], "[REDACTED]")
        pos = match.end()
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)
