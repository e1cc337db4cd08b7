"""The display bounds: what the CLI and the dashboard draw is cut once, and only once."""

from __future__ import annotations

from spanline.folds.display import DISPLAY_CHARS, bounded, cut, longest_shown


def test_a_long_value_keeps_its_head_and_says_its_whole_length() -> None:
    text = "x" * 10_000
    shown = cut(text)
    assert shown == "x" * DISPLAY_CHARS + "… [10,000 characters]"
    assert len(shown) <= longest_shown()


def test_cutting_twice_changes_nothing() -> None:
    once = cut("y" * 52_428_800)
    assert cut(once) == once


def test_a_value_within_the_bound_is_the_same_object() -> None:
    short = "z" * (DISPLAY_CHARS + 10)
    assert cut(short) is short
    data = {"a": [1, "b", {"c": None}], "d": 2.5}
    assert bounded(data) is data


def test_bounded_cuts_every_string_in_plain_data_keys_included() -> None:
    huge = "h" * 100_000
    data = {"name": huge, huge: 1, "rows": [huge, (huge, 3)], "n": 4}
    out = bounded(data)
    assert out["name"] == cut(huge)
    assert out[cut(huge)] == 1
    assert out["rows"] == [cut(huge), (cut(huge), 3)]
    assert out["n"] == 4
    assert data["name"] is huge  # the input is left as it was


def test_one_line_escapes_what_is_not_printable() -> None:
    from spanline.folds.display import one_line

    assert one_line("plain é 'x'") == "plain é 'x'"
    assert one_line("a\nb\r\x1b[2J\udcff\u2028") == "a\\nb\\r\\x1b[2J\\udcff\\u2028"
    assert "\n" not in one_line("\n" * 3) and one_line("\n").encode("utf-8") == b"\\n"
