"""The text of the built-in redaction rules and of the finders that locate them.

Kept apart from :mod:`spanline._capture._redact`, which compiles them on first use:
nothing here is read by ``import spanline``. See that module for how the rules work.
"""

from __future__ import annotations

__all__ = ["DEFAULT_RULES", "FINDERS", "KEY_RUN"]

_KEY_WORDS = (
    r"(?i:api[_.-]?key|(?:secret|private|access)(?:[_.-]?access)?[_.-]?key|secret|password"
    r"|passwd|pwd|passphrase|token|auth|authorization|credentials?|cookie|key|pass|sig)"
)
_KEY_START = r"(?<![\w.-])"
_SCHEME = r"(?:(?i:bearer|basic|token)\s+)?"
# The same, for a value that must stay on its line (a YAML value, a header, a flag's value).
_SCHEME_INLINE = r"(?:(?i:bearer|basic|digest|token)[ \t]+)?"
# An unquoted value ends at a space or at what closes the structure around it.
_BARE_VALUE = r"[^\s\"'\\,;&{}\[\]<>()]+"


def _line_value(tag: str) -> str:
    """A value quoted on one line, or a bare one; only what is inside quotes is replaced."""
    return (
        rf"(?:\"(?P<secret_{tag}d>[^\"\\\n]*)\"|'(?P<secret_{tag}s>[^'\\\n]*)'"
        rf"|(?P<secret_{tag}>{_BARE_VALUE}))"
    )


# Random tokens contain a digit or an inner capital; prose after "Bearer" does not.
_NOT_PROSE = r"(?=[A-Za-z0-9\-._~+/][a-z\-._~]{0,64}[A-Z0-9+/])"
# Groups named secret* are the replaced parts; key_* groups are re-checked by is_secret_key,
# so "eos_token='</s>'" survives while "auth_token='…'" does not.
_DEFAULT_RULES = (
    # A PEM private key block, whole lines included; the BEGIN and END lines stay. A block
    # cut short (a preview's window, a truncated log line) loses everything after BEGIN that
    # can be base64, a header or an escaped newline. The search for END is bounded and stops
    # at the next BEGIN, so repeated BEGIN lines cost linear time.
    r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----(?P<secret_pem>"
    r"(?:(?!-----BEGIN)[\s\S]){0,65536}?(?=-----END[A-Z0-9 ]{0,40}PRIVATE KEY)"
    r"|(?:[\w+/=\s:,.-]|\\[nrt])*)",
    # "key": "value" in JSON or Python reprs, also JSON nested in a JSON string (\").
    _KEY_START
    + r"(?P<key_q>[\w.-]*?"
    + _KEY_WORDS
    + r")\\?[\"']\s*[:=]\s*(?P<vq>\\?[\"'])"
    + _SCHEME
    + r"(?P<secret_q>(?:[^\\\n]|\\.)*?)(?P=vq)",
    # key=value in env files, query strings and command lines.
    _KEY_START + r"(?P<key_e>[\w.-]*?" + _KEY_WORDS + r")\s*=\s*(?:\"(?P<secret_ed>[^\"\\\n]*)\""
    r"|'(?P<secret_es>[^'\\\n]*)'|\\?[\"']?(?P<secret_e>[^\s\"'\\,;&{}\[\]<>()]+))",
    # The password of scheme://user:password@host; the user may be empty, the password may
    # hold ":" and "@" (the last "@" before the host ends it).
    r"(?<=://)[^\s:/@\"'\\]*:(?P<secret_url>[^\s/?#\"'\\]+)@",
    # key: value in YAML, HTTP headers and logs (the value stays on the key's line).
    _KEY_START
    + r"(?P<key_y>[\w.-]*?"
    + _KEY_WORDS
    + r")[ \t]*:[ \t]*"
    + _SCHEME_INLINE
    + _line_value("y"),
    # --key value on a command line (--key=value is the key=value rule); a value that is the
    # next flag is not one.
    _KEY_START + r"--(?P<key_c>[\w.-]{0,64}?" + _KEY_WORDS + r")[ \t]+(?!-)" + _line_value("c"),
    # '--key', 'value' in the repr of an argument list (a subprocess error quotes its command).
    _KEY_START
    + r"(?P<key_f>--?[\w.-]*?"
    + _KEY_WORDS
    + r")\\?[\"']\s*,\s*(?P<vf>\\?[\"'])(?P<secret_f>(?:[^\\\n]|\\.)*?)(?P=vf)",
    # Bearer and Basic credentials (the scheme word is kept), in any case; a long lower-case
    # run counts as a token too.
    r"(?<![A-Za-z0-9])(?i:bearer|basic)\s+(?P<secret_bearer>(?:"
    + _NOT_PROSE
    + r"[\w\-.~+/]{8,}|[a-z0-9\-._~+/]{20,})=*)",
    # Distinctive prefixes match even glued to other text; "sk-" must start a word so
    # "task-…" and "risk-…" are safe, and needs a digit or capital so prose is too.
    # Lookaheads are bounded and a JWT must start a run: either would otherwise rescan
    # the rest of the text at every candidate, which is quadratic.
    # A JWT's header is base64 of "{": "eyJ" for '{"', "eyAi" for '{ "' and so on; past
    # "eyJ", the payload must start as JSON does too ("ey", "ew"), so that a dotted name
    # such as "eyeball_tracker.settings.x" is no JWT.
    r"(?<![\w-])ey(?:J[\w-]{8,}|[A-Za-z0-9][\w-]{7,}(?=\.e[wy]))\.[\w-]{8,}\.[\w-]*",
    r"(?<![A-Za-z0-9])sk-(?=[a-z-]{0,64}[A-Z0-9_])[\w-]{20,}",
    r"AIza[\w-]{35}",
    r"(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,})",
    # An AWS key id, and the 40-character secret beside it (a credentials CSV row, a
    # "id secret" pair); the separators between them stay.
    r"(?<![A-Z0-9])(?P<secret_akid>(?:AKIA|ASIA)[A-Z0-9]{16})(?![A-Z0-9])"
    r"(?:[\t ,;|:=\"']{1,6}(?P<secret_aws>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+]))?",
    # Slack tokens (bot, user, app, refresh, config...): a digit comes early in every one,
    # which keeps "xoxo-…" prose out.
    r"(?<![A-Za-z0-9])(?:xox[abeoprs](?:\.xox[abeoprs])?|xapp)-(?=[A-Za-z-]{0,16}[0-9])"
    r"[A-Za-z0-9-]{10,}",
    # Stripe secret and restricted keys, live and test.
    r"(?<![A-Za-z0-9])[sr]k_(?:live|test)_[A-Za-z0-9]{10,}",
    # Hugging Face, Groq, GitLab personal access and Google OAuth client secret tokens.
    r"(?<![A-Za-z0-9])(?:hf_[A-Za-z0-9]{30,}|gsk_[A-Za-z0-9]{40,}|glpat-[\w-]{20,}"
    r"|GOCSPX-[\w-]{20,})",
)
# A rule is tried only where it can start a match, so text pays only for the rules whose
# triggers it holds. Finders, each led by a literal the regex engine skips to, mark every such
# start: a match's start plus a shift or, in the reversed text, a match's end (a key rule's
# finder reads back from ":" or "=" over a key word to the start of the key's [\w.-] run).
# No finder match hides a start by overlapping it ("AKIASIA" has no AWS key; a hidden Slack,
# Stripe or "--" start would follow a letter, digit or "-", which the rule refuses).
_WORDS = (
    "key secret pass passwd password passphrase pwd token auth authorization cookie credential sig"
)


def _reversed_key_run(words: list[str]) -> str:
    """The key words reversed, then the rest of the key's run: a finder's tail.

    Grouped by first letter behind a lookahead on it: the engine then rejects most
    separators at one character instead of trying every word without case (the ":" finder
    is about 2.7x faster so on 10 KB of log lines, where ":" is everywhere).
    """
    groups: dict[str, list[str]] = {}
    for word in words:
        groups.setdefault(word[-1], []).append(word[::-1][1:])
    alternatives = (f"{first}(?:{'|'.join(rests)})" for first, rests in sorted(groups.items()))
    letters = "".join(sorted(first + first.upper() for first in groups))
    return f"(?=[{letters}])(?i:{'|'.join(alternatives)})" + r"[\w.-]*"


_KEY_RUN = _reversed_key_run(f"{_WORDS} credentials".split())
# Per rule: finders; shift, or None for the reversed text; gate: characters one of which the
# text must hold for a key rule to reverse it, or "lower" for the rule that searches the
# lower-cased text. A finder led by a literal is faster than "in" here, so prefix rules have
# no gate; an alternation of different first letters is slow, so each finder has one.
_FINDERS: tuple[tuple[tuple[str, ...], int | None, str], ...] = (
    (("-----BEGIN",), 0, ""),
    ((r":\s*[\"']\\?" + _KEY_RUN, r"=\s*[\"']\\?" + _KEY_RUN), None, "\"'"),
    ((r"=\s*" + _KEY_RUN,), None, "="),
    (("://",), 3, ""),
    ((r":[ \t]*" + _KEY_RUN,), None, ":"),
    (("--",), 0, ""),
    # A flag starts a quoted word: one search for "-" is cheaper than reading back from ",".
    (("""-(?<=['"]-)""",), 0, ""),
    (("bearer|basic",), 0, "lower"),
    *(
        ((f,), 0, "")
        for f in (
            r"ey(?<![\w-]ey)[A-Za-z0-9]",
            "sk-",
            "AIza",
            "gh[pousr]_|github_pat_",
            "AKIA|ASIA",
        )
    ),
    (("xox|xapp",), 0, ""),
    (("k_live_|k_test_",), -1, ""),  # "[sr]k_" would make the engine try every position
    (("hf_", "gsk_", "glpat-", "GOCSPX-"), 0, ""),  # literals: an alternation is slower
)

DEFAULT_RULES = _DEFAULT_RULES
FINDERS = _FINDERS
KEY_RUN = _KEY_RUN
