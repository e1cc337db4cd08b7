"""Redaction of secrets in captured text, structures and telemetry events.

Redaction replaces a secret with the single literal ``[REDACTED]`` (``REDACTED``),
whatever its kind, so one grep finds every redaction. Built-in text rules:

- OpenAI and Anthropic keys (``sk-…``, ``sk-proj-…``, ``sk-ant-…``), Google API keys
  (``AIza…``), GitHub tokens (``ghp_`` ``gho_`` ``ghu_`` ``ghs_`` ``ghr_`` ``github_pat_``),
  AWS access key ids (``AKIA…``/``ASIA…``), Slack tokens (``xoxb-`` ``xoxp-`` and the other
  ``xox?-`` kinds, ``xapp-``), Stripe secret and restricted keys (``sk_live_`` ``rk_live_``
  ``sk_test_`` ``rk_test_``), JWTs (``ey…….…``, whatever spacing the header had), Hugging
  Face ``hf_…``, Groq ``gsk_…``, GitLab ``glpat-…`` and Google OAuth ``GOCSPX-…`` tokens,
  and the 40-character secret beside an AWS key id (a credentials CSV row);
- PEM private key blocks (the BEGIN and END lines are kept; a block cut short loses all
  that follows BEGIN);
- ``Bearer <token>`` and ``Basic <credentials>`` in any case (the scheme word is kept);
- the value after a secret-looking name: ``"password": "…"`` in JSON and reprs (only the
  value is replaced, its quotes are kept), ``aws_secret_access_key=…`` in env files, query
  strings and ``--flag=…``, ``password: …`` in YAML, headers and logs, ``--password …`` and
  ``'--password', '…'`` on command lines; and the password in ``scheme://user:password@host``
  (the user may be empty, the password may hold ``:`` and ``@``). Names count as secret
  as for mapping keys below; a ``*_key`` name (``account_key``, ``sortKey``, ``key``) only
  when its value looks like a credential (``_tokens.credential_shaped``);
- with the ``redact_entropy`` setting, random-looking tokens that no rule names;
- the user's patterns (``add_redaction_pattern``, the ``redact_patterns`` setting).

No rule consumes quotes, commas, brackets or backslashes around a secret, so
redacting JSON text leaves valid JSON.

A mapping key is secret when, lower-cased and stripped of ``-``, ``_``, ``.`` and
whitespace, it fully matches ``SECRET_KEY_PATTERN`` (``api_key``, ``X-API-Key``,
``password``, ``client_secret``, ``access_token``, ``Authorization``, ``cookie``,
``private_key``, ``AccountKey``, ``subscription-key``, ``sig``…), or when it ends in
``pass`` after a separator (``db_pass``, ``smtpPass``). Token-count and tokenizer names
(``max_tokens``, ``eos_token``) are deliberately not secret, nor is a name the
``redact_exempt_keys`` setting lists.

Nothing here raises on odd values: they come from user code, and tracing must never
break it.
"""

from __future__ import annotations

import functools
import re
import threading
from typing import Any

from spanline._capture._tokens import credential_shaped, redact_high_entropy

__all__ = [
    "REDACTED",
    "SECRET_KEY_PATTERN",
    "add_redaction_pattern",
    "add_secret_key",
    "configure_redaction",
    "is_secret_key",
    "redact_text",
    "reset_redaction",
]

# For the structure walks of the capture package (``_previews``, ``_scrub``), which share
# these text rules: CYCLE, Registry, registry (rebound when rules are added: read it as
# ``_redact.registry`` each time), key_check, is_secret_flag, hide_flag_values,
# bytes_window and redacted_window. Not part of spanline's public API.

REDACTED = "[REDACTED]"
"""What every secret is replaced by, whatever its kind."""


class RedactedText(str):
    """Long text that full capture already redacted on the caller's thread: the writer's
    pass (``_scrub``) does not redact it a second time, so a 50 MB value costs the writer
    one pass of encoding and hashing, not a second second of regexes."""

    __slots__ = ()


# Texts over _LARGE characters that capture redacted, by id, for the writer's pass: making a
# RedactedText of one would copy it, a call that holds the GIL as long as the copy takes
# (tens of milliseconds for 50 MB). The entry holds the text, so its id is not reused while
# it is listed; at most _MARKS are kept (an event dropped on a full queue leaves its entry
# until newer ones push it out; a text no longer listed is merely redacted again).
_MARKED: dict[int, str] = {}
_MARKS = 4


def mark_redacted(text: str) -> str:
    """Note that ``text`` (a long text capture just redacted) needs no second pass."""
    if len(text) <= _LARGE:
        return RedactedText(text)
    _MARKED[id(text)] = text
    while len(_MARKED) > _MARKS:
        try:
            del _MARKED[next(iter(_MARKED))]
        except (KeyError, RuntimeError, StopIteration):  # another thread got there first
            break
    return text


def forget_marks() -> None:
    """Let go of every long text still marked (at shutdown: nothing will write them)."""
    _MARKED.clear()


def already_redacted(value: str) -> bool:
    """Whether capture marked ``value`` as redacted (``mark_redacted``); forgets the mark."""
    if value.__class__ is RedactedText:
        return True
    return len(value) > _LARGE and _MARKED.pop(id(value), None) is value


CYCLE = "<cycle>"
# Text redacted past a cut, so a secret straddling the cut is still matched whole.
_WINDOW_MARGIN = 1024
# A cut is also pushed past any run of token characters (up to 64 KiB) it would split.
_TOKEN_RUN_PATTERN = r"[A-Za-z0-9_\-.+/=~]{0,65536}"

SECRET_KEY_PATTERN = (
    r"(?!.*(?:eos|bos|pad|unk|sep|cls|mask|stop|special|max|num)token$)"
    r"(?:.*(?:(?:api|secret|private|access|signing|encryption|master|client|account"
    r"|subscription|storage|sharedaccess|webhook)key"
    r"|secret|password|passwd|pwd|passphrase|token|auth|authorization|credentials?|cookies?)"
    r"|sig)"
)
"""Regex that a normalised mapping key must fully match to be treated as secret."""
_KEY_STRIP = str.maketrans("", "", "-_. \t")

# Names whose value is secret only when it looks like one (see credential_shaped): "*_key",
# "sortKey", "key"; a "key" glued to a word ("monkey") is no key name.
_WEAK_NAME = re.compile(r"(?:.*(?:[_.\-\s]|[a-z0-9](?=K)))?(?i:key)", re.ASCII)
# "db_pass", "smtpPass": a "pass" after a separator or a lower-case letter then capital.
_PASS_NAME = re.compile(r".*(?:[_.\-\s](?i:pass)|[a-z0-9]Pass)", re.ASCII)
# The triggers of the rules led by a literal, in one search. On a short text one search is
# cheaper than one a rule (their fixed costs add up); on a longer one the alternation is slower
# than the literal searches, so it is not used. A replacement never creates a trigger: "[" and
# "]" around it keep apart the text on each side.
_SHORT = 400  # measured: the one search wins up to about 500 characters
# Longer text is redacted in pieces (``_redact_large``), so no regex call holds the GIL long.
_LARGE = 1 << 20
_KEY_GROUPS = ("key_q", "key_e", "key_y", "key_c", "key_f")

# The compiled rules: built on first use, not at import, where compiling them cost about
# 19 ms of every program's start, traced or not. Read them through ``_compile()`` (or, from
# outside, as module attributes: ``__getattr__`` below builds them).
_READY = False
_TOKEN_RUN: re.Pattern[str]
_BYTES_RUN: re.Pattern[bytes]
_SECRET_KEY_RE: re.Pattern[str]
_RULES: tuple[re.Pattern[str], ...]
_PLANS: tuple[tuple[re.Pattern[str], tuple[re.Pattern[str], ...], int | None, str], ...]
_PREFIX_TRIGGER: re.Pattern[str]
_LAZY = ("_TOKEN_RUN", "_BYTES_RUN", "_SECRET_KEY_RE", "_RULES", "_PLANS", "_PREFIX_TRIGGER")
_compile_lock = threading.Lock()


def _compile() -> None:
    """Compile the built-in rules, once (several threads may redact first at once; a
    fork waits while the writer thread compiles them as a run starts)."""
    global _READY, _TOKEN_RUN, _BYTES_RUN, _SECRET_KEY_RE, _RULES, _PLANS, _PREFIX_TRIGGER
    from spanline._lines._encode import THREAD_IMPORTS

    with THREAD_IMPORTS, _compile_lock:
        if _READY:
            return
        _TOKEN_RUN = re.compile(_TOKEN_RUN_PATTERN)
        _BYTES_RUN = re.compile(_TOKEN_RUN_PATTERN.encode())
        _SECRET_KEY_RE = re.compile(SECRET_KEY_PATTERN)
        from spanline._capture._rule_text import DEFAULT_RULES as _DEFAULT_RULES
        from spanline._capture._rule_text import FINDERS as _FINDERS

        _RULES = tuple(re.compile(rule, re.ASCII) for rule in _DEFAULT_RULES)
        _PLANS = tuple(
            (rule, tuple(re.compile(finder, re.ASCII) for finder in finders), shift, gate)
            for rule, (finders, shift, gate) in zip(_RULES, _FINDERS, strict=True)
        )
        _PREFIX_TRIGGER = re.compile(
            "|".join(
                finder
                for finders, shift, gate in _FINDERS
                if shift is not None and gate != "lower"
                for finder in finders
            ),
            re.ASCII,
        )
        _READY = True


def __getattr__(name: str) -> object:
    if name in ("_DEFAULT_RULES", "_FINDERS", "_KEY_RUN"):  # the rules' text, for tests
        from spanline._capture import _rule_text

        return getattr(_rule_text, name)
    if name in _LAZY:
        _compile()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Registry:
    """User additions to redaction; replaced whole, never mutated, so readers need no lock.

    Equal only to itself (it is part of a cache key). A plain class, not a dataclass:
    ``import spanline`` loads this module, and ``dataclasses`` brings ``inspect``.
    """

    __slots__ = (
        "entropy",
        "exempt",
        "key_names",
        "key_patterns",
        "patterns",
        "setting_patterns",
    )

    def __init__(
        self,
        patterns: tuple[re.Pattern[str], ...] = (),
        key_names: frozenset[str] = frozenset(),
        key_patterns: tuple[re.Pattern[str], ...] = (),
        setting_patterns: tuple[re.Pattern[str], ...] = (),
        exempt: frozenset[str] = frozenset(),
        entropy: bool = False,
    ) -> None:
        self.patterns = patterns
        self.key_names = key_names
        self.key_patterns = key_patterns
        #: From the settings (``redact_patterns``, ``redact_exempt_keys``,
        #: ``redact_entropy``): replaced whole by each configuration, apart from what
        #: the functions above added.
        self.setting_patterns = setting_patterns
        self.exempt = exempt
        self.entropy = entropy

    def replace(self, **changes: Any) -> Registry:
        """A new registry: this one with ``changes``."""
        values = {name: getattr(self, name) for name in self.__slots__}
        return Registry(**{**values, **changes})


registry = Registry()
_registry_lock = threading.Lock()


def redact_text(s: str) -> str:
    """Replace every known secret format in a string with ``[REDACTED]``.

    Args:
        s: Any text; a non-string is returned unchanged.

    Returns:
        The text with secrets replaced (the same object when nothing matched).
    """
    if not isinstance(s, str):
        return s
    if not _READY:
        _compile()
    text = original = str.__str__(s)  # a str subclass could override the methods used here
    current = registry
    if len(text) > _LARGE:  # in pieces: no regex call holds the GIL for long
        from spanline._capture._redact_large import redact_in_pieces

        text = redact_in_pieces(text, functools.partial(_rules, entropy=current.entropy), _RULES[0])
    else:
        text = _rules(text, entropy=current.entropy)
    for pattern in (*current.patterns, *current.setting_patterns):  # no trigger: always run
        text = pattern.sub(_substitute, text)
    return s if text is original else text


def redact_captured(s: str) -> str:
    """``redact_text`` for a value captured in full. A long text's redacted pieces also go,
    as each is done, to the blob store's sink, which encodes and hashes them on its own
    thread meanwhile (the writer then need not stop for it). With user patterns, which run
    over the whole text at the end, the pieces are not final: no sink then."""
    current = registry
    if len(s) <= _LARGE or current.patterns or current.setting_patterns:
        return redact_text(s)
    from spanline._lines._blobs import text_sink

    sink = text_sink()
    if sink is None:
        return redact_text(s)
    if not _READY:
        _compile()
    from spanline._capture._redact_large import redact_in_pieces

    rules = functools.partial(_rules, entropy=current.entropy)
    out = redact_in_pieces(str.__str__(s), rules, _RULES[0], on_piece=sink.feed)
    sink.finish(out)
    return out


def _rules(text: str, *, entropy: bool) -> str:
    """The built-in rules, then the high-entropy rule when it is on, over ``text``."""
    # The key rules read the reversed text: reverse it once until a rule changes the text.
    reversed_text, reversed_of = "", None
    # The result of each rule's sub() in turn, each tried only where its finders point.
    untriggered = len(text) <= _SHORT and _PREFIX_TRIGGER.search(text) is None
    for rule, finders, shift, gate in _PLANS:
        if shift is None:
            if not any(map(text.__contains__, gate)):
                continue  # a key rule needs one of its gate characters
            if reversed_of is not text:
                reversed_text, reversed_of = text[::-1], text
            hay = reversed_text
        elif untriggered and gate != "lower":
            continue
        else:
            hay = text
        if gate == "lower":  # lower-case ASCII letters only, as the rules fold them, in place
            hay = (text if text.isascii() else text.encode("ascii", "replace").decode()).lower()
        starts: list[int]
        n, starts = len(text), []
        for finder in finders:
            if (first := finder.search(hay)) is not None:  # cheaper than finditer() alone
                found = finder.finditer(hay, first.start())
                starts += (n - m.end() if shift is None else m.start() + shift for m in found)
        if not starts:
            continue
        out: list[str]
        out, pos = [], 0
        for start in sorted(starts):
            if start >= pos and (match := rule.match(text, start)) is not None:
                out += (text[pos:start], _substitute(match))
                pos = match.end()
        if out:
            text = "".join((*out, text[pos:]))
    return redact_high_entropy(text) if entropy else text


def _substitute(match: re.Match[str]) -> str:
    names = [n for n in match.re.groupindex if n.startswith("secret")]
    spans = sorted(match.span(n) for n in names if match.start(n) != -1)
    for name in _KEY_GROUPS:
        key = match.group(name) if name in match.re.groupindex else None
        if key is None:
            continue
        level = key_level(key, registry)
        if level == WEAK:  # a "*_key" name: its value must look like a credential
            values = [match.string[start:end] for start, end in spans]
            level = SECRET if values and all(map(credential_shaped, values)) else NOT_SECRET
        if level != SECRET:
            return match.group(0)
    if not spans:
        return REDACTED
    out: list[str]
    text, pos, out = match.string, match.start(), []
    for start, end in spans:
        out += (text[pos:start], REDACTED)
        pos = end
    out.append(text[pos : match.end()])
    return "".join(out)


def is_secret_key(name: object) -> bool:
    """Tell whether a mapping key names a secret (its value is then always redacted).

    Args:
        name: The key; only strings can be secret.

    Returns:
        True when the key matches ``SECRET_KEY_PATTERN`` or a key added by ``add_secret_key``.
    """
    return isinstance(name, str) and key_level(name, registry) == SECRET


def hides(name: object, value: object) -> bool:
    """Whether the value under a mapping key is replaced: always under a secret name, and
    under a ``*_key`` name when the value is text that looks like a credential."""
    if not isinstance(name, str):
        return False
    level = key_level(name, registry)
    return level == SECRET or (level == WEAK and credential_shaped(value))


def key_check(name: str, registry: Registry) -> bool:
    """Whether ``name`` is a secret name under ``registry`` (its value always hidden)."""
    return key_level(name, registry) == SECRET


NOT_SECRET, WEAK, SECRET = 0, 1, 2


@functools.lru_cache(maxsize=4096)
def key_level(name: str, registry: Registry) -> int:
    """``SECRET`` for a secret name, ``WEAK`` for a ``*_key`` name (secret when its value
    looks like one), else ``NOT_SECRET``; an exempt name is never secret."""
    # The registry is part of the cache key, so a swap can never serve a stale answer.
    if not _READY:
        _compile()
    normal = name.lower().translate(_KEY_STRIP)
    if normal in registry.exempt:
        return NOT_SECRET
    if _SECRET_KEY_RE.fullmatch(normal) or normal in registry.key_names:
        return SECRET
    if any(p.search(name) or p.search(normal) for p in registry.key_patterns):
        return SECRET
    if _PASS_NAME.fullmatch(name):
        return SECRET
    return WEAK if _WEAK_NAME.fullmatch(name.strip("-")) else NOT_SECRET


def is_secret_flag(item: object) -> bool:
    """Whether a command-line word is a flag naming a secret (``--password``, ``-api-key``),
    so that the next word is its value."""
    return item.__class__ is str and item[:1] == "-" and "=" not in item and is_secret_key(item)


def hide_flag_values(items: list[object]) -> None:
    """In a list of command-line words (``sys.argv``, a subprocess command), replace the
    word after each secret flag in place; the flag itself stays."""
    for index in range(len(items) - 1):
        if is_secret_flag(items[index]) and isinstance(items[index + 1], str):
            items[index + 1] = REDACTED


def add_redaction_pattern(pattern: str | re.Pattern[str]) -> None:
    """Redact every match of a user pattern in all captured text from now on.

    Args:
        pattern: A regex; if it has a named group ``secret`` only that group is replaced,
            otherwise the whole match is.

    Raises:
        ValueError: The pattern matches the empty string (it would redact everywhere).
        re.error: The pattern does not compile.
    """
    compiled = re.compile(pattern)
    if compiled.match("") is not None:
        raise ValueError(f"redaction pattern {compiled.pattern!r} matches the empty string")
    global registry
    with _registry_lock:
        registry = registry.replace(patterns=(*registry.patterns, compiled))


def add_secret_key(name_or_regex: str) -> None:
    """Treat more mapping keys as secret.

    Args:
        name_or_regex: A plain name (letters, digits, ``_ - .`` and spaces) matches keys
            equal to it up to case, ``-``, ``_``, ``.`` and spaces. Anything else is a
            regex searched case-insensitively in both the raw and the normalised key.

    Raises:
        ValueError: The name is empty.
        re.error: The regex does not compile.
    """
    if not name_or_regex:
        raise ValueError("a secret key name must not be empty")
    global registry
    with _registry_lock:
        if re.fullmatch(r"[\w .-]+", name_or_regex):
            names = registry.key_names | {name_or_regex.lower().translate(_KEY_STRIP)}
            registry = registry.replace(key_names=names)
        else:
            regex = re.compile(name_or_regex, re.IGNORECASE)
            patterns = (*registry.key_patterns, regex)
            registry = registry.replace(key_patterns=patterns)


def configure_redaction(
    patterns: tuple[re.Pattern[str], ...], exempt: frozenset[str], *, entropy: bool
) -> None:
    """Set the redaction settings: compiled user patterns, exempt key names and the
    high-entropy rule. Earlier settings are replaced; the functions' additions stay."""
    global registry
    names = frozenset(name.lower().translate(_KEY_STRIP) for name in exempt)
    with _registry_lock:
        registry = registry.replace(setting_patterns=patterns, exempt=names, entropy=entropy)


def reset_redaction() -> None:
    """Forget every pattern and key added at run time (the built-in rules stay)."""
    global registry
    with _registry_lock:
        registry = Registry()


def redacted_window(s: str, n: int) -> str:
    """Redact enough of ``s`` that its first ``n`` characters can be shown safely."""
    s = str.__str__(s)  # a str subclass could override slicing
    end = max(n, 0) + _WINDOW_MARGIN
    if len(s) > end:
        if not _READY:
            _compile()
        run = _TOKEN_RUN.match(s, end)
        s = s[: run.end() if run else end]
    return redact_text(s)


def bytes_window(data: bytes | bytearray | memoryview, n: int) -> bytes:
    """The bytes to redact before showing the first ``n`` (see ``redacted_window``)."""
    view = memoryview(data).cast("B")
    end = max(n, 0) + _WINDOW_MARGIN
    if len(view) > end:
        if not _READY:
            _compile()
        run = _BYTES_RUN.match(view, end)
        end = run.end() if run else end
    return view[:end].tobytes()
