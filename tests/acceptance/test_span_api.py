"""The span API: misuse is a clear TypeError/ValueError; explicit parents; exceptions."""

from __future__ import annotations

import asyncio
import contextvars
from pathlib import Path

import pytest

import spanline
from tests._helpers import configure, finish, one, spans


@pytest.mark.parametrize("enabled", [True, False])
def test_non_string_names_are_type_errors(enabled: bool, tmp_path: Path) -> None:
    if enabled:
        configure(tmp_path)
    tracer = spanline.get_tracer()
    for bad in (None, 3, b"bytes", ["x"]):
        with pytest.raises(TypeError):
            tracer.span(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            tracer.start_span(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            tracer.event(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            tracer.phase(bad)  # type: ignore[arg-type]


def test_lifecycle_misuse_is_a_value_error(tmp_path: Path) -> None:
    run = configure(tmp_path)
    tracer = spanline.get_tracer()
    span = tracer.start_span("twice")
    span.end()
    with pytest.raises(ValueError):
        span.end()
    never = tracer.span("never-started")
    with pytest.raises(ValueError):
        never.end()
    entered = tracer.span("entered")
    with entered, pytest.raises(ValueError):
        entered.__enter__()
    with tracer.span("checks") as checked:
        with pytest.raises(TypeError):
            checked.add(tokens="12")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            checked.add(tokens=True)
        with pytest.raises(ValueError):
            checked.add(status=1)
        with pytest.raises(TypeError):
            checked.set_attribute(1, "x")  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            checked.set_status("fine")
        with pytest.raises(ValueError):
            tracer.phase("p", wall_ms=3)
    with pytest.raises(ValueError):
        checked.set_attribute("late", 1)
    _, events = finish(run)
    merged = spans(events)
    assert sorted(s["name"] for s in merged.values()) == ["checks", "entered", "twice"]
    assert all(s["end"] is not None for s in merged.values())
    assert not [e for e in events if e["event"] == "phase"]


def test_add_after_end_is_a_value_error(tmp_path: Path) -> None:
    configure(tmp_path)
    span = spanline.get_tracer().start_span("done")
    span.end()
    with pytest.raises(ValueError):
        span.add(tokens=1)


def test_double_end_misuse_does_not_corrupt_the_current_span(tmp_path: Path) -> None:
    run = configure(tmp_path)
    tracer = spanline.get_tracer()

    def body() -> None:
        with pytest.raises(ValueError), tracer.span("misused") as span:
            span.end()
        with tracer.span("after"):
            pass

    contextvars.copy_context().run(body)  # keep a corrupted context out of other tests
    _, events = finish(run)
    assert one(events, "after")["parent"] is None


def test_explicit_parent(tmp_path: Path) -> None:
    run = configure(tmp_path)
    tracer = spanline.get_tracer()
    with tracer.span("a") as a:
        with tracer.span("b"):
            with tracer.span("to-a-by-span", parent=a):
                with tracer.span("nested-default"):
                    pass
            with tracer.span("to-a-by-id", parent=a.span_id):
                pass
            with tracer.span("root-by-none", parent=None):
                pass
            started = tracer.start_span("started", parent=a)
            started.end()
    with pytest.raises(TypeError), tracer.span("bad", parent="not-hex"):
        pass
    with pytest.raises(TypeError), tracer.span("bad2", parent=42):
        pass
    _, events = finish(run)
    by_name = {s["name"]: s for s in spans(events).values()}
    assert by_name["to-a-by-span"]["parent"] == a.span_id
    assert by_name["nested-default"]["parent"] == by_name["to-a-by-span"]["span_id"]
    assert by_name["to-a-by-id"]["parent"] == a.span_id
    assert by_name["root-by-none"]["parent"] is None
    assert by_name["started"]["parent"] == a.span_id
    assert all(s["end"] is not None for s in by_name.values())


def test_exceptions_leave_spans_unchanged_and_marked(tmp_path: Path) -> None:
    run = configure(tmp_path)
    tracer = spanline.get_tracer()
    error = LookupError("nope")
    with pytest.raises(LookupError) as caught, tracer.span("outer"):
        with tracer.span("inner"):
            raise error
    assert caught.value is error

    async def cancelled() -> None:
        async with tracer.span("async-fail"):
            raise ZeroDivisionError("async")

    with pytest.raises(ZeroDivisionError):
        asyncio.run(cancelled())
    with tracer.span("handled") as handled:
        handled.record_exception(ValueError("seen"))
    with pytest.raises(KeyboardInterrupt), tracer.span("interrupted"):
        raise KeyboardInterrupt
    _, events = finish(run)
    for name in ("outer", "inner", "async-fail", "interrupted"):
        assert one(events, name)["end"]["status"] == "error", name
    inner = one(events, "inner")["end"]["error"]
    assert inner["type"] == "LookupError" and "nope" in inner["message"]
    handled_span = one(events, "handled")
    assert handled_span["end"]["status"] == "ok"
    assert "seen" in str(handled_span["end"]["attributes"])


def test_current_span_and_separate_tracer_objects(tmp_path: Path) -> None:
    run = configure(tmp_path)
    assert spanline.current_span().span_id == ""
    other = spanline.Tracer()
    with other.span("from-other") as span:
        assert spanline.current_span() is span
        with spanline.span("module-level") as inner:
            assert inner is spanline.current_span()
    _, events = finish(run)
    assert one(events, "module-level")["parent"] == one(events, "from-other")["span_id"]


def test_span_ids_are_unique_hex_and_trace_id_is_shared(tmp_path: Path) -> None:
    run = configure(tmp_path)
    tracer = spanline.get_tracer()
    for _ in range(20_000):
        with tracer.span("s"):
            pass
    _, events = finish(run)
    ids = [e["span_id"] for e in events if e["event"] == "span_start"]
    assert len(set(ids)) == len(ids) == 20_000
    assert all(len(i) == 16 and int(i, 16) != 0 for i in ids)
    assert {e["trace_id"] for e in events if "trace_id" in e} == {events[0]["trace_id"]}


def test_spanline_testing_capture_helper(tmp_path: Path) -> None:
    from spanline.testing import capture_spans

    with capture_spans(capture="full") as captured:
        with spanline.span("one", kind="agent") as span:
            span.add(tokens=4)
        with spanline.span("two"):
            pass
        assert captured.names() == ["one", "two"]
        assert captured.span("one")["tokens"] == 4
        with pytest.raises(LookupError):
            captured.span("missing")
        directory = captured.run.directory
    assert captured.summary is not None and captured.summary.totals.agents_spawned == 1
    assert captured.events[-1]["event"] == "span_end"
    assert not directory.exists()  # a temporary run
    assert spanline.current_run() is None


def test_a_str_subclass_is_a_valid_span_name(tmp_path: Path) -> None:
    import enum

    class Step(str, enum.Enum):
        PLAN = "plan"

    run = configure(tmp_path)
    with spanline.span(Step.PLAN):
        pass
    spanline.event(Step.PLAN)
    _, events = finish(run)
    assert one(events, "plan")["end"] is not None


def test_counters_cannot_shadow_span_fields() -> None:
    from spanline.testing import capture_spans

    with capture_spans() as captured, spanline.span("real", kind="agent") as span:
        try:
            span.add(name=1, parent=3)
        except ValueError:
            pass  # rejecting them is fine
    (merged,) = captured.spans()
    assert merged["name"] == "real" and merged["parent"] is None
