"""Value capture (spanline._capture._previews): previews, JSON-ready copies and capture modes."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import pathlib
import subprocess
import sys
import uuid
from collections import OrderedDict, deque, namedtuple
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pydantic
import pytest

from spanline._capture._previews import CaptureMode, capture_value, preview, to_jsonable
from spanline._capture._redact import REDACTED, reset_redaction
from tests.capture.test_redact import SECRET_CASES, SECRET_IDS, SECRETS, assert_no_leak


@pytest.fixture(autouse=True)
def _default_redaction() -> Iterator[None]:
    reset_redaction()
    yield
    reset_redaction()


@dataclasses.dataclass
class Credentials:
    user: str
    notes: list[Any]
    internal_note: str = dataclasses.field(default="hidden-field", repr=False)


class Profile(pydantic.BaseModel):
    name: str
    api_key: str
    tags: list[str] = []
    password: pydantic.SecretStr = pydantic.SecretStr("pydantic-secret")


class Color(enum.Enum):
    RED = "red"


class ExplodingRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


class NonStringRepr:
    def __repr__(self) -> Any:
        return 42


def self_referencing_dict() -> dict[str, Any]:
    value: dict[str, Any] = {"name": "loop"}
    value["self"] = value
    return value


def self_referencing_list() -> list[Any]:
    value: list[Any] = [1, 2]
    value.append(value)
    return value


def deeply_nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


# --- preview ---

# Factories, so the large values exist only while a test uses them.
AWKWARD_VALUES: dict[str, Callable[[], object]] = {
    "ten_mb_string": lambda: "x" * 10_000_000,
    "ten_mb_spaces": lambda: "word " * 2_000_000,
    "self_dict": self_referencing_dict,
    "self_list": self_referencing_list,
    "exploding_repr": ExplodingRepr,
    "non_string_repr": NonStringRepr,
    "dataclass": lambda: Credentials("ann", [1, 2]),
    "pydantic": lambda: Profile(name="bo", api_key="plain"),
    "bytes": lambda: b"\x00\xffabc" * 1000,
    "bytearray": lambda: bytearray(b"z" * 100_000),
    "memoryview": lambda: memoryview(b"abc"),
    "huge_list": lambda: list(range(1_000_000)),
    "huge_dict": lambda: {i: str(i) for i in range(200_000)},
    "huge_set": lambda: set(range(200_000)),
    "huge_int": lambda: 10**20_000,
    "deep": lambda: deeply_nested(10_000),
    "class": lambda: Profile,
    "generator": lambda: (i for i in range(10)),
    "enum": lambda: Color.RED,
}


@pytest.mark.parametrize("limit", [1, 2, 10, 200, 1000])
@pytest.mark.parametrize("make", list(AWKWARD_VALUES.values()), ids=list(AWKWARD_VALUES))
def test_preview_is_bounded_and_never_raises(make: Callable[[], object], limit: int) -> None:
    text = preview(make(), limit)
    assert isinstance(text, str)
    assert 0 < len(text) <= limit


def test_preview_of_a_long_string_is_cut_with_an_ellipsis() -> None:
    text = preview("x" * 10_000_000)
    assert text == "x" * 199 + "…"


def test_preview_shows_top_level_strings_as_is_and_nested_ones_quoted() -> None:
    assert preview("hello world") == "hello world"
    assert preview(["hello"]) == "['hello']"
    assert preview({"k": "v", 1: None}) == "{'k': 'v', 1: None}"


def test_preview_marks_cycles() -> None:
    assert preview(self_referencing_dict()) == "{'name': 'loop', 'self': <cycle>}"
    assert preview(self_referencing_list()) == "[1, 2, <cycle>]"


def test_preview_repeats_shared_but_acyclic_values() -> None:
    shared = [1]
    assert preview([shared, shared]) == "[[1], [1]]"


def test_preview_of_unrepresentable_objects() -> None:
    assert preview(ExplodingRepr()) == "<unrepresentable ExplodingRepr>"
    assert preview(NonStringRepr()) == "<unrepresentable NonStringRepr>"
    assert preview([1, ExplodingRepr()]) == "[1, <unrepresentable ExplodingRepr>]"


def test_preview_of_dataclass_hides_repr_false_fields() -> None:
    text = preview(Credentials("ann", [1, 2]))
    assert text == "Credentials(user='ann', notes=[1, 2])"


def test_preview_of_pydantic_model() -> None:
    text = preview(Profile(name="bo", api_key="plain", tags=["a"]))
    assert text.startswith("Profile(name='bo', api_key='[REDACTED]', tags=['a'], password=")
    assert "pydantic-secret" not in text


def test_preview_of_bytes_and_containers() -> None:
    assert preview(b"abc") == "b'abc'"
    assert preview(b"a" * 1000, 20) == "b'" + "a" * 17 + "…"
    assert preview((1,)) == "(1,)"
    assert preview({3, 1, 2}) == "{1, 2, 3}"
    assert preview(set()) == "set()"
    assert preview(frozenset({1})) == "frozenset({1})"
    assert preview(OrderedDict(a=1)) == "OrderedDict({'a': 1})"
    assert preview(deque([1, 2])) == "deque([1, 2])"
    Point = namedtuple("Point", "x y")
    assert preview(Point(1, 2)) == "Point(x=1, y=2)"
    assert preview(10**5000) == "<int with 16610 bits>"


def test_preview_of_a_huge_list_starts_at_the_beginning() -> None:
    text = preview(list(range(1_000_000)), 30)
    assert text == "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9…"


def test_preview_never_half_shows_a_secret_at_the_cut() -> None:
    key = SECRETS["anthropic"]
    for prefix_length in range(180, 200):
        text = preview("a" * prefix_length + " " + key + " tail", 200)
        assert len(text) <= 200
        assert "sk-ant" not in text
        assert_no_leak(text, key)


def test_preview_redacts_a_secret_inside_a_huge_string() -> None:
    key = SECRETS["github_classic"]
    assert_no_leak(preview("y" * 150 + key + "y" * 10_000_000), key)


@pytest.mark.parametrize(("kind", "secret"), SECRET_CASES, ids=SECRET_IDS)
def test_preview_and_to_jsonable_remove_each_format_when_nested(kind: str, secret: str) -> None:
    nested = {
        "level1": [{"level2": (Credentials("ann", [{"deep": f"value {secret} end"}]),)}],
        "model": Profile(name=secret, api_key="x", tags=[secret]),
        "set": {secret},
        "bytes": secret.encode(),
    }
    assert_no_leak(preview(nested, 10_000), secret)
    assert_no_leak(orjson.dumps(to_jsonable(nested)).decode(), secret)
    assert_no_leak(preview(secret), secret)
    assert to_jsonable(secret) == REDACTED


def test_secret_fields_of_dataclasses_and_models_are_removed() -> None:
    @dataclasses.dataclass
    class Settings:
        password: str
        host: str

    assert to_jsonable(Settings("hunter2", "db")) == {"password": REDACTED, "host": "db"}
    assert preview(Settings("hunter2", "db")) == "Settings(password='[REDACTED]', host='db')"
    model = Profile(name="n", api_key="plain-but-secret")
    assert to_jsonable(model)["api_key"] == REDACTED  # type: ignore[index]


def test_a_long_token_across_the_cut_is_not_half_shown() -> None:
    jwt = "eyJ" + "a1" * 2000 + "." + "b2" * 2000 + "." + "c3" * 50
    text = "x" * 150 + " " + jwt + " tail" * 1000
    for value in (text, [text], text.encode(), [text.encode()]):
        assert "eyJ" not in preview(value)
        assert "eyJ" not in str(to_jsonable(value, max_chars=300))


# --- to_jsonable ---


def test_to_jsonable_converts_common_types() -> None:
    Point = namedtuple("Point", "x y")
    value = {
        "dc": Credentials("ann", [1, (2, 3)]),
        "model": Profile(name="bo", api_key="k", tags=["t"]),
        "set": {3, 1, 2},
        "tuple": (1, "a"),
        "point": Point(1, 2),
        "bytes": "héllo".encode(),
        "binary": b"\xff\x00",
        "big": 2**80,
        "negative_big": -(2**80),
        "u64": 2**64 - 1,
        "nan": float("nan"),
        "inf": float("-inf"),
        "enum": Color.RED,
        "mode": CaptureMode.FULL,
        "when": datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.timezone.utc),
        "id": uuid.UUID(int=1),
        "dec": decimal.Decimal("1.10"),
        "path": pathlib.PurePosixPath("/tmp/x"),
        1: "int key",
        None: "none key",
        ("tuple", "key"): "tuple key",
    }
    result = to_jsonable(value)
    assert isinstance(result, dict)
    assert result["dc"] == {"user": "ann", "notes": [1, [2, 3]], "internal_note": "hidden-field"}
    assert result["model"]["api_key"] == REDACTED
    assert result["model"]["password"] == REDACTED
    assert result["set"] == [1, 2, 3]
    assert result["tuple"] == [1, "a"]
    assert result["point"] == {"x": 1, "y": 2}
    assert result["bytes"] == "héllo"
    assert result["binary"] == "<bytes len=2, not UTF-8>"
    assert result["big"] == str(2**80)
    assert result["negative_big"] == str(-(2**80))
    assert result["u64"] == 2**64 - 1
    assert (result["nan"], result["inf"]) == ("nan", "-inf")
    assert (result["enum"], result["mode"]) == ("red", "full")
    assert result["when"] == "2024-05-01T12:30:00+00:00"
    assert result["id"] == "00000000-0000-0000-0000-000000000001"
    assert (result["dec"], result["path"]) == ("1.10", "/tmp/x")
    assert (result["1"], result["null"], result["('tuple', 'key')"]) == (
        "int key",
        "none key",
        "tuple key",
    )
    assert orjson.loads(orjson.dumps(result)) == result


@pytest.mark.parametrize("make", list(AWKWARD_VALUES.values()), ids=list(AWKWARD_VALUES))
def test_to_jsonable_output_always_serialises(make: Callable[[], object]) -> None:
    result = to_jsonable(make(), max_chars=50_000, max_items=1_000)
    assert len(orjson.dumps(result)) < 200_000


def test_to_jsonable_marks_cycles_and_unrepresentable_objects() -> None:
    assert to_jsonable(self_referencing_dict()) == {"name": "loop", "self": "<cycle>"}
    assert to_jsonable([ExplodingRepr()]) == ["<unrepresentable ExplodingRepr>"]
    assert to_jsonable(object()).startswith("<object object at")  # type: ignore[union-attr]


def test_to_jsonable_limits_are_marked() -> None:
    assert to_jsonable(list(range(10)), max_items=3) == [0, 1, 2, "…[+7 items]"]
    assert to_jsonable({"a": 1, "b": 2, "c": 3}, max_items=1) == {"a": 1, "…": "…[+2 items]"}
    assert to_jsonable("abcdefghij", max_chars=4) == "abcd…[+6 chars]"
    assert to_jsonable(["abc", "def"], max_chars=4) == ["abc", "d…[+2 chars]"]
    assert to_jsonable([[[["x"]]]], max_depth=2) == [["<max depth: [['x']]>"]]


def test_to_jsonable_bounds_a_ten_megabyte_string() -> None:
    result = to_jsonable("x" * 10_000_000)
    assert isinstance(result, str)
    assert result == "x" * 1_000_000 + "…[+9000000 chars]"


def test_to_jsonable_never_half_shows_a_secret_at_the_cut() -> None:
    key = SECRETS["openai_project"]
    for cut in range(0, 40):
        result = to_jsonable("a" * cut + " " + key, max_chars=30)
        assert isinstance(result, str)
        assert_no_leak(result, key)
        assert "sk-proj" not in result


# --- capture_value ---


def test_capture_value_by_mode() -> None:
    value = {"q": "hi", "api_key": "k"}
    assert capture_value(value, CaptureMode.OFF) is None
    assert capture_value(value, CaptureMode.PREVIEW, 12) == "{'q': 'hi',…"
    assert capture_value(value, "full") == {"q": "hi", "api_key": REDACTED}
    assert str(CaptureMode.PREVIEW) == "preview"
    with pytest.raises(ValueError, match="everything"):
        capture_value(value, "everything")


def test_importing_the_module_does_not_import_pydantic() -> None:
    import spanline._capture._previews as capture

    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('probe', {capture.__file__!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "sys.modules['probe'] = module\n"
        "spec.loader.exec_module(module)\n"
        "module.preview({'a': 1})\n"
        "print('pydantic' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
