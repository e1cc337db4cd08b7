"""The Logfire exporter on the wire, captured by a real OTLP/HTTP receiver in this process
at the overridden base URL (every request parsed as ExportTraceServiceRequest): the
logfire.* attributes, pending spans, logs, the token, the resource, where the token and
URL come from, and how it degrades without its package or a token."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import spanline
from spanline.exceptions import ConfigurationError, SpanlineWarning
from spanline.exporters import logfire as logfire_module
from spanline.exporters.logfire import LogfireExporter, resolve_destination
from tests._extras import install_hint
from tests._helpers import configure, read_lines, run_python, validate_file
from tests.otel._receiver import Receiver, receiver
from tests.otel._run import expected_spans, nested_run

TOKEN = "pylf_v1_us_testtoken0123456789"


def _base(rx: Receiver) -> str:
    return rx.endpoint.removesuffix("/v1/traces")


def _value(any_value: Any) -> Any:
    which = any_value.WhichOneof("value")
    if which == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    return getattr(any_value, which)


def attrs(span: Any) -> dict[str, Any]:
    return {a.key: _value(a.value) for a in span.attributes}


def of_type(spans: list[Any], span_type: str) -> list[Any]:
    return [s for s in spans if attrs(s)["logfire.span_type"] == span_type]


def _logfire_env(monkeypatch: pytest.MonkeyPatch, rx: Receiver, **extra: str) -> None:
    monkeypatch.setenv("LOGFIRE_TOKEN", TOKEN)
    monkeypatch.setenv("LOGFIRE_BASE_URL", _base(rx))
    for name in ("LOGFIRE_SERVICE_NAME", "LOGFIRE_ENVIRONMENT", "LOGFIRE_CREDENTIALS_DIR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in extra.items():
        monkeypatch.setenv(name, value)


def _json_value(value: Any) -> Any:
    """What Logfire's SDK sends for a log value: str/bool/int/float as is, else JSON text."""
    if isinstance(value, str | bool | int | float):
        return value
    return json.dumps(value, separators=(",", ":"))


def test_every_span_carries_the_logfire_attributes_the_token_and_the_resource(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with receiver() as rx:
        _logfire_env(
            monkeypatch, rx, LOGFIRE_SERVICE_NAME="lf-service", LOGFIRE_ENVIRONMENT="lf-env"
        )
        run = configure(tmp_path, logfire=True, environment="staging")
        nested_run()
        summary = spanline.shutdown()
        expected = expected_spans(run.telemetry_path)
        notes = [line for line in read_lines(run.telemetry_path) if line["event"] == "event"]
        rx.wait_for(len(expected) + len(notes))
    spans = of_type(rx.spans, "span")
    assert len(spans) == len(expected) == 8  # each once
    for span in spans:
        want = expected[span.span_id.hex()]
        got = attrs(span)
        assert span.name == want["name"] and span.trace_id.hex() == want["trace_id"]
        assert (span.parent_span_id.hex() or None) == want["parent"]
        assert (span.start_time_unix_nano, span.end_time_unix_nano) == (
            want["start_ns"],
            want["end_ns"],
        )
        assert got["logfire.msg_template"] == got["logfire.msg"] == want["name"]
        error = want["status"] == "error"
        assert got["logfire.level_num"] == (17 if error else 9)
        assert span.status.code == (2 if error else 1)
        structured = {k: v for k, v in want["attributes"].items() if _json_value(v) != v}
        for key, value in want["attributes"].items():
            assert got[key] == _json_value(value), key
        if structured:
            schema = json.loads(got["logfire.json_schema"])
            assert schema["type"] == "object"
            assert set(schema["properties"]) == set(structured)
        else:
            assert "logfire.json_schema" not in got
        kind = want["attributes"].get("spanline.kind")
        assert got["logfire.tags"][0] == kind
    worker = next(s for s in spans if s.name == "worker-1")
    assert attrs(worker)["result"] == '{"n":1,"ok":true}'  # end wins, as JSON text
    assert attrs(worker)["tags"] == '["a","b"]'  # lists too, as Logfire's SDK sends them
    assert json.loads(attrs(worker)["logfire.json_schema"])["properties"] == {
        "result": {"type": "object"},
        "tags": {"type": "array"},
    }
    assert attrs(worker)["logfire.tags"] == ["agent", "a", "b"]
    # Coordination events: a Logfire log each, under its span, at its time.
    logs = of_type(rx.spans, "log")
    assert len(logs) == len(notes) == 3
    by_parent = {log.parent_span_id.hex(): log for log in logs}
    for note in notes:
        log = by_parent[note["span_id"]]
        assert log.name == attrs(log)["logfire.msg"] == "note"
        assert log.start_time_unix_nano == log.end_time_unix_nano == round(note["ts"] * 1e6) * 1000
        assert attrs(log)["detail"] == note["attributes"]["detail"]
        assert attrs(log)["logfire.level_num"] == 9
    # Where and how it was sent.
    assert {h["authorization"] for h in rx.headers} == {TOKEN}
    assert {h["content-type"] for h in rx.headers} == {"application/x-protobuf"}
    resource = rx.resources[0]
    assert resource["service.name"] == "lf-service"
    assert resource["deployment.environment.name"] == "lf-env"
    assert resource["spanline.run_id"] == run.run_id
    counts = summary.to_dict()["exporters"]["logfire"]
    assert counts["received"] == counts["exported"] > 0 and counts["failed"] == 0


def test_the_run_names_the_service_and_environment_without_logfire_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with receiver() as rx:
        _logfire_env(monkeypatch, rx)
        monkeypatch.setenv("SPANLINE_EXPORTERS", "logfire")
        configure(tmp_path, environment="staging", service_name="svc")
        with spanline.span("one"):
            pass
        spanline.shutdown()
        rx.wait_for(1)
    assert rx.resources[0]["service.name"] == "svc"
    assert rx.resources[0]["deployment.environment.name"] == "staging"


def test_a_span_still_open_is_announced_by_a_pending_span_that_logfire_replaces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with receiver() as rx:
        _logfire_env(monkeypatch, rx)
        run = configure(tmp_path, logfire=True)
        with spanline.span("orchestrator", kind="agent", query="q") as outer:
            with spanline.span("worker", kind="agent", plan={"steps": 2}) as inner:
                spanline.flush()  # both starts are exported while the spans are open
                pending = rx.wait_for(2)
                assert len(pending) == 2 and not of_type(pending, "span")
        spanline.shutdown()
        lines = validate_file(run.telemetry_path)
        starts = {line["span_id"]: line for line in lines if line["event"] == "span_start"}
        spans = rx.wait_for(4)
    real = {s.span_id.hex(): s for s in of_type(spans, "span")}
    assert set(real) == {outer.span_id, inner.span_id}
    by_real = {p.parent_span_id.hex(): p for p in of_type(spans, "pending_span")}
    assert set(by_real) == {outer.span_id, inner.span_id}
    for real_id, parent in ((outer.span_id, "0" * 16), (inner.span_id, outer.span_id)):
        span, start = by_real[real_id], starts[real_id]
        got = attrs(span)
        assert got["logfire.pending_parent_id"] == parent
        assert span.span_id.hex() not in real and span.trace_id == real[real_id].trace_id
        assert span.name == got["logfire.msg"] == start["name"]
        ns = round(start["ts"] * 1e6) * 1000
        assert span.start_time_unix_nano == span.end_time_unix_nano == ns
        assert span.start_time_unix_nano == real[real_id].start_time_unix_nano
    worker = attrs(by_real[inner.span_id])
    assert worker["plan"] == '{"steps":2}'
    assert json.loads(worker["logfire.json_schema"])["properties"] == {"plan": {"type": "object"}}
    assert worker["logfire.tags"] == ["agent"] and worker["spanline.kind"] == "agent"


def _exported(rx: Receiver, events: list[dict[str, Any]], chunks: list[int]) -> list[Any]:
    """Feed ``events`` to a Logfire exporter in batches of the given sizes."""
    exporter = LogfireExporter(token=TOKEN, base_url=_base(rx), process=False)
    at = 0
    for size in chunks:
        exporter.export(events[at : at + size])
        at += size
    exporter.export(events[at:])
    exporter.shutdown()
    return list(rx.spans)


def test_pending_spans_only_for_spans_whose_end_is_not_in_the_same_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = configure(tmp_path)
    nested_run()
    spanline.shutdown()
    events = validate_file(run.telemetry_path)
    starts = [e for e in events if e["event"] == "span_start"]
    with receiver() as one_by_one:
        spans = _exported(one_by_one, events, [1] * len(events))
    # Every start alone in its batch: one pending span per span, each a child of it.
    assert sorted(p.parent_span_id.hex() for p in of_type(spans, "pending_span")) == sorted(
        s["span_id"] for s in starts
    )
    assert len(of_type(spans, "span")) == len(starts) == 8
    with receiver() as together:
        spans = _exported(together, events, [])
    # The whole run in one batch: no span is in flight, so none is pending (as Logfire's
    # SDK drops a pending span whose span is in the same batch).
    assert not of_type(spans, "pending_span") and len(of_type(spans, "span")) == 8


@pytest.mark.parametrize("token_from", ["file", "environment"])
def test_token_and_url_come_from_the_credentials_file_logfire_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token_from: str
) -> None:
    with receiver() as rx:
        _logfire_env(monkeypatch, rx)
        monkeypatch.delenv("LOGFIRE_BASE_URL")
        if token_from == "file":
            monkeypatch.delenv("LOGFIRE_TOKEN")
        project = tmp_path / "project"
        (project / ".logfire").mkdir(parents=True)
        (project / ".logfire" / "logfire_credentials.json").write_text(
            json.dumps(
                {
                    "token": "pylf_v1_us_fromfile",
                    "project_name": "p",
                    "project_url": "http://127.0.0.1/p",
                    "logfire_api_url": _base(rx),
                }
            )
        )
        monkeypatch.chdir(project)
        configure(tmp_path, logfire=True)
        with spanline.span("one"):
            pass
        spanline.shutdown()
        rx.wait_for(1)
    # As in Logfire's SDK, a token in the environment wins over the file's; the URL
    # still comes from the file.
    want = TOKEN if token_from == "environment" else "pylf_v1_us_fromfile"
    assert {h["authorization"] for h in rx.headers} == {want}
    assert [s.name for s in rx.spans] == ["one"]


def test_credentials_dir_and_region_resolution(tmp_path: Path) -> None:
    (tmp_path / "logfire_credentials.json").write_text('{"token": "pylf_v1_eu_abc"}')
    assert resolve_destination(credentials_dir=tmp_path, environ={}) == (
        "pylf_v1_eu_abc",
        logfire_module._REGIONS["eu"],
    )
    env = {"LOGFIRE_CREDENTIALS_DIR": str(tmp_path), "LOGFIRE_BASE_URL": "http://127.0.0.1:9/"}
    assert resolve_destination(environ=env) == ("pylf_v1_eu_abc", "http://127.0.0.1:9")
    assert resolve_destination(token="old-style", environ={})[1] == logfire_module.DEFAULT_BASE_URL
    (tmp_path / "logfire_credentials.json").write_text("{not json")
    with pytest.raises(ConfigurationError, match="cannot read the Logfire credentials file"):
        resolve_destination(credentials_dir=tmp_path, environ={})
    with pytest.raises(ConfigurationError, match="not an http"):
        resolve_destination(token="t", base_url="ftp://x", environ={})
    assert "t0ken" not in repr(LogfireExporter(token="t0ken", base_url="http://127.0.0.1:9"))


def test_without_a_token_one_line_says_how_to_authenticate_and_the_log_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LOGFIRE_TOKEN", "LOGFIRE_BASE_URL", "LOGFIRE_CREDENTIALS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .logfire here
    with pytest.warns(SpanlineWarning) as caught:
        run = configure(tmp_path, logfire=True)
    (message,) = [str(w.message) for w in caught]
    assert "\n" not in message
    assert "exporter 'logfire' is skipped: no Logfire write token" in message
    assert "LOGFIRE_TOKEN" in message and "`logfire auth`" in message
    assert "telemetry.jsonl is still written" in message
    with spanline.span("kept"):
        pass
    summary = spanline.shutdown()
    lines = validate_file(run.telemetry_path)
    assert _kept_and_ended(lines)
    assert "logfire" not in summary.to_dict()["exporters"]
    with pytest.raises(ConfigurationError, match="no Logfire write token"):
        LogfireExporter()  # asked for directly: misuse, said at once


def _kept_and_ended(lines: list[dict[str, Any]]) -> bool:
    (start,) = [e for e in lines if e["event"] == "span_start" and e["name"] == "kept"]
    ends = [e for e in lines if e["event"] == "span_end" and e["span_id"] == start["span_id"]]
    return [e["status"] for e in ends] == ["ok"]


_BLOCKED = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "logfire" or name.startswith(("logfire.", "opentelemetry.exporter")):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
import spanline
run = spanline.configure_observability(logfire=True)
with spanline.span("kept"):
    pass
spanline.shutdown()
print(run.telemetry_path)
"""


def test_without_the_package_one_line_names_the_install_command_and_the_log_is_written(
    tmp_path: Path,
) -> None:
    result = run_python(
        _BLOCKED,
        env={"SPANLINE_ENABLED": "1", "SPANLINE_DIR": str(tmp_path), "LOGFIRE_TOKEN": TOKEN},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    warning = [line for line in result.stderr.splitlines() if "SpanlineWarning" in line]
    assert len(warning) == 1, result.stderr
    assert "exporter 'logfire' is skipped" in warning[0]
    assert f"({install_hint('logfire', cwd=tmp_path)})" in warning[0]
    assert "Traceback" not in result.stderr
    events = validate_file(Path(result.stdout.strip()))
    assert _kept_and_ended(events)


def test_logfire_false_removes_it_from_the_environment_s_exporters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPANLINE_EXPORTERS", "logfire,memory")
    monkeypatch.delenv("LOGFIRE_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    configure(tmp_path, logfire=False)  # no token warning (an error here): it is not built
    with spanline.span("kept"):
        pass
    summary = spanline.shutdown()
    assert list(summary.to_dict()["exporters"]) == ["memory"]
