"""Redaction that generalises: the kinds of secret no earlier rule knew, credential-shaped
values under credential-shaped names in every syntax, the high-entropy rule, the redaction
settings, and a secret split across two arguments of one call."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

import spanline
from spanline import traced_tool
from spanline._capture._redact import REDACTED, redact_text, reset_redaction
from spanline._capture._scrub import redact
from spanline._capture._split import hide_split_secrets
from spanline._capture._tokens import high_entropy
from spanline.exceptions import ConfigurationError, SpanlineWarning

AZURE_KEY = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6QUJD=="
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY9xAMPLEKEy"
#: kind: (the secret in the form it takes in the wild, the part that must never be written).
NEW_KINDS = {
    "azure_account_key": (
        f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={AZURE_KEY};"
        "EndpointSuffix=core.windows.net",
        AZURE_KEY.rstrip("="),
    ),
    "jwt_spaced_header": (
        "eyAiYWxnIjogIkhTMjU2IiwgInR5cCI6ICJKV1QiIH0.eyAic3ViIjogIjEyMzQ1Njc4OTAiIH0"
        ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    ),
    "aws_csv_row": (
        f"Access key ID,Secret access key\nAKIAIOSFODNN7QWERTYU,{AWS_SECRET}\n",
        AWS_SECRET,
    ),
    "huggingface": ("hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567",) * 2,
    "groq": ("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",) * 2,
    "gitlab": ("glpat-Ab1Cd2Ef3Gh4Ij5Kl6Mn",) * 2,
    "google_oauth": ("GOCSPX-Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9",) * 2,
    "apim_header": (
        "Ocp-Apim-Subscription-Key: 0123456789abcdef0123456789abcdef",
        "0123456789abcdef0123456789abcdef",
    ),
    "azure_sas": (
        "https://acct.blob.core.windows.net/c/b?sv=2021-06-08&sr=b&sp=r"
        "&sig=AbCd1234EfGh5678%2BIjKl%3D&se=2030-01-01",
        "AbCd1234EfGh5678%2BIjKl%3D",
    ),
    "db_pass": ("db_pass='Hn7qWz2'", "Hn7qWz2"),
}


@pytest.fixture(autouse=True)
def _default_redaction() -> Iterator[None]:
    reset_redaction()
    yield
    reset_redaction()


@pytest.mark.parametrize(("kind", "case"), NEW_KINDS.items(), ids=list(NEW_KINDS))
def test_each_new_kind_is_redacted_in_text_and_json(kind: str, case: tuple[str, str]) -> None:
    carrier, needle = case
    for template in ("{}", "see {} here", "({})"):
        assert needle not in redact_text(template.format(carrier)), template
    document = orjson.dumps({"note": carrier}).decode()
    redacted = redact_text(document)
    assert needle not in redacted
    assert orjson.loads(redacted)["note"].count(REDACTED) >= 1  # still valid JSON


# A credential-shaped value under each kind of credential-shaped name, in each syntax.
VALUE = "Zq81Lm29Xv0aPq4R"
NAMES = ["db_pass", "DB_PASS", "smtpPass", "account_key", "AccountKey", "storage-key",
         "subscription-key", "sig", "client_secret", "x_token", "api_key"]  # fmt: skip
SYNTAXES = {
    "key=value": "{name}={value}",
    "key: value": "{name}: {value}",
    "json": '{{"{name}": "{value}"}}',
    "yaml": "settings:\n  {name}: '{value}'\n",
    "header": "{name}: Bearer {value}",
    "flag": "tool --{name} {value} --verbose",
    "flag=": "tool --{name}={value}",
    "connection string": "Server=db;{name}={value};Timeout=30",
    "url": "https://host/path?a=1&{name}={value}&b=2",
    "python repr": "{{'{name}': '{value}'}}",
}


@pytest.mark.parametrize("syntax", SYNTAXES)
@pytest.mark.parametrize("name", NAMES)
def test_credential_values_under_credential_names_in_every_syntax(name: str, syntax: str) -> None:
    text = SYNTAXES[syntax].format(name=name, value=VALUE)
    redacted = redact_text(text)
    assert VALUE not in redacted and REDACTED in redacted, redacted
    assert name in redacted  # the name stays, only the value goes


KEPT = [
    "monkey=Zq81Lm29Xv0aPq4R",
    "keyboard: Zq81Lm29Xv0aPq4R",
    "primary_key=5",
    "primary_key: 12",
    "sort_key=name",
    "sort_key: created_at",
    "bypass=Zq81Lm29Xv0aPq4R",
    "compass: north",
    "the key: it is here",
    "they said the money was key",
    "eyeball_tracker.settings_module.attribute",
    '{"foreign_key": 42, "key": "user"}',
    "max_tokens=256",
    "eos_token: </s>",
]


@pytest.mark.parametrize("text", KEPT)
def test_ordinary_names_and_values_are_kept(text: str) -> None:
    assert redact_text(text) == text


def test_mapping_keys_hide_a_credential_shaped_value_under_a_key_name() -> None:
    data = {"account_key": VALUE, "primary_key": 5, "sort_key": "name", "db_pass": "x", "k": 1}
    assert redact(data) == {
        "account_key": REDACTED,
        "primary_key": 5,
        "sort_key": "name",
        "db_pass": REDACTED,
        "k": 1,
    }


def test_the_entropy_rule_is_off_by_default_and_catches_a_bare_aws_secret(tmp_path: Path) -> None:
    text = f"the secret is {AWS_SECRET} ok"
    assert AWS_SECRET in redact_text(text)
    spanline.configure_observability(enabled=False, redact_entropy=True)
    assert redact_text(text) == f"the secret is {REDACTED} ok"
    ordinary = (
        "id 550e8400-e29b-41d4-a716-446655440000 sha 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b "
        "src/spanline/_capture/_redact.py test_no_secret_of_any_type_reaches_any_file "
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk "
        "chatcmpl-9xYzAb3Cd4Ef5Gh6Ij7Kl8Mn0Pq call_Zq81Lm29Xv0aPq4RtY7uI3oP"
    )
    assert redact_text(ordinary) == ordinary


def test_high_entropy_needs_mixed_classes_and_randomness() -> None:
    assert high_entropy(AWS_SECRET)
    assert not high_entropy("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b")  # hex digest
    assert not high_entropy("ThisIsAnOrdinaryCamelCaseName")  # no digit
    assert not high_entropy("aaaaaaaaaaBBBBBBBBBB1111111111")  # not random


def test_user_patterns_and_exempt_keys_from_arguments() -> None:
    spanline.configure_observability(
        enabled=False, redact_patterns=[r"ACME-\d{6}"], redact_exempt_keys=["db_pass"]
    )
    assert redact_text("ticket ACME-123456 db_pass=Hn7qWz2") == f"ticket {REDACTED} db_pass=Hn7qWz2"
    assert redact({"db_pass": "Hn7qWz2"}) == {"db_pass": "Hn7qWz2"}
    # A new configuration replaces the settings' rules.
    spanline.configure_observability(enabled=False)
    assert redact_text("ACME-123456 db_pass=Hn7qWz2") == f"ACME-123456 db_pass={REDACTED}"


def test_a_bad_pattern_argument_raises() -> None:
    with pytest.raises(ConfigurationError, match="redact_patterns"):
        spanline.configure_observability(enabled=False, redact_patterns=["ok-\\d+", "("])
    with pytest.raises(ConfigurationError, match="empty string"):
        spanline.configure_observability(enabled=False, redact_patterns="x*")


def test_a_bad_pattern_variable_warns_once_and_is_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPANLINE_REDACT_PATTERNS", '["ACME-\\\\d{6}", "(", "tok_[a-z]{8}"]')
    monkeypatch.setenv("SPANLINE_REDACT_EXEMPT_KEYS", "db_pass, other")
    monkeypatch.setenv("SPANLINE_REDACT_ENTROPY", "yes")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spanline.configure_observability(enabled=False)
    messages = [str(w.message) for w in caught if issubclass(w.category, SpanlineWarning)]
    assert len(messages) == 1 and "SPANLINE_REDACT_PATTERNS" in messages[0], messages
    assert "using the valid patterns" in messages[0]
    text = f"ACME-123456 tok_abcdefgh db_pass=Hn7qWz2 {AWS_SECRET}"
    assert redact_text(text) == f"{REDACTED} {REDACTED} db_pass=Hn7qWz2 {REDACTED}"
    monkeypatch.setenv("SPANLINE_REDACT_PATTERNS", "single-[0-9]+")
    spanline.configure_observability(enabled=False)
    assert redact_text("single-42") == REDACTED


ANTHROPIC = "sk-ant-api03-A1b2C3d4E5f6G7h8A1b2C3d4E5f6G7h8"


@pytest.mark.parametrize("separator", ["", " "])
def test_a_secret_split_across_adjacent_arguments_is_caught(separator: str) -> None:
    cut = 18
    first, second = ANTHROPIC[:cut], ANTHROPIC[cut:]
    if separator:  # "Bearer" and its token as two words
        first, second = "Bearer", "Tk7Rq2Lm9Vb8Nc3Jk6Hd"
    args, kwargs = hide_split_secrets(("prefix", first, second), {"x": 1})
    assert args == ("prefix", REDACTED, REDACTED) and kwargs == {"x": 1}
    # Then keyword arguments in the order of the call, after the positional ones.
    args, kwargs = hide_split_secrets(("a", first), {"b": second, "c": "tail"})
    assert args == ("a", REDACTED) and kwargs == {"b": REDACTED, "c": "tail"}
    args, kwargs = hide_split_secrets((), {"later": second, "earlier": first})
    assert kwargs == {"later": second, "earlier": first}  # reversed: no secret


def test_arguments_that_are_not_split_secrets_are_the_same_objects() -> None:
    args, kwargs = ("a", "b", 3), {"c": "d"}
    assert hide_split_secrets(args, kwargs) == (args, kwargs)
    assert hide_split_secrets(args, kwargs)[0] is args


@pytest.mark.parametrize("capture", ["preview", "full"])
def test_a_split_secret_never_reaches_the_log(tmp_path: Path, capture: str) -> None:
    @traced_tool
    def send(host: str, head: str, tail: str, *, note: str = "") -> str:
        return "sent"

    run = spanline.configure_observability(enabled=True, run_dir=tmp_path, capture=capture)
    assert run is not None
    send("api.example.invalid", ANTHROPIC[:20], ANTHROPIC[20:], note="n")
    send("api.example.invalid", "x", ANTHROPIC[:25], note=ANTHROPIC[25:])
    spanline.shutdown()
    text = run.telemetry_path.read_text()
    assert ANTHROPIC[:20] not in text and ANTHROPIC[20:] not in text
    assert ANTHROPIC[:25] not in text and ANTHROPIC[25:] not in text
    assert "api.example.invalid" in text


def test_exporters_receive_the_events_the_log_gets(tmp_path: Path) -> None:
    """Live exporters are fed after the writer's one redaction pass, never before it."""
    from spanline.exporters.memory import InMemoryExporter

    exporter = InMemoryExporter()
    run = spanline.configure_observability(enabled=True, run_dir=tmp_path, exporters=[exporter])
    assert run is not None
    carriers = [carrier for carrier, _ in NEW_KINDS.values()]
    with spanline.span(f"step {carriers[1]}", notes=carriers, account_key=VALUE):
        pass
    spanline.shutdown()
    sent = orjson.dumps(exporter.events).decode()
    assert "[REDACTED]" in sent and VALUE not in sent
    leaks = [kind for kind, (_, needle) in NEW_KINDS.items() if needle in sent]
    assert leaks == []


CHILD = """
import subprocess, sys
import spanline

run = spanline.configure_observability(
    enabled=True, run_dir=sys.argv[1], redact_patterns=[r"ACME-\\d{6}"],
    redact_exempt_keys=["db_pass"], redact_entropy=True,
)
code = (
    "import spanline\\n"
    "with spanline.span('child ACME-123456', note='wJalrXUtnFEMI/K7MDENG/bPxRfiCY9xAMPLEKEy',"
    " db_pass='Hn7qWz2'):\\n    pass\\n"
    "spanline.shutdown()\\n"
)
subprocess.run([sys.executable, "-c", code], check=True)
spanline.shutdown()
print(run.telemetry_path)
"""


def test_a_child_process_redacts_as_its_parent_was_told(tmp_path: Path) -> None:
    from tests._helpers import run_interpreter

    program = tmp_path / "parent.py"
    program.write_text(CHILD)
    result = run_interpreter(str(program), str(tmp_path / "base"))
    assert result.returncode == 0, result.stderr
    text = Path(result.stdout.strip()).read_text()
    assert '"name":"child [REDACTED]"' in text  # the parent's pattern
    assert "wJalrXUtnFEMI" not in text  # the parent's high-entropy rule
    assert "Hn7qWz2" in text  # the parent's exemption
