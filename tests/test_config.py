"""Configuration: arguments, SPANLINE_* variables, disabled mode, bad values."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import spanline
from spanline._config import resolve_settings
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
    assert settings.flush_ms == 250
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
