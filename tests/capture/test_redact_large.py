"""Very long text is redacted in pieces, and the pieces add up to redacting it whole.

The pieces are cut small here (``chunk``) so that, over every chunk length, a cut falls at
every line break of a text that holds each kind of secret, including the kinds whose
match may span lines (a private key block, a key and its value on two lines, a scheme and
its token on two lines).
"""

from __future__ import annotations

import functools

import pytest

from spanline._capture import _redact
from spanline._capture._redact import REDACTED, add_redaction_pattern, redact_text
from spanline._capture._redact_large import CHUNK, redact_in_pieces
from tests.capture.test_redact_corpus import BARE_AWS, CORPUS

#: Secrets a cut after a line break could split if cuts were made anywhere.
ACROSS_LINES = {
    "json_key_then_colon": ('{"password"\n: "Sp1Lt9Qa"}', "Sp1Lt9Qa"),
    "json_colon_then_value": ('{"password":\n"Sp2Lt8Qb"}', "Sp2Lt8Qb"),
    "env_key_then_equals": ("API_TOKEN\n=Sp3Lt7Qc", "Sp3Lt7Qc"),
    "env_equals_then_value": ("API_TOKEN=\n  Sp4Lt6Qd", "Sp4Lt6Qd"),
    "argv_repr_across": ("['--password',\n 'Sp5Lt5Qe']", "Sp5Lt5Qe"),
    "argv_repr_comma_next": ("['--password'\n, 'Sp6Lt4Qf']", "Sp6Lt4Qf"),
    "bearer_next_line": ("sent with Bearer\n\tSp7Lt3QgZk9Lm2Vb", "Sp7Lt3QgZk9Lm2Vb"),
    "basic_next_line": ("basic\r\nSp8Lt2QhWx4Rt6Yu", "Sp8Lt2QhWx4Rt6Yu"),
    "quoted_scheme_next_line": ('{"auth": "Token\nSp9Lt1Qi"}', "Sp9Lt1Qi"),
    "pem_many_lines": (
        "-----BEGIN PRIVATE KEY-----\n"
        + "\n".join(f"PemLine{n:04d}AbCdEfGh" for n in range(40))
        + "\n-----END PRIVATE KEY-----",
        "PemLine0031AbCdEfGh",
    ),
    "pem_cut_short": (
        "-----BEGIN EC PRIVATE KEY-----\n" + "\n".join(f"Cut{n:03d}Zz" for n in range(30)),
        "Cut029Zz",
    ),
}
SAMPLES = {**CORPUS, **ACROSS_LINES, BARE_AWS[0]: BARE_AWS[1]}


def _whole(text: str, *, entropy: bool = False) -> str:
    _redact._compile()
    return _redact._rules(text, entropy=entropy)


def _pieces(text: str, chunk: int, *, entropy: bool = False) -> str:
    rules = functools.partial(_redact._rules, entropy=entropy)
    return redact_in_pieces(text, rules, _redact._RULES[0], chunk=chunk)


def _document() -> str:
    lines = ["ordinary line of output"]
    for carrier, _ in SAMPLES.values():
        lines += ["before it", carrier, "after it"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("entropy", [False, True])
def test_pieces_cut_at_every_line_break_redact_as_the_whole_does(entropy: bool) -> None:
    text = _document()
    whole = _whole(text, entropy=entropy)
    cuts_seen: set[int] = set()
    for chunk in range(1, len(text) + 1):
        assert _pieces(text, chunk, entropy=entropy) == whole, chunk
        cuts_seen.add(chunk)
    for name, (_, needle) in SAMPLES.items():
        if name != BARE_AWS[0] or entropy:
            assert needle not in whole, name


def test_each_secret_that_spans_lines_survives_a_cut_before_each_of_its_lines() -> None:
    for name, (carrier, needle) in ACROSS_LINES.items():
        text = "x\n" + carrier + "\ny\n"
        for chunk in range(1, len(text)):
            out = _pieces(text, chunk)
            assert needle not in out, (name, chunk)
            assert out == _whole(text), (name, chunk)


def test_a_long_text_is_cut_into_pieces() -> None:
    calls: list[int] = []

    def counting(piece: str) -> str:
        calls.append(len(piece))
        return _redact._rules(piece, entropy=False)

    _redact._compile()
    text = "a line of tool output, nothing secret in it\n" * 1000
    assert redact_in_pieces(text, counting, _redact._RULES[0], chunk=4096) == text
    assert len(calls) >= len(text) // 4096
    assert max(calls) < 4096 + 64


def test_text_with_no_safe_cut_is_redacted_in_one_piece() -> None:
    calls: list[str] = []

    def counting(piece: str) -> str:
        calls.append(piece)
        return _redact._rules(piece, entropy=False)

    _redact._compile()
    text = "x\n" + "password=\n" * 9 + "Sp0Lt0Qz"  # every line break is between a key and its value
    out = redact_in_pieces(text, counting, _redact._RULES[0], chunk=4)
    assert calls == [text]
    assert out == _whole(text) and "Sp0Lt0Qz" not in out


def test_a_secret_in_a_text_over_the_piece_threshold_is_redacted(
    request: pytest.FixtureRequest,
) -> None:
    request.addfinalizer(_redact.reset_redaction)
    add_redaction_pattern(r"CROSS-\s*PIECE-\d+")  # a user's pattern may span any cut
    filler = "output line with nothing in it\n" * (_redact._LARGE // 30)
    carriers = "\n".join(carrier for carrier, _ in SAMPLES.values())
    text = filler + carriers + "\nCROSS-\n" + "PIECE-42\n" + filler
    out = redact_text(text)
    for name, (_, needle) in SAMPLES.items():
        if name != BARE_AWS[0]:
            assert needle not in out, name
    assert "PIECE-42" not in out and out.count(REDACTED) >= len(SAMPLES) - 1


def test_redact_text_hands_long_text_to_the_rules_a_piece_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No regex call of the built-in rules covers more than about one piece."""
    real = _redact._rules
    lengths: list[int] = []

    def spy(text: str, *, entropy: bool) -> str:
        lengths.append(len(text))
        return real(text, entropy=entropy)

    monkeypatch.setattr(_redact, "_rules", spy)
    line = "a line of tool output, nothing secret in it\n"
    text = line * (8 * 1024 * 1024 // len(line)) + "password=Sp1Ec3Qw\n"
    out = redact_text(text)
    assert out.endswith("password=[REDACTED]\n") and len(lengths) >= len(text) // CHUNK
    assert max(lengths) <= CHUNK + len(line)
    assert redact_text(line * 1000) == line * 1000


def test_a_long_text_capture_redacted_is_not_redacted_again_and_marks_are_bounded() -> None:
    """Capture marks the long texts it redacted so that the writer's pass skips them; a text
    it did not mark (one given as an attribute) is redacted by the writer's pass."""
    from spanline._capture._previews import to_jsonable
    from spanline._capture._scrub import redact

    line = "output line\n"
    texts = [line * (_redact._LARGE // len(line) + n) for n in range(1, 7)]
    captured = [to_jsonable(text, max_chars=1 << 40) for text in texts]
    assert all(c is t for c, t in zip(captured, texts, strict=True))  # nothing to redact
    assert not _redact.already_redacted(captured[0])  # pushed out by the newer ones
    assert _redact.already_redacted(captured[-1])
    assert not _redact.already_redacted(captured[-1])  # the mark is taken once
    given = line * (_redact._LARGE // len(line)) + "password=Sp2Ma9Rk\n"
    assert redact({"a": given})["a"].endswith("password=[REDACTED]\n")


def test_the_pieces_handed_on_as_they_are_done_make_up_the_result() -> None:
    """What the blob thread hashes while capture redacts is exactly the redacted text."""
    text = _document()
    for chunk in (1, 7, 64, len(text) // 3, len(text) + 1):
        done: list[str] = []
        rules = functools.partial(_redact._rules, entropy=False)
        out = redact_in_pieces(text, rules, _redact._RULES[0], chunk=chunk, on_piece=done.append)
        assert "".join(done) == out == _whole(text), chunk


@pytest.mark.parametrize("space", [" ", "\n"])
def test_a_flag_and_its_comma_far_apart_are_not_cut_between(space: str) -> None:
    """The quoted-flag rule allows any run of spaces between the flag and its comma: a
    run longer than a cut looks back must not let the value start a piece of its own."""
    text = (
        "INFO worker ready\n" * 200
        + "'--password'"
        + space * 5000
        + ",\n'Sp0FarAway9'\n"
        + "INFO worker ready\n" * 200
    )
    assert "Sp0FarAway9" not in _whole(text)
    assert _pieces(text, 512) == _whole(text)


class _CountingRule:
    """The private key rule, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def match(self, text: str, at: int) -> object:
        self.calls += 1
        return _redact._RULES[0].match(text, at)


def test_key_headers_cut_short_cost_one_rule_call_each_block() -> None:
    """Thousands of BEGIN lines with no END (a grep for key headers over a folder of test
    keys) are one block cut short, as the whole text's search sees them: the rule is tried
    once, not once a header (each try reads to the end: the square of the text)."""
    line = "tests/fixtures/keys/key_{:05d}.pem:1:-----BEGIN RSA PRIVATE KEY-----\n"
    text = "".join(line.format(n) for n in range(3000))
    _redact._compile()
    rule = _CountingRule()
    rules = functools.partial(_redact._rules, entropy=False)
    pieces = redact_in_pieces(text, rules, rule, chunk=4096)  # type: ignore[arg-type]
    assert rule.calls == 1
    assert pieces == _whole(text)
