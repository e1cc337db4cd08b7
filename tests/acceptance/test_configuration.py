"""Disabled by default, environment opt-in, directories, run ids, `latest`, re-configuration,
late configuration, shutdown and flush."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import pytest

import spanline
from tests._helpers import by_kind, configure, finish, read_lines, run_python, writer_threads

RUN_ID = re.compile(r"^(?P<service>.+)-(?P<stamp>\d{8}T\d{6})-(?P<hex>[0-9a-f]{6})$")


def _exercise_everything() -> None:
    """Every public entry point a program might call while tracing is off."""
    tracer = spanline.get_tracer()

    @spanline.traced_tool
    def tool(x: int) -> int:
        return x

    @spanline.traced_llm(provider="openai", model="gpt-4o")
    async def llm() -> dict:
        return {"usage": {"prompt_tokens": 1, "completion_tokens": 1}}

    @spanline.traced_agent
    def gen():
        yield 1
        yield 2

    @spanline.traced_agent
    async def agen():
        yield 1

    async def consume() -> None:
        await llm()
        assert [x async for x in agen()] == [1]

    with tracer.span("x", kind="agent") as span:
        span.add(tokens=1)
        span.set_attribute("k", "v")
        assert span is spanline.span("y")  # the shared no-op span
        assert span.span_id == "" and not span.is_recording
        assert tool(3) == 3
        assert list(gen()) == [1, 2]
        asyncio.run(consume())
        with spanline.context(a=1):
            spanline.event("e", a=1)
            spanline.phase("p", n=1)
    started = tracer.start_span("manual")
    started.end()
    started.end()  # no-op span: nothing to misuse
    assert spanline.flush() is False
    assert spanline.current_run() is None
    assert "TRACEPARENT" not in spanline.child_env({})


def test_disabled_by_default_writes_nothing_and_starts_no_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _exercise_everything()
    assert list(tmp_path.iterdir()) == []
    assert writer_threads() == []
    assert spanline.shutdown() is None


def test_explicitly_disabled_ignores_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPANLINE_ENABLED", "1")
    assert spanline.configure_observability(enabled=False) is None
    _exercise_everything()
    assert list(tmp_path.iterdir()) == [] and writer_threads() == []


def test_import_and_disabled_calls_stay_light() -> None:
    code = (
        "import sys, spanline\n"
        "@spanline.traced_tool\n"
        "def f():\n    return 1\n"
        "with spanline.span('x'):\n    f()\n"
        "heavy = [m for m in ('pydantic', 'loguru', 'opentelemetry') if m in sys.modules]\n"
        "import threading\n"
        "print(heavy, [t.name for t in threading.enumerate()])\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[] ['MainThread']"


def test_spanline_enabled_in_a_subprocess_turns_tracing_on(tmp_path: Path) -> None:
    code = (
        "import spanline\n"
        "@spanline.traced_tool\n"
        "def read(path):\n    return 'data'\n"
        "with spanline.span('work', kind='agent'):\n    read('f')\n"
        "print(spanline.current_run().run_id)\n"
    )
    result = run_python(
        code,
        env={
            "SPANLINE_ENABLED": "1",
            "SPANLINE_DIR": str(tmp_path / "b"),
            "SPANLINE_SERVICE_NAME": "envsvc",
        },
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    run_id = result.stdout.strip()
    assert RUN_ID.match(run_id) and run_id.startswith("envsvc-")
    run_dir = tmp_path / "b" / "runs" / run_id
    events = read_lines(run_dir / "telemetry.jsonl")
    assert [e["name"] for e in by_kind(events, "span_start")] == ["work", "tool.read"]
    assert events[-1]["event"] == "process_end"  # flushed at exit, no explicit shutdown
    assert (run_dir / "run_summary.json").is_file()
    assert not (tmp_path / ".spanline").exists()


@pytest.mark.parametrize("value", ["maybe", "2", "enabled"])
def test_invalid_spanline_enabled_warns_once_and_stays_off(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPANLINE_ENABLED", value)
    with pytest.warns(spanline.SpanlineWarning) as record:
        with spanline.span("first"):
            pass
        with spanline.span("second"):
            pass
    messages = [str(w.message) for w in record if issubclass(w.category, Warning)]
    assert len(messages) == 1 and "SPANLINE_ENABLED" in messages[0]
    assert value in messages[0]
    assert spanline.current_run() is None
    assert list(tmp_path.iterdir()) == [] and writer_threads() == []


def test_invalid_spanline_enabled_in_a_subprocess(tmp_path: Path) -> None:
    code = "import spanline\nwith spanline.span('x'):\n    print('still runs')\n"
    result = run_python(code, env={"SPANLINE_ENABLED": "perhaps"}, cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout == "still runs\n"
    assert "SPANLINE_ENABLED" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_run_id_format_and_latest(tmp_path: Path) -> None:
    """Run ids: <service>-<UTC YYYYMMDDTHHMMSS>-<6 hex>; latest = most recently created."""
    before = datetime.now(timezone.utc).replace(microsecond=0)
    first = configure(tmp_path, service_name="svc.a_b-1")
    second = spanline.configure_observability(
        enabled=True, run_dir=tmp_path, service_name="svc.a_b-1"
    )
    spanline.shutdown()
    after = datetime.now(timezone.utc)
    assert second is not None and first.run_id != second.run_id
    for run in (first, second):
        match = RUN_ID.match(run.run_id)
        assert match and match["service"] == "svc.a_b-1"
        stamp = datetime.strptime(match["stamp"], "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc)
        assert before <= stamp <= after
        assert run.directory == (tmp_path / "runs" / run.run_id).resolve()
        assert (run.directory / "run_summary.json").is_file()  # re-configure ends the run
    latest = tmp_path / "runs" / "latest"
    assert latest.resolve() == second.directory
    # Joining the first run from another process does not move `latest`.
    code = "import spanline\nwith spanline.span('joined'):\n    pass\n"
    result = run_python(
        code,
        env={
            "SPANLINE_ENABLED": "1",
            "SPANLINE_DIR": str(tmp_path),
            "SPANLINE_RUN_ID": first.run_id,
        },
    )
    assert result.returncode == 0, result.stderr
    assert latest.resolve() == second.directory
    assert "joined" in [e.get("name") for e in read_lines(first.telemetry_path)]


@pytest.mark.parametrize("bad", ["", "   ", 42])
def test_empty_or_non_string_service_name_argument_is_a_configuration_error(
    bad: object, tmp_path: Path
) -> None:
    with pytest.raises(spanline.ConfigurationError, match="service_name"):
        spanline.configure_observability(enabled=True, run_dir=tmp_path, service_name=bad)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("name", "prefix"),
    [("has space", "has-space"), ("x" * 65, "x" * 64), ("-lead", "lead"), ("a/b", "a-b")],
)
def test_any_service_name_is_accepted_and_the_run_id_uses_a_safe_copy(
    name: str, prefix: str, tmp_path: Path
) -> None:
    """Any non-empty text names the service; the run id replaces unsafe characters."""
    run = configure(tmp_path, service_name=name)
    _, events = finish(run)
    match = RUN_ID.match(run.run_id)
    assert match and match["service"] == prefix
    assert run.directory == (tmp_path / "runs" / run.run_id).resolve()
    assert by_kind(events, "run_start")[0]["service_name"] == name


def test_run_dir_and_spanline_dir_name_the_same_base(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run_dir and SPANLINE_DIR both name the base; the argument wins; default .spanline here."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPANLINE_DIR", "from-env")
    by_env = spanline.configure_observability(enabled=True)
    spanline.shutdown()
    by_arg = spanline.configure_observability(enabled=True, run_dir="from-arg")
    spanline.shutdown()
    monkeypatch.delenv("SPANLINE_DIR")
    default = spanline.configure_observability(enabled=True)
    spanline.shutdown()
    assert by_env is not None and by_arg is not None and default is not None
    assert by_env.directory == tmp_path / "from-env" / "runs" / by_env.run_id
    assert by_arg.directory == tmp_path / "from-arg" / "runs" / by_arg.run_id
    assert default.directory == tmp_path / ".spanline" / "runs" / default.run_id
    assert not (tmp_path / "from-arg" / "runs" / by_env.run_id).exists()
    assert os.environ.get("SPANLINE_RUN_ID") is None  # handover variables restored


def test_reconfigure_without_run_dir_uses_the_default_base(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    configure(tmp_path / "first")
    second = spanline.configure_observability(enabled=True)
    spanline.shutdown()
    assert second is not None
    assert second.directory.parent == tmp_path / ".spanline" / "runs"


def test_reconfigure_without_enabled_falls_back_to_the_default_off(tmp_path: Path) -> None:
    configure(tmp_path)
    assert spanline.configure_observability(service_name="again") is None


def test_late_configuration_and_shutdown_resolve_at_call_time(tmp_path: Path) -> None:
    """Decorated/taken before configure -> traced after; off again after shutdown."""
    tracer = spanline.get_tracer()

    @spanline.traced_tool
    def tool() -> str:
        with tracer.span("inner"):
            return "ok"

    assert tool() == "ok"
    run = configure(tmp_path)
    assert tool() == "ok"
    summary, events = finish(run)
    assert [s["name"] for s in by_kind(events, "span_start")] == ["tool.tool", "inner"]
    assert tool() == "ok" and tracer.span("after") is spanline.span("after")
    assert summary.span_count == 2
    assert spanline.shutdown() is None  # idempotent
    assert spanline.shutdown() is None
    assert len(by_kind(read_lines(run.telemetry_path), "process_end")) == 1


def test_flush_makes_everything_so_far_visible(tmp_path: Path) -> None:
    seen: list[dict] = []

    class Recorder:
        def export(self, batch):
            seen.extend(batch)

        def flush(self):
            pass

        def shutdown(self):
            pass

    run = configure(tmp_path, flush_ms=60_000, exporters=[Recorder()])
    tracer = spanline.get_tracer()
    for index in range(1_000):
        with tracer.span("s", index=index):
            pass
    spanline.event("mark")
    assert spanline.flush(timeout=30) is True
    lines = read_lines(run.telemetry_path)  # readable without shutdown
    assert len(by_kind(lines, "span_start")) == len(by_kind(lines, "span_end")) == 1_000
    assert len(by_kind(lines, "event")) == 1
    assert len([e for e in seen if e["event"] == "span_end"]) == 1_000
    assert not by_kind(lines, "process_end")
    finish(run)


def test_writer_flushes_by_itself(tmp_path: Path) -> None:
    run = configure(tmp_path, flush_ms=20)
    with spanline.span("tick"):
        pass
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if b'"span_end"' in run.telemetry_path.read_bytes():
            break
        time.sleep(0.02)
    else:
        pytest.fail("span_end never reached telemetry.jsonl without flush()")
    finish(run)


def test_an_open_span_at_shutdown_is_ended_abandoned_and_ending_it_later_is_harmless(
    tmp_path: Path,
) -> None:
    run = configure(tmp_path)
    dangling = spanline.get_tracer().start_span("dangling")
    summary = spanline.shutdown()
    dangling.end()  # must not raise, must not write into the closed run
    assert summary.open_spans == 0  # every span ends
    events = read_lines(run.telemetry_path)
    assert events[-1]["event"] == "process_end"
    (end,) = by_kind(events, "span_end")
    assert end["status"] == "error"
    assert end["error"] == {"type": "abandoned", "message": "process exit"}


def test_bad_environment_values_warn_and_use_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPANLINE_FLUSH_MS", "soon")
    monkeypatch.setenv("SPANLINE_CAPTURE", "everything")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        run = configure(tmp_path)
    spanline.shutdown()
    text = " ".join(str(w.message) for w in record)
    assert "SPANLINE_FLUSH_MS" in text and "SPANLINE_CAPTURE" in text
    assert all(issubclass(w.category, spanline.SpanlineWarning) for w in record)
    assert run.telemetry_path.is_file()


@pytest.mark.parametrize(
    "options",
    [{"flush_ms": 0}, {"max_queue": 0}, {"capture": "all"}, {"exporters": ["nonesuch"]}],
)
def test_bad_arguments_raise_configuration_error(options: dict, tmp_path: Path) -> None:
    with pytest.raises(spanline.ConfigurationError):
        spanline.configure_observability(enabled=True, run_dir=tmp_path, **options)
    assert isinstance(spanline.ConfigurationError("x"), ValueError)
    assert spanline.current_run() is None


def test_an_unknown_spanline_run_id_starts_a_new_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPANLINE_RUN_ID", "nope-20200101T000000-abcdef")
    run = configure(tmp_path)
    assert run.run_id != "nope-20200101T000000-abcdef"
    with spanline.span("s"):
        pass
    _, events = finish(run)
    assert events[0]["event"] == "run_start"
    assert (tmp_path / "runs" / "latest").resolve() == run.directory


def test_execution_metadata_is_written_at_start(tmp_path: Path) -> None:
    yaml = pytest.importorskip("yaml")
    run = configure(
        tmp_path,
        query="what changed?",
        config={"agents": [{"id": "agent1", "model": "gemini-2.5-flash"}], "on": True},
        config_path="/etc/app.yaml",
    )
    assert spanline.flush(timeout=30)
    # Written on a thread of its own, beside the writer's: wait for the file, not a time.
    deadline = time.monotonic() + 60
    while not run.metadata_path.is_file() and time.monotonic() < deadline:
        time.sleep(0.01)
    meta = yaml.safe_load(run.metadata_path.read_text())  # before shutdown
    assert meta["query"] == "what changed?"
    assert meta["config"] == {"agents": [{"id": "agent1", "model": "gemini-2.5-flash"}],
                              "on": True}  # fmt: skip
    assert meta["config_path"] == "/etc/app.yaml"
    assert meta["cli_args"] == sys.argv
    assert meta["working_directory"] == os.getcwd()
    assert meta["spanline_version"] == spanline.__version__
    assert meta["run_id"] == run.run_id and meta["service_name"] == "acc"
    assert datetime.fromisoformat(meta["timestamp"]).tzinfo is not None
    assert set(meta["git"]) >= {"commit", "branch"}
    finish(run)
