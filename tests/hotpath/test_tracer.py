"""Spans: fields, nesting, counters, attributes, errors, misuse, async, threads."""

from __future__ import annotations

import asyncio
import threading

import pytest

import spanline
from spanline.exporters import InMemoryExporter
from tests._helpers import read_lines


def by_name(memory: InMemoryExporter) -> dict[str, dict]:
    spanline.flush()
    return {span["name"]: span for span in memory.spans()}


def test_span_lines_carry_the_reference_fields(traced: spanline.Run, memory) -> None:
    tracer = spanline.get_tracer()
    with tracer.span("lib-encoding", kind="library-analysis", component="encoding") as span:
        span.add(tokens=1200, tool_uses=1)
        span.add(tokens=100, analyses_written=1)
        span.set_attribute("gen_ai.request.model", "claude-sonnet-4")
    spanline.shutdown()
    lines = read_lines(traced.telemetry_path)
    start = next(e for e in lines if e["event"] == "span_start")
    end = next(e for e in lines if e["event"] == "span_end")
    assert start["name"] == "lib-encoding"
    assert start["kind"] == "library-analysis"
    assert start["component"] == "encoding"
    assert start["parent"] is None
    assert len(start["span_id"]) == 16 and int(start["span_id"], 16)
    assert len(start["trace_id"]) == 32
    assert isinstance(start["ts"], float)
    assert end["span_id"] == start["span_id"]
    assert end["status"] == "ok"
    assert end["tokens"] == 1300 and isinstance(end["tokens"], int)
    assert end["tool_uses"] == 1
    assert end["analyses_written"] == 1
    assert end["attributes"] == {"gen_ai.request.model": "claude-sonnet-4"}
    assert end["ts"] >= start["ts"]
    assert end["duration_ms"] >= 0


def test_counters_default_to_zero_and_attributes_split_start_end(traced, memory) -> None:
    with spanline.span("plain", answer=42) as span:
        span.set_attributes({"late": True})
    spanline.shutdown()
    lines = read_lines(traced.telemetry_path)
    start = next(e for e in lines if e["event"] == "span_start")
    end = next(e for e in lines if e["event"] == "span_end")
    assert start["attributes"] == {"answer": 42}
    assert end["attributes"] == {"late": True}
    assert (end["tokens"], end["tool_uses"]) == (0, 0)


def test_nesting_sets_parents(traced, memory) -> None:
    tracer = spanline.get_tracer()
    with tracer.span("run") as run, tracer.span("phase", kind="phase") as phase:
        with tracer.span("agent") as agent:
            assert spanline.current_span() is agent
        assert spanline.current_span() is phase
    assert spanline.current_span().is_recording is False
    spans = by_name(memory)
    assert spans["run"]["parent"] is None
    assert spans["phase"]["parent"] == run.span_id
    assert spans["agent"]["parent"] == phase.span_id


def test_explicit_parent_overrides_the_current_span(traced, memory) -> None:
    tracer = spanline.get_tracer()
    with tracer.span("a") as a, tracer.span("b"):
        with tracer.span("under-a", parent=a):
            pass
        with tracer.span("root", parent=None):
            pass
        with tracer.span("by-id", parent=a.span_id):
            pass
    spans = by_name(memory)
    assert spans["under-a"]["parent"] == a.span_id
    assert spans["root"]["parent"] is None
    assert spans["by-id"]["parent"] == a.span_id


def test_exception_ends_span_with_error_and_is_reraised_unchanged(traced, memory) -> None:
    class Boom(Exception):
        pass

    error = Boom("it broke")
    with pytest.raises(Boom) as caught, spanline.span("fails"):
        raise error
    assert caught.value is error
    span = by_name(memory)["fails"]
    assert span["status"] == "error"
    assert span["error"]["type"].endswith("Boom")
    assert span["error"]["message"] == "it broke"
    assert "it broke" in span["error"]["stacktrace"]


def test_record_exception_and_set_status(traced, memory) -> None:
    with spanline.span("handled") as span:
        try:
            raise ValueError("bad input")
        except ValueError as exc:
            span.record_exception(exc)
    with spanline.span("marked") as span:
        span.set_status("error", "quota exceeded")
    spans = by_name(memory)
    assert spans["handled"]["status"] == "ok"
    assert spans["handled"]["attributes"]["exception.type"] == "ValueError"
    assert spans["handled"]["attributes"]["exception.message"] == "bad input"
    assert spans["marked"]["status"] == "error"
    assert spans["marked"]["error"]["message"] == "quota exceeded"


def test_misuse_is_a_clear_error(traced) -> None:
    tracer = spanline.get_tracer()
    with pytest.raises(TypeError, match="span name must be str"):
        tracer.span(123)  # type: ignore[arg-type]
    span = tracer.start_span("manual")
    span.end()
    with pytest.raises(ValueError, match="already ended"):
        span.end()
    with pytest.raises(ValueError, match="has ended"):
        span.set_attribute("x", 1)
    with spanline.span("s") as s:
        with pytest.raises(TypeError, match="int or float"):
            s.add(tokens="many")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="span field"):
            s.add(duration_ms=3)
        with pytest.raises(ValueError, match="'ok' or 'error'"):
            s.set_status("fine")
    with pytest.raises(ValueError, match="may not"):
        tracer.phase("p", wall_ms=3)
    with pytest.raises(TypeError, match="parent"):
        tracer.span("x", parent=3.5).__enter__()


def test_unserializable_attribute_is_stored_as_repr(traced, memory) -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<Opaque 7>"

    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    with spanline.span("odd", thing=Opaque(), big=2**80, keys={1: "one"}) as span:
        span.set_attribute("broken", Broken())
    spanline.shutdown()
    lines = read_lines(traced.telemetry_path)
    start = next(e for e in lines if e["event"] == "span_start")
    end = next(e for e in lines if e["event"] == "span_end")
    assert start["attributes"]["thing"] == "<Opaque 7>"
    assert start["attributes"]["big"] == str(2**80)
    assert start["attributes"]["keys"] == {"1": "one"}
    assert end["attributes"]["broken"].startswith("<unrepresentable ")
    assert end["attributes"]["broken"].endswith("Broken>")


def test_async_with_and_tasks_are_children(traced, memory) -> None:
    tracer = spanline.get_tracer()

    async def agent(i: int) -> str:
        async with tracer.span(f"agent-{i}") as span:
            await asyncio.sleep(0.001)
            with tracer.span(f"tool-{i}"):
                await asyncio.sleep(0)
            return span.span_id

    async def main() -> tuple[str, list[str]]:
        async with tracer.span("orchestrator") as root:
            ids = await asyncio.gather(*(agent(i) for i in range(5)))
        return root.span_id, ids

    root_id, agent_ids = asyncio.run(main())
    spans = by_name(memory)
    for i in range(5):
        assert spans[f"agent-{i}"]["parent"] == root_id
        assert spans[f"tool-{i}"]["parent"] == agent_ids[i]


def test_plain_threads_are_roots_but_the_helpers_carry_the_parent(traced, memory) -> None:
    tracer = spanline.get_tracer()

    def work(name: str) -> None:
        with tracer.span(name):
            pass

    with tracer.span("main") as main:
        plain = threading.Thread(target=work, args=("plain",))
        bound = threading.Thread(target=spanline.bind_context(work), args=("bound",))
        for thread in (plain, bound):
            thread.start()
            thread.join()
        with spanline.ThreadPoolExecutor(max_workers=3) as pool:
            list(pool.map(work, [f"pooled-{i}" for i in range(6)]))
    spans = by_name(memory)
    assert spans["plain"]["parent"] is None  # a bare thread: parentless
    assert spans["bound"]["parent"] == main.span_id
    for i in range(6):
        assert spans[f"pooled-{i}"]["parent"] == main.span_id


def test_events_and_phases(traced, memory) -> None:
    tracer = spanline.get_tracer()
    with tracer.span("agent") as agent:
        tracer.event("vote", agent_id="agent_a", voted_for="agent_b.1", reason="better")
    tracer.phase("library-depth-0-complete", libraries=9)
    tracer.phase("library-depth-n-complete", libraries=15)
    spanline.flush()
    events = [e for e in memory.events if e["event"] in ("event", "phase")]
    vote, first, second = events
    assert vote["name"] == "vote" and vote["span_id"] == agent.span_id
    assert vote["attributes"] == {
        "agent_id": "agent_a",
        "voted_for": "agent_b.1",
        "reason": "better",
    }
    assert first["libraries"] == 9 and first["wall_ms"] >= 0
    assert second["libraries"] == 15 and second["wall_ms"] >= 0
    assert second["ts"] >= first["ts"]


def test_tracer_taken_before_configuration_traces_afterwards(tmp_path, memory) -> None:
    tracer = spanline.get_tracer()  # taken at "import time"
    assert tracer.span("off") is tracer.span("still-off")  # the shared no-op span
    spanline.configure_observability(enabled=True, run_dir=tmp_path, exporters=[memory])
    with tracer.span("on"):
        pass
    assert "on" in by_name(memory)


def test_exporter_objects_must_fit_the_protocol(tmp_path) -> None:
    with pytest.raises(spanline.ConfigurationError, match="export"):
        spanline.configure_observability(enabled=True, run_dir=tmp_path, exporters=[object()])
    with pytest.raises(spanline.ConfigurationError, match="unknown exporter 'nope'"):
        spanline.configure_observability(enabled=True, run_dir=tmp_path, exporters=["nope"])
    with pytest.raises(spanline.ConfigurationError, match="flush_ms"):
        spanline.configure_observability(enabled=True, run_dir=tmp_path, flush_ms=0)


def test_plan_writes_span_planned_and_a_later_span_fulfils_it(traced, memory) -> None:
    import jsonschema

    from spanline.schema import schema

    tracer = spanline.get_tracer()
    with tracer.span("lead", kind="run") as lead:
        plan_id = tracer.plan("lib-a", kind="agent", parent=lead, phase="depth-0")
        other = spanline.plan("lib-b", kind="agent", parent=lead.span_id)
        with tracer.span("lib-a", kind="agent"):
            pass
    spanline.shutdown()
    lines = read_lines(traced.telemetry_path)
    planned = [line for line in lines if line["event"] == "span_planned"]
    assert planned[0] == {
        "event": "span_planned",
        "plan_id": plan_id,
        "name": "lib-a",
        "kind": "agent",
        "parent": lead.span_id,
        "ts": planned[0]["ts"],
        "attributes": {"phase": "depth-0"},
    }
    assert planned[1]["plan_id"] == other != plan_id and len(other) == 16
    validator = jsonschema.Draft202012Validator(schema())
    for line in planned:
        assert validator.is_valid(line)
    summary = spanline.summarize(lines).to_dict()
    assert summary["plan"] == {"planned": 2, "started": 1, "done": 1}


def test_plan_while_disabled_returns_empty_and_checks_arguments() -> None:
    spanline.shutdown()
    assert spanline.get_tracer().plan("later", kind="agent") == ""
    with pytest.raises(TypeError):
        spanline.plan(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        spanline.plan("x", parent=object())


def test_run_start_records_the_stall_threshold(tmp_path) -> None:
    run = spanline.configure_observability(enabled=True, run_dir=tmp_path, stall_s=2.5)
    assert run is not None
    spanline.shutdown()
    assert read_lines(run.telemetry_path)[0]["stall_s"] == 2.5


def test_a_span_from_the_tracer_is_built_as_the_span_class_builds_one(traced) -> None:
    """tracer.span() makes a Span's stores itself instead of calling Span(...): every
    field the class's constructor sets holds the same value either way."""
    from spanline._hotpath._runtime import RUNTIME
    from spanline._hotpath._tracer import Span

    pipeline = RUNTIME.pipeline
    made = spanline.get_tracer().span("s", kind="tool", component="c", parent=None, a=1)
    built = Span(pipeline, "s", "tool", "c", None, {"a": 1})  # type: ignore[arg-type]
    assert isinstance(made, Span)
    fields = {field for cls in Span.__mro__ for field in getattr(cls, "__slots__", ())}
    assert {"_pipeline", "_counters", "name"} <= fields
    for field in fields:
        if hasattr(built, field) or hasattr(made, field):
            assert getattr(made, field) == getattr(built, field), field
    # Entered and left the same way: one start and one end each.
    for span in (made, built):
        with span:
            pass
    spanline.shutdown()
    lines = read_lines(traced.telemetry_path)
    assert [e["event"] for e in lines if e.get("name") == "s"] == ["span_start"] * 2
    assert sum(e["event"] == "span_end" for e in lines) == 2


@pytest.mark.parametrize(
    "setter",
    [
        "spanline.context(round=1)",
        "spanline.session('s-1')",
    ],
)
def test_context_attributes_set_first_late_in_a_process_reach_its_spans(
    tmp_path, setter: str
) -> None:
    """A fresh process opens spans before it ever sets context attributes, then sets
    them: the spans opened inside carry them, the ones before and after do not."""
    code = f"""
import spanline
from tests._helpers import read_lines
run = spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r})
with spanline.span("before"):
    pass
with {setter}:
    with spanline.span("inside"):
        pass
with spanline.span("after"):
    pass
spanline.shutdown()
starts = {{e["name"]: e.get("attributes") or {{}} for e in read_lines(run.telemetry_path)
          if e["event"] == "span_start"}}
print(sorted(starts["before"]), sorted(starts["inside"]), sorted(starts["after"]))
"""
    from tests._helpers import ROOT, run_python

    result = run_python(code, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    before, inside, after = result.stdout.strip().split("] [")
    assert before == "[" and after == "]"
    assert inside  # the context's attributes, whichever the setter names
