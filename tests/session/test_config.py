"""Configuration: arguments, SPANLINE_* variables, disabled mode, bad values."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import spanline
from spanline._session._parse import parse_resource_attributes, parse_run_id, parse_traceparent
from spanline._session._parts import handover_variables
from spanline._session._settings import (
    Settings,
    read_environment,
    resolve_settings,
    run_id_prefix,
    script_name,
)
from tests._helpers import read_lines, run_python, writer_threads


def test_disabled_by_default_creates_no_file_and_no_thread(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    result = spanline.configure_observability(run_dir=tmp_path)
    tracer = spanline.get_tracer()
    with tracer.span("nothing") as span:
        span.add(tokens=3)
        span.set_attribute("x", 1)
    tracer.event("e")
    tracer.phase("p")
    assert result is None
    assert span.is_recording is False
    assert list(tmp_path.iterdir()) == []
    assert set(threading.enumerate()) == before
    assert writer_threads() == []
    assert spanline.flush() is False


def test_unconfigured_process_without_env_stays_off(tmp_path: Path) -> None:
    code = (
        "import threading, spanline\n"
        "with spanline.span('x') as s: pass\n"
        "print(s.is_recording, [t.name for t in threading.enumerate()])\n"
    )
    result = run_python(code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False ['MainThread']"
    assert list(tmp_path.iterdir()) == []


def test_env_enabled_turns_tracing_on_for_an_unmodified_program(tmp_path: Path) -> None:
    code = "import spanline\nwith spanline.get_tracer().span('from-env', kind='agent'):\n    pass\n"
    result = run_python(
        code,
        env={
            "SPANLINE_ENABLED": "1",
            "SPANLINE_DIR": str(tmp_path),
            "SPANLINE_SERVICE_NAME": "envapp",
        },
    )
    assert result.returncode == 0, result.stderr
    (run_dir,) = [p for p in (tmp_path / "runs").iterdir() if p.name != "latest"]
    assert run_dir.name.startswith("envapp-")
    lines = read_lines(run_dir / "telemetry.jsonl")
    assert [e["name"] for e in lines if e["event"] == "span_start"] == ["from-env"]
    assert (run_dir / "run_summary.json").is_file()  # written by the atexit shutdown


@pytest.mark.parametrize("value", ["maybe", "2", "enabled"])
def test_invalid_enabled_value_warns_once_and_stays_off(tmp_path: Path, value: str) -> None:
    code = "import spanline\nfor _ in range(3):\n    spanline.span('x').__enter__()\n"
    result = run_python(code, env={"SPANLINE_ENABLED": value, "SPANLINE_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("SPANLINE_ENABLED") == 1
    assert f"SPANLINE_ENABLED={value!r} is invalid" in result.stderr
    assert "accepted values: 1, true, yes, on, 0, false, no, off" in result.stderr
    assert not tmp_path.joinpath("runs").exists()


def test_bad_numeric_env_value_warns_and_uses_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPANLINE_FLUSH_MS", "soon")
    monkeypatch.setenv("SPANLINE_MAX_QUEUE", "-5")
    with pytest.warns(spanline.SpanlineWarning) as caught:
        settings = resolve_settings({})
    messages = [str(w.message) for w in caught]
    assert any("SPANLINE_FLUSH_MS='soon' is invalid" in m for m in messages)
    assert any("SPANLINE_MAX_QUEUE='-5' is invalid" in m for m in messages)
    assert settings.flush_ms == 100
    assert settings.max_queue == 2_000_000


def test_unknown_env_exporter_warns_and_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPANLINE_EXPORTERS", "jsonl,console,bogus")
    with pytest.warns(spanline.SpanlineWarning, match="unknown exporter 'bogus'"):
        run = spanline.configure_observability(enabled=True, run_dir=tmp_path)
    assert run is not None


def test_arguments_win_over_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPANLINE_SERVICE_NAME", "from-env")
    monkeypatch.setenv("SPANLINE_DIR", str(tmp_path / "env-dir"))
    monkeypatch.setenv("SPANLINE_FLUSH_MS", "40")
    settings = resolve_settings({"service_name": "from-arg"})
    assert settings.service_name == "from-arg"
    assert settings.base_dir == tmp_path / "env-dir"
    assert settings.flush_ms == 40
    run = spanline.configure_observability(
        enabled=True, run_dir=tmp_path / "arg-dir", service_name="from-arg"
    )
    assert run is not None
    assert run.directory.parent == (tmp_path / "arg-dir" / "runs").resolve()
    assert run.run_id.startswith("from-arg-")


def test_configure_hands_the_run_to_child_processes_and_restores_env(tmp_path: Path) -> None:
    import os

    run = spanline.configure_observability(enabled=True, run_dir=tmp_path)
    assert run is not None
    assert os.environ["SPANLINE_RUN_ID"] == run.run_id
    assert os.environ["SPANLINE_ENABLED"] == "1"
    spanline.shutdown()
    assert "SPANLINE_RUN_ID" not in os.environ
    assert "SPANLINE_ENABLED" not in os.environ


def test_shutdown_is_idempotent_and_tracing_stays_off(traced: spanline.Run) -> None:
    with spanline.span("one"):
        pass
    first = spanline.shutdown()
    assert first is not None and first.span_count == 1
    assert spanline.shutdown() is None
    assert spanline.span("after") is spanline.span("after-too")
    assert writer_threads() == [] or all(not t.is_alive() for t in writer_threads())


def test_writer_thread_is_named_and_a_daemon(traced: spanline.Run) -> None:
    (writer,) = [t for t in writer_threads() if t.name == "spanline-writer"]
    assert writer.daemon


def test_capture_mode_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    @spanline.traced_tool
    def tool(x: str) -> str:
        return x

    monkeypatch.setenv("SPANLINE_CAPTURE", "full")
    monkeypatch.setenv("SPANLINE_PREVIEW_CHARS", "10")
    run = spanline.configure_observability(enabled=True, run_dir=tmp_path)
    tool("abc")
    spanline.shutdown()
    start = next(e for e in read_lines(run.telemetry_path) if e["event"] == "span_start")
    assert start["attributes"]["input.value"] == {"x": "abc"}
    monkeypatch.setenv("SPANLINE_CAPTURE", "everything")
    with pytest.warns(spanline.SpanlineWarning, match="SPANLINE_CAPTURE='everything'.*off, prev"):
        assert resolve_settings({}).capture == "preview"


# -- the resolution rules, pinned on resolve_settings with an explicit environment -----------
def resolve(arguments: dict[str, Any] | None = None, **environ: str) -> Settings:
    return resolve_settings(arguments or {}, environ)


def warned(arguments: dict[str, Any] | None = None, **environ: str) -> tuple[Settings, str]:
    """Resolve, expecting exactly one SpanlineWarning; return it as text."""
    with pytest.warns(spanline.SpanlineWarning) as caught:
        settings = resolve(arguments, **environ)
    assert len(caught) == 1, [str(w.message) for w in caught]
    message = str(caught[0].message)
    assert "\n" not in message
    return settings, message


OTEL = {
    "OTEL_SERVICE_NAME": "otel-name",
    "OTEL_RESOURCE_ATTRIBUTES": "service.name=resource-name",
}


def test_service_name_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["/opt/tools/crawl.py", "--fast"])
    full = {"SPANLINE_SERVICE_NAME": "spanline-name", **OTEL}
    assert resolve({"service_name": "arg-name"}, **full).service_name == "arg-name"
    assert resolve(**full).service_name == "spanline-name"
    assert resolve(**OTEL).service_name == "otel-name"
    assert resolve(OTEL_RESOURCE_ATTRIBUTES=OTEL["OTEL_RESOURCE_ATTRIBUTES"]).service_name == (
        "resource-name"
    )
    assert resolve().service_name == "crawl"
    # Blank values count as unset, as in OpenTelemetry.
    assert resolve(SPANLINE_SERVICE_NAME=" ", OTEL_SERVICE_NAME="").service_name == "crawl"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/srv/app/worker.py"], "worker"),
        (["/srv/pkg/crawler/__main__.py"], "crawler"),  # python -m crawler
        (["-c"], "spanline"),
        ([""], "spanline"),  # interactive
        ([], "spanline"),
    ],
)
def test_script_name_is_the_last_fallback(argv: list[str], expected: str) -> None:
    assert script_name(argv) == expected


def test_other_settings_follow_argument_then_variable_then_default() -> None:
    env = {"SPANLINE_FLUSH_MS": "40", "SPANLINE_CAPTURE": "full", "SPANLINE_ENABLED": "yes"}
    assert resolve({"flush_ms": 10, "capture": "off", "enabled": False}, **env).flush_ms == 10
    settings = resolve(**env)
    assert (settings.flush_ms, settings.capture, settings.enabled) == (40, "full", True)
    assert resolve().flush_ms == 100
    assert resolve({"run_dir": "a"}, SPANLINE_DIR="b").base_dir == Path("a")
    assert resolve({"base_dir": "a"}, SPANLINE_DIR="b").base_dir == Path("a")  # attribute name
    assert resolve(SPANLINE_DIR="b").base_dir == Path("b")
    assert resolve({"handle_signals": False}, SPANLINE_HANDLE_SIGNALS="1").handle_signals is False
    assert resolve(SPANLINE_HANDLE_SIGNALS="off").handle_signals is False
    assert resolve(SPANLINE_SUMMARY_INTERVAL_MS="0").summary_interval_ms == 0
    assert resolve().stall_s == 60.0
    assert resolve(SPANLINE_STALL_S="0.5").stall_s == 0.5
    assert resolve({"stall_s": 2}, SPANLINE_STALL_S="0.5").stall_s == 2.0
    assert resolve(SPANLINE_EXPORTERS=" console , ,memory").exporters == ("console", "memory")


def test_argument_only_settings() -> None:
    def ids() -> int:
        return 1

    def clock() -> float:
        return 0.0

    settings = resolve({"id_generator": ids, "clock": clock, "synchronous": True})
    assert (settings.id_generator, settings.clock, settings.synchronous) == (ids, clock, True)
    assert resolve({"agent_kinds": frozenset({"x"})}).agent_kinds == frozenset({"x"})
    bad_arguments = ({"id_generator": 3}, {"clock": "now"}, {"agent_kinds": "agent"},
                     {"agent_kinds": [["unhashable"]]})  # fmt: skip
    for bad in bad_arguments:
        with pytest.raises(spanline.ConfigurationError, match=next(iter(bad))):
            resolve(bad)
    with pytest.raises(spanline.ConfigurationError, match=r"unknown .* 'nonesuch'"):
        resolve({"nonesuch": 1})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("service.name=app,team=core", {"service.name": "app", "team": "core"}),
        (" k1 = v1 , k2=v2 ", {"k1": "v1", "k2": "v2"}),
        ("name=my%20app%2Cv2,emoji=%E2%9C%93", {"name": "my app,v2", "emoji": "\u2713"}),
        ("plus=a+b,eq=a=b,empty=", {"plus": "a+b", "eq": "a=b", "empty": ""}),
        ("bad=%ZZ,broken=%E2", {"bad": "%ZZ", "broken": "\ufffd"}),
        ("", {}),
    ],
)
def test_resource_attributes_parsing(raw: str, expected: dict[str, str]) -> None:
    assert parse_resource_attributes(raw) == expected


def test_resource_attributes_junk_pairs_are_skipped_with_one_warning() -> None:
    settings, message = warned(OTEL_RESOURCE_ATTRIBUTES="team=core,junk,=nokey,service.name=x")
    assert settings.resource_attributes == {"team": "core", "service.name": "x"}
    assert settings.service_name == "x"
    assert message.startswith("OTEL_RESOURCE_ATTRIBUTES='team=core,junk,=nokey,service.name=x'")
    assert "junk, =nokey" in message and "valid pairs" in message


TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


@pytest.mark.parametrize(
    "raw",
    [f"00-{TRACE}-{SPAN}-01", f"00-{TRACE}-{SPAN}-00", f" 00-{TRACE.upper()}-{SPAN}-01\n"],
)
def test_traceparent_parsing(raw: str) -> None:
    assert parse_traceparent(raw) == (TRACE, int(SPAN, 16))
    assert resolve(TRACEPARENT=raw).traceparent == (TRACE, int(SPAN, 16))


@pytest.mark.parametrize(
    "raw",
    [
        f"00-{'0' * 32}-{SPAN}-01",  # all-zero trace id
        f"00-{TRACE}-{'0' * 16}-01",  # all-zero parent id
        f"ff-{TRACE}-{SPAN}-01",  # unknown version
        f"00-{TRACE[:-1]}-{SPAN}-01",
        f"00-{TRACE}-{SPAN}",
        f"00-{TRACE}-{SPAN}-01-extra",
        f"00-{TRACE[:-1]}g-{SPAN}-01",
        "garbage",
    ],
)
def test_invalid_traceparent_warns_and_is_ignored(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_traceparent(raw)
    settings, message = warned(TRACEPARENT=raw)
    assert settings.traceparent is None
    assert message.startswith(f"TRACEPARENT={raw!r} is invalid (expected 00-<32 hex")
    assert message.endswith("using the default: a new trace")


VALID_RUN_IDS = [
    "svc-20240101T000000-abcdef",  # as spanline creates them
    f"{'s' * 64}-20991231T235959-0a1b2c",  # the longest created id
    "my.app_2-20991231T235959-0a1b2c",
    "snapshot-run",  # chosen ids, e.g. deterministic tests
    "a",
    "A" * 128,
    "run.1_x-y",
]
INVALID_RUN_IDS = [
    "",
    "a/b",
    "/abs",
    "a\\b",
    "..",
    "a..b",
    "a..b-20240101T000000-abcdef",
    "../x",
    ".hidden",
    "-lead",
    "A" * 129,
    "has space",
    "ünï",
    "C:run",
]


@pytest.mark.parametrize("run_id", VALID_RUN_IDS)
def test_valid_run_ids(run_id: str) -> None:
    assert parse_run_id(run_id) == run_id
    assert resolve({"run_id": run_id}).run_id == run_id
    assert resolve(SPANLINE_RUN_ID=run_id).run_id == run_id


@pytest.mark.parametrize("run_id", INVALID_RUN_IDS)
def test_invalid_run_ids(run_id: str) -> None:
    with pytest.raises(spanline.ConfigurationError, match="argument run_id="):
        resolve({"run_id": run_id})
    if run_id.strip():  # a blank variable counts as unset
        settings, message = warned(SPANLINE_RUN_ID=run_id)
        assert settings.run_id is None
        assert message.startswith(f"SPANLINE_RUN_ID={run_id!r} is invalid")
        assert "no '..'" in message and message.endswith("using the default: a new run")


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        ("svc.a_b-1", "svc.a_b-1"),
        ("a/b", "a-b"),
        ("my app/v2", "my-app-v2"),
        ("-lead", "lead"),
        ("..", "spanline"),
        ("ünï", "n-"),
        ("x" * 65, "x" * 64),
        ("日本", "spanline"),
    ],
)
def test_run_id_prefix_sanitises_and_the_attribute_keeps_the_original(
    name: str, prefix: str
) -> None:
    from spanline._runs._store import RUN_ID_PATTERN

    assert run_id_prefix(name) == prefix
    assert RUN_ID_PATTERN.match(f"{run_id_prefix(name)}-20240101T000000-abcdef")
    assert resolve({"service_name": name}).service_name == name
    assert resolve(SPANLINE_SERVICE_NAME=name).service_name == name


@pytest.mark.parametrize("bad", ["", "   ", 3, b"svc"])
def test_empty_or_non_string_service_name_argument_is_an_error(bad: object) -> None:
    with pytest.raises(spanline.ConfigurationError, match="argument service_name="):
        resolve({"service_name": bad})


@pytest.mark.parametrize(
    ("variable", "raw", "accepted", "default"),
    [
        (
            "SPANLINE_ENABLED",
            "maybe",
            "accepted values: 1, true, yes, on, 0, false, no, off",
            "off",
        ),
        ("SPANLINE_FLUSH_MS", "0", "expected a whole number from 1 to 60000", "100"),
        ("SPANLINE_MAX_QUEUE", "many", "expected a whole number from 1 up", "2000000"),
        ("SPANLINE_CAPTURE", "all", "accepted values: off, preview, full", "preview"),
        ("SPANLINE_PREVIEW_CHARS", "1.5", "from 1 to 1000000", "200"),
        ("SPANLINE_SUMMARY_INTERVAL_MS", "-1", "from 0 to 86400000", "5000"),
        ("SPANLINE_HANDLE_SIGNALS", "sometimes", "accepted values: 1, true", "on"),
        ("SPANLINE_STALL_S", "soon", "expected a number of seconds greater than 0", "60"),
    ],
)
def test_invalid_variable_warning_names_variable_accepted_values_and_default(
    variable: str, raw: str, accepted: str, default: str
) -> None:
    _, message = warned(**{variable: raw})
    assert message.startswith(f"{variable}={raw!r} is invalid (")
    assert accepted in message
    assert message.endswith(f"using the default: {default}")


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"flush_ms": 0}, "flush_ms=0"),
        ({"flush_ms": True}, "flush_ms=True"),
        ({"max_queue": "lots"}, "max_queue='lots'"),
        ({"capture": "all"}, "capture='all'"),
        ({"enabled": "maybe"}, "enabled='maybe'"),
        ({"run_dir": ""}, "run_dir=''"),
        ({"exporters": object}, "exporters="),
        ({"prices": 3}, "prices=3"),
        ({"summary_interval_ms": -1}, "summary_interval_ms=-1"),
        ({"stall_s": 0}, "stall_s=0"),
        ({"stall_s": float("nan")}, "stall_s=nan"),
        ({"stall_s": True}, "stall_s=True"),
        ({"synchronous": "sometimes"}, "synchronous="),
    ],
)
def test_invalid_argument_is_a_configuration_error_naming_it(
    arguments: dict[str, Any], named: str
) -> None:
    with pytest.raises(spanline.ConfigurationError) as caught:
        resolve(arguments, SPANLINE_FLUSH_MS="40")
    assert f"invalid configure_observability() argument {named}" in str(caught.value)


def test_handover_variables_round_trip(tmp_path: Path) -> None:
    settings = resolve({"enabled": True, "run_id": "snapshot-run"})
    variables = handover_variables(settings, tmp_path, "snapshot-run")
    assert variables == {
        "SPANLINE_ENABLED": "1",
        "SPANLINE_DIR": str(tmp_path),
        "SPANLINE_RUN_ID": "snapshot-run",
    }
    child = resolve_settings({}, variables)
    assert (child.enabled, child.base_dir, child.run_id) == (True, tmp_path, "snapshot-run")


def test_handover_variables_carry_the_redaction_settings(tmp_path: Path) -> None:
    arguments = {"enabled": True, "redact_patterns": [r"a,b\d+", "x"]}
    arguments |= {"redact_exempt_keys": ["db_pass", "other"], "redact_entropy": True}
    settings = resolve(arguments)
    variables = handover_variables(settings, tmp_path, "run")
    child = resolve_settings({}, variables)
    assert [p.pattern for p in child.redact_patterns] == [r"a,b\d+", "x"]
    assert child.redact_exempt_keys == {"db_pass", "other"}
    assert child.redact_entropy is True


def test_read_environment_keeps_only_the_tables_variables_that_are_set() -> None:
    environ = {"SPANLINE_DIR": "d", "SPANLINE_FLUSH_MS": " ", "HOME": "/root", "TRACEPARENT": "x"}
    assert read_environment(environ) == {"SPANLINE_DIR": "d", "TRACEPARENT": "x"}
