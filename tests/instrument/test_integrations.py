"""The one verb for SDKs and frameworks: names, "all", the environment, versions, the run's
record of what was loaded. Run where no agent framework is installed."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

import spanline
from spanline import ConfigurationError, SpanlineWarning
from spanline._instrument import _versions, instrumented
from spanline.schema import INTEGRATION_NAMES
from tests._helpers import configure, finish

SDKS = ["anthropic", "google-genai", "openai"]


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    yield
    spanline.uninstrument("all")


def test_every_name_has_a_module_and_a_tested_range() -> None:
    from spanline._instrument import _LIBRARIES

    assert tuple(_LIBRARIES) == INTEGRATION_NAMES == tuple(_versions.PACKAGES)


@pytest.mark.parametrize(
    ("name", "package"),
    [("crewai", "crewai"), ("openai-agents", "openai-agents"), ("langchain", "langchain"),
     ("pydantic-ai", "pydantic-ai"), ("google-adk", "google-adk")],
)  # fmt: skip
def test_a_framework_not_installed_is_a_one_line_error_naming_the_package(
    name: str, package: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        spanline.instrument(name)
    message = str(caught.value)
    assert "\n" not in message
    assert message == f"cannot instrument {name!r}: it is not installed (pip install {package})"
    assert instrumented() == []


def test_all_takes_every_installed_integration_and_undoes_them() -> None:
    spanline.instrument("all")
    assert instrumented() == SDKS  # no framework is installed here
    spanline.uninstrument("all")
    assert instrumented() == []


def test_a_version_outside_the_tested_range_warns_and_instruments_all_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    package = _versions.PACKAGES["openai"]
    monkeypatch.setitem(
        _versions.PACKAGES, "openai", _versions.Package(package.module, ("openai",), "99", "100")
    )
    with pytest.warns(SpanlineWarning, match=r"openai \S+ is outside the tested range") as got:
        spanline.instrument("openai")
    assert len(got) == 1 and "\n" not in str(got[0].message)
    assert instrumented() == ["openai"]


def test_the_installed_versions_are_in_their_tested_ranges() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in SDKS:
            spanline.instrument(name)


@pytest.mark.parametrize(
    ("version", "inside"),
    [("0.25.0", True), ("0.25.9", True), ("0.26.0", False), ("0.24.3", False),
     ("0.25.0rc1", True), ("1.0", False)],
)  # fmt: skip
def test_the_range_compares_release_numbers(version: str, inside: bool) -> None:
    assert _versions.in_range(version, "0.25", "0.26") is inside


def test_from_the_environment_bad_names_warn_in_one_line_and_are_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPANLINE_INSTRUMENT", "openai, mistral")
    with pytest.warns(SpanlineWarning) as got:
        run = configure(tmp_path)
    messages = [str(w.message) for w in got]
    assert len(messages) == 1 and "\n" not in messages[0]
    assert "SPANLINE_INSTRUMENT" in messages[0] and "'mistral'" in messages[0]
    assert instrumented() == ["openai"]
    _, events = finish(run)
    assert events[0]["integrations"] == {"openai": metadata.version("openai")}


def test_from_the_environment_a_framework_not_installed_warns_and_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPANLINE_INSTRUMENT", "crewai,anthropic")
    with pytest.warns(SpanlineWarning, match=r"pip install crewai\); skipped") as got:
        run = configure(tmp_path)
    assert len(got) == 1
    assert instrumented() == ["anthropic"]
    finish(run)


def test_as_an_argument_a_bad_name_raises() -> None:
    with pytest.raises(ConfigurationError, match="'mistral'"):
        spanline.instrument("mistral")


def test_the_header_lists_what_was_loaded_before_and_later_calls_write_a_line(
    tmp_path: Path,
) -> None:
    spanline.instrument("openai")
    run = configure(tmp_path)
    spanline.instrument("anthropic")
    spanline.instrument("anthropic")  # loaded already: no second line
    spanline.uninstrument("anthropic")
    _, events = finish(run)
    assert events[0]["event"] == "run_start"
    assert events[0]["integrations"] == {"openai": metadata.version("openai")}
    later = [e for e in events if e["event"] == "integration"]
    version = metadata.version("anthropic")
    assert [(e["name"], e["version"], e["loaded"]) for e in later] == [
        ("anthropic", version, True),
        ("anthropic", version, False),
    ]


def test_a_run_without_integrations_has_no_such_field(tmp_path: Path) -> None:
    run = configure(tmp_path)
    _, events = finish(run)
    assert "integrations" not in events[0]
    assert not [e for e in events if e["event"] == "integration"]


def test_the_run_folds_with_an_integration_line(tmp_path: Path) -> None:
    """Readers ignore the new line: the summary is as without it."""
    run = configure(tmp_path)
    with spanline.span("work"):
        spanline.instrument("openai")
    summary, events = finish(run)
    assert [e["event"] for e in events].count("integration") == 1
    assert summary.skipped_line_count == 0
    assert summary.status == "ok" and summary.open_spans == 0
