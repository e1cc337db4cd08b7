"""The encoder's orjson options, given by value so that importing the encoder loads no orjson."""

from __future__ import annotations

import orjson

from spanline._lines import _encode


def test_the_options_by_value_are_orjsons_own() -> None:
    assert _encode._OPTIONS == orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS


def test_a_line_encodes_with_a_newline_and_non_string_keys() -> None:
    assert _encode.encode({"a": {1: 2}}) == b'{"a":{"1":2}}\n'
