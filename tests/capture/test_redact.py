"""Secret redaction (spanline._capture._redact): text, structures, keys and telemetry events."""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

import spanline._capture._redact
import spanline._capture._scrub
from spanline._capture._previews import preview, to_jsonable
from spanline._capture._redact import (
    REDACTED,
    add_redaction_pattern,
    add_secret_key,
    is_secret_key,
    redact_text,
    reset_redaction,
)
from spanline._capture._scrub import redact, redact_event
from spanline._hotpath._errors import error_info

# Fake secrets in each supported format (random-looking, not real credentials).
SECRETS = {
    "anthropic": "sk-ant-api03-" + "Xy7Qp2Lm9Rt4Vb8Nc3Jk6Hd1Fs5Gw0Ze" + "-_aB3cD4eF5gH6iJ7kL8mN9oP",
    "openai_project": "sk-proj-" + "Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78St90Uv12Wx34_Yz-5",
    "openai_legacy": "sk-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v2W3x4",
    "google": "AIza" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
    "github_classic": "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
    "github_oauth": "gho_" + "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2",
    "github_fine_grained": "github_pat_11ABCDEFG0" + "123456789_abcdefghijklmnopqrstuvwxyzABCDEF",
    "aws_key_id": "AKIA" + "IOSFODNN7EXAMPLE",
    "aws_session_key_id": "ASIA" + "QWERTYUIOP123456",
    "jwt": (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
        ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ"
        ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    ),
    "slack_bot": "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "slack_user": "xoxp-" + "123456789012-1234567890123-1234567890123-0a1b2c3d4e5f6a7b8c9d",
    "slack_refresh": "xoxe.xoxp-1-" + "Mi0yLTEyMzQ1Njc4OTAxMi0xMjM0NTY3ODkwMTIz",
    "slack_app": "xapp-1-" + "A0123BCDE45-1234567890123-0a1b2c3d4e5f6a7b8c9d0e1f",
    "stripe_live": "sk_live_" + "51H8xYzAbCdEfGhIjKlMnOpQrStUv",
    "stripe_restricted": "rk_live_" + "51H8xYzAbCdEfGhIjKlMnOpQrStUv",
    "stripe_test": "sk_test_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "stripe_restricted_test": "rk_test_" + "4eC39HqLyjWDarjtT1zdp7dc",
}
SECRET_CASES = list(SECRETS.items())
SECRET_IDS = list(SECRETS)


@pytest.fixture(autouse=True)
def _default_redaction() -> Iterator[None]:
    reset_redaction()
    yield
    reset_redaction()


def fragments(secret: str) -> list[str]:
    """Pieces of a secret long enough that finding one in output means a leak."""
    return [secret[i : i + 12] for i in range(4, len(secret) - 12, 6)]


def assert_no_leak(text: str, secret: str) -> None:
    assert secret not in text
    for piece in fragments(secret):
        assert piece not in text, f"fragment {piece!r} of a secret leaked: {text!r}"


# --- redaction of text ---


@pytest.mark.parametrize(("kind", "secret"), SECRET_CASES, ids=SECRET_IDS)
def test_redact_text_removes_each_format(kind: str, secret: str) -> None:
    for template in ("{}", "key {} here", "({})", "'{}',", "x={}&y=1", "\n{}\n"):
        text = redact_text(template.format(secret))
        assert_no_leak(text, secret)
        assert REDACTED in text


def test_bearer_keeps_the_scheme_word() -> None:
    assert redact_text(f"Authorization: Bearer {SECRETS['jwt']}") == (
        "Authorization: Bearer [REDACTED]"
    )
    assert redact_text("bearer abc123def456ghi") == "bearer [REDACTED]"
    nested = [{"headers": (f"Bearer {SECRETS['jwt']}",)}]
    assert preview(nested) == "[{'headers': ('Bearer [REDACTED]',)}]"
    assert to_jsonable(nested) == [{"headers": ["Bearer [REDACTED]"]}]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", None),
        ("export AWS_SECRET_ACCESS_KEY='wJalrXUtnFEMI/K7MDENG'", None),
        ("https://x.io/?api_key=abc123&page=2", "https://x.io/?api_key=[REDACTED]&page=2"),
        ("--password=hunter2 --verbose", "--password=[REDACTED] --verbose"),
        ("postgres://admin:s3cr3t@db:5432/app", "postgres://admin:[REDACTED]@db:5432/app"),
        ("{'password': 'hunter 2'}", "{'password': '[REDACTED]'}"),
    ],
)
def test_redact_text_removes_assignments(text: str, expected: str | None) -> None:
    redacted = redact_text(text)
    if expected is None:
        assert "wJalrXUtnFEMI" not in redacted
        assert redacted.lower().startswith(("aws_secret_access_key=", "export aws"))
    else:
        assert redacted == expected


PEM_BODY = "MIIEowIBAAKCAQEA7bq98fJk2xQzVb3\nqLm9Rt4Vb8Nc3Jk6Hd1Fs5Gw0Ze+/AB==\n"
PEM_KINDS = ["RSA PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "PRIVATE KEY"]
PEM_KINDS += ["ENCRYPTED PRIVATE KEY", "DSA PRIVATE KEY", "PGP PRIVATE KEY BLOCK"]


def pem(kind: str, body: str = PEM_BODY) -> str:
    return f"-----BEGIN {kind}-----\n{body}-----END {kind}-----"


@pytest.mark.parametrize("kind", PEM_KINDS)
def test_pem_private_key_blocks_lose_their_body(kind: str) -> None:
    text = f"key file:\n{pem(kind)}\nnext line"
    redacted = redact_text(text)
    assert redacted == f"key file:\n-----BEGIN {kind}-----[REDACTED]-----END {kind}-----\nnext line"
    # As it appears in JSON text (escaped newlines), the result still parses.
    document = orjson.dumps({"key": "x", "pem": pem(kind), "n": 1}).decode()
    assert orjson.loads(redact_text(document))["pem"] == redacted.split("\n")[1]


def test_a_pem_block_cut_short_loses_everything_after_begin() -> None:
    headers = "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,3F17F5316E2BAC89\n\n"
    cut = f"-----BEGIN RSA PRIVATE KEY-----\n{headers}{PEM_BODY}"
    assert redact_text(cut) == "-----BEGIN RSA PRIVATE KEY-----[REDACTED]"
    escaped = orjson.dumps({"pem": cut[:60]}).decode()  # JSON: the body has "\n" escapes
    assert orjson.loads(redact_text(escaped)) == {
        "pem": "-----BEGIN RSA PRIVATE KEY-----[REDACTED]"
    }
    # A preview redacts a window past its cut: a long key is cut in its body there.
    long_key = pem("RSA PRIVATE KEY", PEM_BODY * 200)
    for shown in (preview(long_key, 40), preview(long_key, 2000), preview({"k": long_key}, 300)):
        assert "-----BEGIN RSA PRIVATE KEY-----[REDACTE" in shown and "MIIE" not in shown


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic [REDACTED]"),
        ("curl -H 'authorization: basic dXNlcjpwYXNz' x", None),
        ("Basic dXNlcjpodW50ZXIy", "Basic [REDACTED]"),
        ("aws_secret_access_key: wJalrXUtnFEMI/K7MDENG", "aws_secret_access_key: [REDACTED]"),
        ("[default]\naws_secret_access_key = wJalrXUtnFEMI/K7", None),
        ("password: hunter2", "password: [REDACTED]"),
        ("db:\n  password: 'hunter 2'  # yaml", "db:\n  password: '[REDACTED]'  # yaml"),
        ('client_secret: "s3 cr3t"\nuser: ann', 'client_secret: "[REDACTED]"\nuser: ann'),
        ("PASSWORD=hunter2 make", "PASSWORD=[REDACTED] make"),
        ("--password hunter2 --verbose", "--password [REDACTED] --verbose"),
        ("--password=hunter2 --verbose", "--password=[REDACTED] --verbose"),
        ("run --db-password\t'a b' --x", "run --db-password\t'[REDACTED]' --x"),
        ("--aws-secret-access-key abc/DEF+1", "--aws-secret-access-key [REDACTED]"),
        ("--password --verbose", "--password --verbose"),  # read from a prompt: no value
        ("authorization: bearer abcdefghijklmnopqrstuvwx", "authorization: bearer [REDACTED]"),
        ("bearer abcdefghijklmnopqrstuvwxyz", "bearer [REDACTED]"),
        ("BEARER ABC123DEF456GHI", "BEARER [REDACTED]"),
        ("redis://:pw@cache:6379/0", "redis://:[REDACTED]@cache:6379/0"),
        ("amqp://user:p:a@ss@host/vhost", "amqp://user:[REDACTED]@host/vhost"),
        ("postgres://user:p%40ss@db/app", "postgres://user:[REDACTED]@db/app"),
        ("https://u:pw@host/?mail=a@b.c", "https://u:[REDACTED]@host/?mail=a@b.c"),
    ],
)
def test_redact_text_removes_the_variants_that_leaked(text: str, expected: str | None) -> None:
    redacted = redact_text(text)
    if expected is None:
        assert "dXNlcjpwYXNz" not in redacted and "wJalrXUtnFEMI" not in redacted
        assert REDACTED in redacted
    else:
        assert redacted == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "sk",
        "basic usage of the API",
        "Basic Authentication is described in RFC 7617.",
        "Forgot your password? Reset it. The password reset link was sent.",
        "xoxo-gossip-girl-fan-club and xoxb alone",
        "risk_live_feed desk_test_results sk_live_ pk_live_51H8xYzAbCdEfGhIjKlMnOp",
        "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----",
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZI\n-----END PUBLIC KEY-----",
        "mail user@example.com, ssh://git@github.com/o/r.git at 12:30:45",
        "http://localhost:8080/a@b and https://example.com:443/",
        "--verbose --dry-run -- --max-tokens 100 --token-count 5",
        "Note: the tokenizer splits text; author: Ann",
        "sk-",
        "task-list",
        "risk-assessment-for-the-whole-company",
        "sk-learn-compatible-estimators-everywhere",
        "Bearer",
        "Bearer token",
        "the bearer deliberately waited",
        "hello world",
        "max_tokens=100",
        '{"max_tokens": 100, "input_tokens": 5}',
        "token_count: 12",
        "eos_token='</s>'",
        "AKIA",
        "ghp_short",
        "eyJ alone",
        "https://example.com/path?q=1",
        "key: value",
        "The Authorization header is required.",
        "ünïcödé ✓ 日本語",
    ],
)
def test_redact_text_leaves_ordinary_text_alone(text: str) -> None:
    assert redact_text(text) == text
    assert preview(text, 1000) == text


ADVERSARIAL_UNITS = ["sk-", "eyJ", "eyJa.", "token'", '"token": "', "Bearer ", "bearer a"]
ADVERSARIAL_UNITS += ["x://a", "ghp_", "github_pat_", "AKIA", '\\"pwd\\": \\"', "key: '", "a."]
ADVERSARIAL_UNITS += ["-----BEGIN PRIVATE KEY-----", "-----BEGIN PRIVATE KEY-----\nAAAA", "--"]
ADVERSARIAL_UNITS += ["--password ", "password: ", "a-token: ", "xoxb-1", "sk_live_", "basic "]
ADVERSARIAL_UNITS += ["://a:b@", "://:", "a:@"]


@pytest.mark.parametrize("unit", ADVERSARIAL_UNITS)
def test_redact_text_copes_with_repetitive_input(unit: str) -> None:
    # A regex that backtracks quadratically would take minutes here and hit the
    # per-test timeout; linear matching takes well under a second.
    text = unit * (300_000 // len(unit))
    assert isinstance(redact_text(text), str)
    assert len(preview(text)) <= 200


def test_redact_text_accepts_non_strings() -> None:
    assert redact_text(None) is None  # type: ignore[arg-type]


# --- JSON text stays JSON ---

JWT = SECRETS["jwt"]
JSON_CASES = [
    (
        {"api_key": SECRETS["openai_project"], "model": "gpt-4o", "max_tokens": 256},
        {"api_key": REDACTED, "model": "gpt-4o", "max_tokens": 256},
    ),
    (
        {"headers": {"Authorization": f"Bearer {JWT}", "Accept": "text/plain"}},
        {"headers": {"Authorization": "Bearer [REDACTED]", "Accept": "text/plain"}},
    ),
    (
        {"password": 'with "quotes", commas, {braces} and \\ backslash', "user": "ann"},
        {"password": REDACTED, "user": "ann"},
    ),
    (
        {"list": [SECRETS["anthropic"], SECRETS["google"], "plain", 1, None, True]},
        {"list": [REDACTED, REDACTED, "plain", 1, None, True]},
    ),
    (
        {"env": f"AWS_ACCESS_KEY_ID={SECRETS['aws_key_id']}\naws_secret_access_key=abc/DEF+1"},
        {"env": f"AWS_ACCESS_KEY_ID={REDACTED}\naws_secret_access_key={REDACTED}"},
    ),
    (
        {"inner": orjson.dumps({"token": "t0k3n", "n": 1}).decode(), "ok": "yes"},
        {"inner": '{"token":"[REDACTED]","n":1}', "ok": "yes"},
    ),
    (
        {"url": "postgres://u:p%40ss@h/db", "msg": 'no secret here: {}, [], ""'},
        {"url": "postgres://u:[REDACTED]@h/db", "msg": 'no secret here: {}, [], ""'},
    ),
    (
        {"client_secret": "", "refresh_token": "short", "note": "a,b;c", "n": [1.5, -2]},
        {"client_secret": REDACTED, "refresh_token": REDACTED, "note": "a,b;c", "n": [1.5, -2]},
    ),
    (
        {"k": f"{SECRETS['github_fine_grained']},{SECRETS['aws_session_key_id']}", "v": "ok"},
        {"k": f"{REDACTED},{REDACTED}", "v": "ok"},
    ),
    (
        {"max_tokens": 10, "eos_token": "</s>", "text": "Bearer of news", "é": "ü"},
        {"max_tokens": 10, "eos_token": "</s>", "text": "Bearer of news", "é": "ü"},
    ),
]


@pytest.mark.parametrize(("document", "expected"), JSON_CASES)
@pytest.mark.parametrize("option", [None, orjson.OPT_INDENT_2])
def test_redacted_json_text_still_parses(
    document: dict[str, Any], expected: dict[str, Any], option: int | None
) -> None:
    redacted = redact_text(orjson.dumps(document, option=option).decode())
    assert orjson.loads(redacted) == expected
    assert redact_text(redacted) == redacted  # redacting twice changes nothing more
    for secret in SECRETS.values():
        assert_no_leak(redacted, secret)


def test_json_nested_in_a_json_string_is_redacted_and_valid() -> None:
    text = orjson.dumps({"inner": orjson.dumps({"password": "p4ss", "n": 1}).decode()}).decode()
    parsed = orjson.loads(redact_text(text))
    assert orjson.loads(parsed["inner"]) == {"password": REDACTED, "n": 1}


# --- each rule runs only where its trigger is, with the same result as running them all ---


def reference_redact_text(text: str) -> str:
    """redact_text as it was before per-rule triggers: every rule over the whole text."""
    module = spanline._capture._redact
    for rule in (*module._RULES, *module.registry.patterns):
        text = rule.sub(module._substitute, text)
    return text


KEY_RUN = spanline._capture._redact._KEY_RUN
PLAIN = "the model returned a long answer about token counts keys and authors"


def filler(size: int, seed: int) -> str:
    """Secret-free text of about ``size`` characters: prose, JSON and log lines."""
    rng = random.Random(seed)
    words = [*PLAIN.split(), "max_tokens=256", '"max_tokens": 100,', "eos_token='</s>'"]
    words += ["task-list", "risk-", "https://example.com/a?q=1", "{'role': 'user'}", "\n"]
    words += ["ünï ✓", "A.", "gh", "sk", "bear", "Authorization:"]
    out: list[str] = []
    while size > 0:
        out.append(rng.choice(words))
        size -= len(out[-1]) + 1
    return " ".join(out)


JWT_TEXT = SECRETS["jwt"]
ENV_FILE = "\n".join(
    [
        "# settings",
        f"AWS_ACCESS_KEY_ID={SECRETS['aws_key_id']}",
        "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "DB_PASSWORD='hunter 2'",
        'API_TOKEN="abc123"',
        "export GITHUB_TOKEN = " + SECRETS["github_classic"],
        "MAX_TOKENS=100",
        "EOS_TOKEN=</s>",
        "auth=",
        "client.secret=s3;cookie=c00kie&x=1",
    ]
)
CORPUS = [
    *(
        orjson.dumps({"note": f"the key is {secret}!", "kind": kind}).decode()
        for kind, secret in SECRET_CASES
    ),
    *(
        orjson.dumps({kind: secret, "api_key": secret, "n": 1}, option=orjson.OPT_INDENT_2).decode()
        for kind, secret in SECRET_CASES
    ),
    orjson.dumps(
        {"inner": orjson.dumps({"password": "p4ss", "token": JWT_TEXT}).decode()}
    ).decode(),
    orjson.dumps({"headers": {"Authorization": f"Bearer {JWT_TEXT}", "Cookie": "a=b"}}).decode(),
    '{"auth": "x", "AUTH" : \'y\', "eos_token": "</s>", "secret_key":"", "token": "un\\"closed}',
    "{'password': 'hunter 2', 'eos_token': '</s>', 'private.key': 'k'}",
    "postgres://admin:s3cr3t@db:5432/app and redis://:nopass@cache and mysql://u:p@h/db",
    "https://user:pa%40ss@host/path?api_key=abc123&page=2&token=t0k3n#frag",
    "git clone https://x-access-token:ghs_"
    + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4"
    + "@github.com/o/r.git",
    "ftp:// not a url, a://b:c@ and :// alone, s3://bucket/key",
    ENV_FILE,
    ENV_FILE.replace("\n", "\r\n"),
    f"Authorization: Bearer {JWT_TEXT}\nauthorization: bearer abc123def456ghi\nBEARER x",
    "The bearer deliberately waited. Bearer token. bearer\tAbcdefgh1",
    f"please rotate {SECRETS['openai_legacy']} and {SECRETS['anthropic']} today",
    f"ids: {SECRETS['aws_key_id']}, XAKIAIOSFODNN7EXAMPLE, AKIASIAQWERTYUIOP123456, ASIA",
    f"glued{SECRETS['google']}glued task-{SECRETS['openai_project']} x{JWT_TEXT}",
    f"{SECRETS['github_fine_grained']};{SECRETS['github_oauth']} ghp_short github_pat_",
    "İstanbul token=abc İ api_key: 'ü' \u212aEY=x \u2018quotes\u2019 password = \"é\"",
    '--password=hunter2 --verbose --token "abc" -e SECRET=1',
    "monkey=1 author=me key=value secretary=x passwords=many tokens=5 api_key =  spaced",
    "eyJ alone, eyJhbGciOiJIUzI1NiJ9.short.x, sk-learn, sk-proj-lowercase-only-words",
    "Authorization: Basic dXNlcjpwYXNz\nauthorization: bearer abcdefghijklmnopqrstuvwxyz",
    "db:\n  password: 'hunter 2'\n  secret: \"x y\"\n  api_key: abc,def\n  token:\n  auth: [a]",
    "run --password hunter2 --client-secret 'a b' --token --verbose --api-key=k -- --pwd x",
    "redis://:pw@cache:6379 amqp://u:p:a@ss@h/v https://u:pw@h/?m=a@b x://:@ :// @",
    f"{pem('RSA PRIVATE KEY')} and {pem('PRIVATE KEY')[:50]} -----BEGIN EC PRIVATE KEY-----",
    '-----BEGIN PRIVATE KEY-----\\nMIIE\\nAB==\\n-----END PRIVATE KEY-----\\n"}',
    "xoxb-123456789012-abc xoxo-gossip xapp-1-A0123BCDE45 xoxe.xoxp-1-Mi0yLTEy x-xoxb-1234567890",
    "sk_live_4eC39HqLyjWDarjtT1 rk_test_4eC39HqLyj ask_live_4eC39HqLy",
    "",
    "hello world",
]
BIG_TEXTS = {
    f"{kind}-{where}": (
        f"{secret} {filler(40_000, i)}"
        if where == "start"
        else f"{filler(20_000, i)} {secret} {filler(20_000, i + 1)}"
        if where == "middle"
        else f"{filler(40_000, i)} {secret}"
    )
    for i, (kind, secret) in enumerate(
        [*SECRET_CASES, ("url", "db://u:pw@h"), ("json", '"auth": "x"'), ("env", "TOKEN=abc")]
    )
    for where in ("start", "middle", "end")
}


@pytest.mark.parametrize("text", CORPUS)
def test_redact_text_matches_running_every_rule(text: str) -> None:
    assert redact_text(text) == reference_redact_text(text)


@pytest.mark.parametrize("name", list(BIG_TEXTS))
def test_big_text_with_a_secret_matches_running_every_rule(name: str) -> None:
    text = BIG_TEXTS[name]
    redacted = redact_text(text)
    assert redacted == reference_redact_text(text)
    assert REDACTED in redacted


@pytest.mark.parametrize("unit", [*ADVERSARIAL_UNITS, "token = ", '"password": "x", ', "a:b@"])
def test_repetitive_text_matches_running_every_rule(unit: str) -> None:
    text = unit * (3000 // len(unit))
    assert redact_text(text) == reference_redact_text(text)


def test_random_mixtures_match_running_every_rule() -> None:
    # Pieces that trigger, complete, break or glue together every rule's matches.
    pieces = [*SECRETS.values(), "api_key", "Secret_Access_Key", "PASSWD", "pwd", "auth"]
    pieces += ["token", "eos_token", "credentials", "cookie", "monkey", '"', "'", "\\", ":"]
    pieces += ["=", " ", "\n", ",", "{", "}", "&", ";", ".", "-", "_", "/", "@", "://", "x"]
    pieces += ["Bearer ", "bEaReR\t", "sk-", "AKIA", "ASIA", "eyJ", "ghp_", "hunter2", "İ", "é"]
    pieces += ["abc123DEF456ghi", "Q7" * 8]
    pieces += ["-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----", "--", "\t"]
    pieces += ["Basic ", "xoxb-", "xoxp-1", "xapp-", "sk_live_", "rk_test_", "?", "#"]
    rng = random.Random(20240601)
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 20)))
        assert redact_text(text) == reference_redact_text(text), text


def test_added_patterns_run_on_text_without_builtin_triggers() -> None:
    add_redaction_pattern(r"ACME-\d{6}")
    for text in ("ACME-123456", filler(5000, 7) + " ACME-654321", f"ACME-000001 {JWT_TEXT}"):
        assert redact_text(text) == reference_redact_text(text)
        assert "ACME-" not in redact_text(text)


def test_only_rules_whose_trigger_is_present_are_tried(monkeypatch: pytest.MonkeyPatch) -> None:
    class CountingRule:
        def __init__(self, rule: re.Pattern[str]) -> None:
            self.rule, self.calls = rule, 0

        def match(self, text: str, pos: int) -> re.Match[str] | None:
            self.calls += 1
            return self.rule.match(text, pos)

    plans = [(CountingRule(rule), *how) for rule, *how in spanline._capture._redact._PLANS]
    monkeypatch.setattr(spanline._capture._redact, "_PLANS", tuple(plans))

    def calls() -> list[int]:
        return [plan[0].calls for plan in plans]

    prose = " ".join([PLAIN] * 300)
    assert redact_text(prose) is prose
    assert calls() == [0] * len(plans)
    url = redact_text(f"{prose} postgres://u:pw@db/x {prose}")
    assert "postgres://u:[REDACTED]@db/x" in url
    finders = [plan[1][0].pattern for plan in plans]
    url_rule, quoted_rule = finders.index("://"), finders.index(r":\s*[\"']\\?" + KEY_RUN)
    assert calls() == [int(i == url_rule) for i in range(len(plans))]  # the URL rule, once
    assert redact_text(f'{{"auth": "x", "notes": "{prose}"}}').startswith('{"auth": "[REDACTED]"')
    # Then the quoted-key rule, once.
    assert calls() == [int(i in (url_rule, quoted_rule)) for i in range(len(plans))]


def test_str_subclass_overriding_methods_is_still_redacted() -> None:
    class Sneaky(str):
        def __contains__(self, item: object) -> bool:
            return False

        def lower(self) -> str:
            return ""

        def __getitem__(self, index: Any) -> str:
            return ""

    assert redact_text(Sneaky("x token=abc Bearer abc123def456ghi")) == (
        "x token=[REDACTED] Bearer [REDACTED]"
    )
    plain = Sneaky("nothing here")
    assert redact_text(plain) is plain


# --- secret keys ---

SECRET_KEYS = [
    "api_key",
    "apikey",
    "API-KEY",
    "apiKey",
    "x-api-key",
    "OPENAI_API_KEY",
    "token",
    "access_token",
    "refresh_token",
    "auth_token",
    "password",
    "passwd",
    "db_pwd",
    "secret",
    "client_secret",
    "AWS_SECRET_ACCESS_KEY",
    "private_key",
    "Authorization",
    "http.request.header.authorization",
    "auth",
    "cookie",
    "Set-Cookie",
    "credentials",
]
PLAIN_KEYS = [
    "max_tokens",
    "input_tokens",
    "gen_ai.usage.output_tokens",
    "token_count",
    "eos_token",
    "pad_token",
    "author",
    "key",
    "monkey",
    "session_id",
    "model",
    "tool.name",
    "secretary",
]


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_secret_keys_are_recognised(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", [*PLAIN_KEYS, 1, None, ("api_key",)])
def test_plain_keys_are_not_secret(key: object) -> None:
    assert not is_secret_key(key)


@pytest.mark.parametrize("key", ["api_key", "API-KEY", "password", "Authorization", "x-api-key"])
@pytest.mark.parametrize("value", ["harmless", 12345, None, {"nested": "dict"}, ["a", "b"]])
def test_values_under_secret_keys_are_removed(key: str, value: object) -> None:
    data = {"outer": [{key: value, "visible": "kept"}]}
    assert redact(data) == {"outer": [{key: REDACTED, "visible": "kept"}]}
    assert to_jsonable(data) == {"outer": [{key: REDACTED, "visible": "kept"}]}
    text = preview(data, 1000)
    assert text == f"{{'outer': [{{{key!r}: '[REDACTED]', 'visible': 'kept'}}]}}"


# --- redact ---


def test_redact_walks_structures_without_mutating_them() -> None:
    secret = SECRETS["openai_legacy"]
    data = {"a": (f"x {secret}", 1), "b": [{"c": {secret}}], "n": 1.5, "o": None}
    result = redact(data)
    assert result == {"a": ("x [REDACTED]", 1), "b": [{"c": {REDACTED}}], "n": 1.5, "o": None}
    assert data["a"] == (f"x {secret}", 1)


def test_redact_is_cycle_safe_and_leaves_other_values() -> None:
    marker = object()
    loop: list[Any] = [1, 2]
    loop.append(loop)
    deep: list[Any] = []
    for _ in range(500):
        deep = [deep]
    assert redact(loop) == [1, 2, "<cycle>"]
    # Objects are converted (and redacted) rather than handed to the encoder as they are.
    assert redact([marker, b"bytes", 3]) == [repr(marker), "bytes", 3]
    assert redact(deep) is not None


def test_redact_fails_closed_on_a_broken_mapping() -> None:
    class BrokenMapping(dict):  # type: ignore[type-arg]
        def items(self) -> Any:
            raise RuntimeError("boom")

    assert redact({"ok": BrokenMapping(a=1)}) == {"ok": REDACTED}


# --- user extensions ---


def test_added_pattern_redacts_and_reset_restores() -> None:
    add_redaction_pattern(r"ACME-\d{6}")
    assert redact_text("order ACME-123456 done") == "order [REDACTED] done"
    assert preview({"id": "ACME-123456"}) == "{'id': '[REDACTED]'}"
    reset_redaction()
    assert redact_text("order ACME-123456 done") == "order ACME-123456 done"


def test_added_pattern_with_a_secret_group_keeps_the_rest() -> None:
    add_redaction_pattern(re.compile(r"pin (?P<secret>\d{4})"))
    assert redact_text("my pin 1234.") == "my pin [REDACTED]."


def test_added_pattern_matching_empty_text_is_refused() -> None:
    with pytest.raises(ValueError, match="empty string"):
        add_redaction_pattern("x*")


def test_added_secret_key_name_and_regex() -> None:
    add_secret_key("customer-ssn")
    add_secret_key(r"^internal\.")
    data = {"Customer_SSN": "123", "internal.thing": 1, "customerssnx": 2}
    assert redact(data) == {"Customer_SSN": REDACTED, "internal.thing": REDACTED, "customerssnx": 2}
    assert redact_text('{"api_key": "abc"}') == '{"api_key": "[REDACTED]"}'
    reset_redaction()
    assert redact(data) == data


def test_empty_secret_key_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        add_secret_key("")


# --- redact_event ---

SPAN_ID, TRACE_ID = "00000000000000a1", "0123456789abcdef0123456789abcdef"


def span_start(attributes: dict[Any, Any]) -> dict[str, Any]:
    return {
        "event": "span_start",
        "span_id": SPAN_ID,
        "parent": None,
        "trace_id": TRACE_ID,
        "name": "llm call",
        "component": "agent",
        "kind": "llm",
        "ts": 1.0,
        "attributes": attributes,
    }


def span_end(attributes: dict[Any, Any], **extra: Any) -> dict[str, Any]:
    event = {"event": "span_end", "span_id": SPAN_ID, "status": "ok", "duration_ms": 2.5}
    return {**event, "tokens": 0, "tool_uses": 0, "ts": 2.0, "attributes": attributes, **extra}


def without(event: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key not in keys}


def test_redact_event_redacts_attributes_into_a_new_dict() -> None:
    key = SECRETS["openai_project"]
    attributes = {"api_key": "plain", "prompt": f"use {key}", "model": "gpt-4o", "n": 3}
    attributes |= {"stream": True, "temperature": 0.5, "stop": None, f"x {key}": 1}
    snapshot = copy.deepcopy(attributes)
    event = span_start(attributes)
    result = redact_event(event)
    assert result is event  # the writer owns the event dict: updating it is allowed
    assert result["attributes"] == {
        "api_key": REDACTED,
        "prompt": "use [REDACTED]",
        "model": "gpt-4o",
        "n": 3,
        "stream": True,
        "temperature": 0.5,
        "stop": None,
        "x [REDACTED]": 1,
    }
    assert result["attributes"] is not attributes
    assert attributes == snapshot  # user code still holds this dict
    assert without(result, "attributes") == without(span_start({}), "attributes")


def test_redact_event_redacts_nested_attributes_without_mutating_them() -> None:
    key, jwt = SECRETS["anthropic"], SECRETS["jwt"]
    attributes = {
        "request": {
            "headers": {"Authorization": f"Bearer {jwt}", "Accept": "application/json"},
            "messages": [{"role": "user", "content": f"my key is {key}"}],
            "config": ({"password": "hunter2", "retries": 2},),
        },
        1: "int key",
    }
    snapshot = copy.deepcopy(attributes)
    result = redact_event(
        {
            "event": "event",
            "name": "request",
            "span_id": SPAN_ID,
            "ts": 1.0,
            "attributes": attributes,
        }
    )
    assert result["attributes"] == {
        "request": {
            "headers": {"Authorization": REDACTED, "Accept": "application/json"},
            "messages": [{"role": "user", "content": "my key is [REDACTED]"}],
            "config": ({"password": REDACTED, "retries": 2},),
        },
        1: "int key",
    }
    assert result["attributes"] == redact(attributes)
    assert attributes == snapshot
    assert result["name"] == "request" and result["span_id"] == SPAN_ID


def test_redact_event_matches_redact_on_cycles_and_odd_values() -> None:
    marker = object()
    attributes: dict[Any, Any] = {"marker": marker, "blob": b"token=abc"}
    attributes["self"] = attributes
    result = redact_event(span_end(attributes))
    assert result["attributes"] == {
        "marker": repr(marker),
        "blob": "token=[REDACTED]",  # bytes are text too: a key inside is redacted
        "self": "<cycle>",
    }
    assert result["attributes"] == redact(attributes)


def test_redact_event_redacts_error_message_and_stacktrace() -> None:
    key = SECRETS["github_classic"]
    try:
        raise PermissionError(f"auth failed for token {key}")
    except PermissionError as exc:
        error = error_info(exc)
    original = dict(error)
    assert key in error["stacktrace"]  # the real traceback repeats the message
    result = redact_event(span_end({}, status="error", error=error))
    assert result["error"]["type"] == "PermissionError"
    assert result["error"]["message"] == f"auth failed for token {REDACTED}"
    assert_no_leak(result["error"]["stacktrace"], key)
    assert "Traceback (most recent call last)" in result["error"]["stacktrace"]
    assert error == original  # the span's own error dict is left alone
    assert without(result, "error") == span_end({}, status="error")


def test_redact_event_redacts_status_descriptions_and_keeps_clean_errors() -> None:
    error = {"type": "status", "message": "password=hunter2 rejected"}
    result = redact_event(span_end({}, status="error", error=error))
    assert result["error"] == {"type": "status", "message": f"password={REDACTED} rejected"}
    clean = {"type": "ValueError", "message": "bad input", "stacktrace": "Traceback ..."}
    assert redact_event(span_end({}, error=dict(clean)))["error"] == clean


def test_redact_event_redacts_phase_extras() -> None:
    key = SECRETS["aws_key_id"]
    phase = {"event": "phase", "name": "load", "wall_ms": 12.5, "ts": 3.0, "rows": 10}
    phase |= {"api_token": "abc123", "note": f"read with {key}", "source": "s3://bucket/x"}
    result = redact_event(dict(phase))
    assert result == {
        "event": "phase",
        "name": "load",
        "wall_ms": 12.5,
        "ts": 3.0,
        "rows": 10,
        "api_token": REDACTED,
        "note": f"read with {REDACTED}",
        "source": "s3://bucket/x",
    }
    assert list(result)[:4] == ["event", "name", "wall_ms", "ts"]
    bare = {"event": "phase", "name": "token", "wall_ms": 1.0, "ts": 1.0}
    assert redact_event(bare) is bare and bare["name"] == "token"


def test_redact_event_leaves_process_events_and_empty_attributes_alone() -> None:
    run_start = {"event": "run_start", "ts": 1.0, "run_id": "r1", "pid": 7, "trace_id": TRACE_ID}
    run_start |= {"schema_version": 1, "service_name": "svc", "agent_kinds": ["llm"]}
    process_end = {"event": "process_end", "ts": 9.0, "pid": 7, "dropped_events": 0}
    for event in (run_start, process_end, {"event": "process_start", "pid": 8}):
        before = copy.deepcopy(event)
        assert redact_event(event) is event
        assert event == before
    empty: dict[str, Any] = {}
    event = span_end(empty)
    assert redact_event(event) is event
    assert event["attributes"] is empty


def test_redact_event_follows_redaction_added_at_run_time() -> None:
    attributes = {"customer_ssn": "123-45-6789", "order": "ACME-123456"}
    assert redact_event(span_start(attributes))["attributes"] == attributes
    add_secret_key("customer-ssn")
    add_redaction_pattern(r"ACME-\d{6}")
    result = redact_event(span_start(attributes))["attributes"]
    assert result == {"customer_ssn": REDACTED, "order": REDACTED}
    reset_redaction()
    assert redact_event(span_start(attributes))["attributes"] == attributes


def test_redact_event_never_raises_and_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert redact_event(None) is None  # type: ignore[arg-type]
    assert redact_event({"event": "span_end", "error": "oops"})["error"] == "oops"

    def broken(attributes: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(spanline._capture._scrub, "_redact_attributes", broken)
    key = SECRETS["google"]
    event = span_end({"prompt": key}, error={"type": "E", "message": key})
    result = redact_event(event)
    assert key not in str(result)
    assert result["attributes"] == {"spanline.redaction_failed": True}
    assert result["error"] == {"type": "unknown", "message": REDACTED}


# --- command lines, odd keys, run headers, spanline's own reports ---

ARGV = ["mysql", "--password", "hunter2", "--api-key=abc", "-u", "root", "--token"]
ARGV_REDACTED = ["mysql", "--password", REDACTED, f"--api-key={REDACTED}", "-u", "root", "--token"]


def test_the_word_after_a_secret_flag_in_an_argument_list_is_redacted() -> None:
    assert redact(ARGV) == ARGV_REDACTED
    assert redact({"argv": tuple(ARGV)}) == {"argv": tuple(ARGV_REDACTED)}
    assert to_jsonable({"cmd": ARGV}) == {"cmd": ARGV_REDACTED}
    assert preview(ARGV, 1000) == repr(ARGV_REDACTED)
    # A list cut after a flag keeps its "more items" marker.
    assert to_jsonable(["a", "--token", "x", "y"], max_items=2) == ["a", "--token", "…[+2 items]"]
    # Only the word right after the flag; a list that is not a command line is left alone.
    words = ["--password", 3, "x", "-", "--verbose", "password", "y"]
    assert redact(words) == words and to_jsonable(words) == words


def test_a_quoted_argument_list_in_text_loses_the_flag_values() -> None:
    import subprocess

    error = subprocess.CalledProcessError(1, ["mysql", "--password", "hunter2", "-u", "root"])
    assert redact_text(str(error)) == (
        "Command '['mysql', '--password', '[REDACTED]', '-u', 'root']' returned non-zero"
        " exit status 1."
    )
    assert redact_text('["--client-secret", "a b", "--n", "1"]') == (
        '["--client-secret", "[REDACTED]", "--n", "1"]'
    )


def test_mapping_keys_that_are_not_strings_are_redacted_as_written() -> None:
    key = SECRETS["stripe_live"]
    attributes = {frozenset([key]): 1, (key, 2): "x", 3: "three", None: "none"}
    written = orjson.dumps(redact_event(span_start(attributes)), option=orjson.OPT_NON_STR_KEYS)
    assert key.encode() not in written
    assert redact({("a", key): 1}) == {f"('a', '{REDACTED}')": 1}
    assert redact({3: "three", None: "x", 1.5: "y"}) == {3: "three", None: "x", 1.5: "y"}


def test_run_headers_are_redacted_in_place() -> None:
    remote = f"https://x-access-token:{SECRETS['github_classic']}@github.com/o/r.git"
    run_start = {"event": "run_start", "run_id": "r1", "source_repo": remote, "pid": 7}
    run_start |= {"service_name": f"svc {SECRETS['slack_bot']}", "agent_kinds": ["agent"]}
    result = redact_event(run_start)
    assert result is run_start
    assert result["source_repo"] == f"https://x-access-token:{REDACTED}@github.com/o/r.git"
    assert result["service_name"] == f"svc {REDACTED}"
    end = {"event": "process_end", "pid": 7, "exporters": {f"x {SECRETS['jwt']}": {"failed": 1}}}
    assert redact_event(end)["exporters"] == {f"x {REDACTED}": {"failed": 1}}


def test_span_and_event_names_are_redacted() -> None:
    for secret in SECRETS.values():
        event = span_start({})
        event["name"], event["component"] = f"call {secret}", f"part {secret}"
        result = redact_event(event)
        assert (result["name"], result["component"]) == (f"call {REDACTED}", f"part {REDACTED}")
    plan = {"event": "span_planned", "name": "redis://:pw@cache", "attributes": {}}
    assert redact_event(plan)["name"] == f"redis://:{REDACTED}@cache"


def test_reports_are_redacted_whole() -> None:
    # What loguru hands every sink: stderr and spanline.log get this text (through a real
    # exporter and run, see tests/capture/test_redact_corpus.py).
    from loguru import logger

    from spanline._capture._report import report

    messages: list[str] = []
    sink = logger.add(messages.append, format="{message}", level="DEBUG")
    secret = SECRETS["slack_user"]
    try:
        try:
            raise RuntimeError(f"upload failed for {secret}")
        except RuntimeError as exc:
            report(f"exporter x {secret} raised", exc=exc)
        report(f"cannot write redis://:pw@cache/{secret}")
    finally:
        logger.remove(sink)
    text = "".join(messages)
    assert "spanline ── exporter x [REDACTED] raised" in text
    assert "upload failed for [REDACTED]" in text and "── end of spanline report" in text
    assert "redis://:[REDACTED]@cache/[REDACTED]" in text
    assert secret not in text and "pw@" not in text


def test_a_bad_setting_is_quoted_back_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    from spanline._session._settings import resolve_settings
    from spanline.exceptions import SpanlineWarning

    monkeypatch.setenv("SPANLINE_FLUSH_MS", f"password={SECRETS['stripe_live']}")
    with pytest.warns(SpanlineWarning) as caught:
        resolve_settings({})
    (warning,) = caught
    assert "SPANLINE_FLUSH_MS='password=[REDACTED]' is invalid" in str(warning.message)
