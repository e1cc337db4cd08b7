"""spanline.inject() / spanline.extract(): a W3C traceparent across queues, HTTP, processes."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import pytest

import spanline
from tests._helpers import configure, finish, one, run_python


@pytest.fixture(autouse=True)
def _shutdown() -> object:
    yield
    spanline.shutdown()


def test_inject_names_the_current_span_in_the_runs_trace(tmp_path: Path) -> None:
    run = configure(tmp_path)
    with spanline.span("producer") as span:
        carrier = spanline.inject()
        headers: dict[str, str] = {"x-other": "kept"}
        assert spanline.inject(headers) is headers
    _, events = finish(run)
    trace_id = events[0]["trace_id"]
    assert carrier == {"traceparent": f"00-{trace_id}-{span.span_id}-01"}
    assert headers == {"x-other": "kept", **carrier}


def test_inject_writes_nothing_without_a_span_or_tracing(tmp_path: Path) -> None:
    assert spanline.inject() == {}  # tracing off
    configure(tmp_path)
    assert spanline.inject() == {}  # no span open
    with pytest.raises(TypeError, match="mutable mapping"):
        spanline.inject(["traceparent"])  # type: ignore[arg-type]


def test_a_queue_consumer_nests_under_the_producer(tmp_path: Path) -> None:
    run = configure(tmp_path)
    messages: queue.Queue[dict[str, object]] = queue.Queue()

    def consume() -> None:  # a bare thread: no context of its own
        message = messages.get()
        with spanline.extract(message["headers"]):  # type: ignore[arg-type]
            with spanline.span("consume"):
                pass
        with spanline.span("unrelated"):
            pass

    worker = threading.Thread(target=consume)
    worker.start()
    with spanline.span("produce"):
        messages.put({"body": "x", "headers": spanline.inject()})
    worker.join()
    _, events = finish(run)
    assert one(events, "consume")["parent"] == one(events, "produce")["span_id"]
    assert one(events, "unrelated")["parent"] is None  # left the extracted context


def test_extract_as_parent_argument_and_header_case(tmp_path: Path) -> None:
    run = configure(tmp_path)
    parent = spanline.extract({"TraceParent": "00-" + "ab" * 16 + "-00000000000000aa-01"})
    assert parent and parent.span_id == "00000000000000aa" and parent.trace_id == "ab" * 16
    with spanline.span("child", parent=parent):
        pass
    _, events = finish(run)
    assert one(events, "child")["parent"] == "00000000000000aa"


@pytest.mark.parametrize(
    "carrier",
    [
        None,
        {},
        {"traceparent": "garbage"},
        {"traceparent": 42},
        {"traceparent": "00-" + "0" * 32 + "-00000000000000aa-01"},  # invalid trace id
        {"traceparent": "00-" + "ab" * 16 + "-0000000000000000-01"},  # invalid span id
    ],
)
def test_bad_carriers_give_an_empty_parent_and_never_raise(
    tmp_path: Path, carrier: dict[str, object] | None
) -> None:
    run = configure(tmp_path)
    with spanline.span("outer") as outer:
        remote = spanline.extract(carrier)
        assert not remote
        with remote:
            with spanline.span("inner"):
                pass
    _, events = finish(run)
    assert one(events, "inner")["parent"] == outer.span_id


def test_extract_rejects_a_non_mapping() -> None:
    with pytest.raises(TypeError, match="mapping"):
        spanline.extract("00-ab")  # type: ignore[arg-type]


def test_bytes_headers_are_read(tmp_path: Path) -> None:
    remote = spanline.extract({"traceparent": b"00-" + b"cd" * 16 + b"-00000000000000bb-00"})
    assert remote.span_id == "00000000000000bb"


def test_a_subprocess_continues_through_the_environment(tmp_path: Path) -> None:
    """The carrier travels as an environment variable; the child extracts it itself."""
    run = configure(tmp_path)
    with spanline.span("parent"):
        env = {"MY_TRACEPARENT": spanline.inject()["traceparent"], **spanline.child_env()}
    code = (
        "import os, spanline\n"
        "with spanline.extract({'traceparent': os.environ['MY_TRACEPARENT']}):\n"
        "    with spanline.span('child'):\n"
        "        pass\n"
        "spanline.shutdown()\n"
    )
    env.pop("TRACEPARENT")  # only our own carrier names the parent
    result = run_python(
        code,
        env={k: v for k, v in env.items() if k.startswith("SPANLINE_")}
        | {"MY_TRACEPARENT": env["MY_TRACEPARENT"]},
    )
    assert result.returncode == 0, result.stderr
    _, events = finish(run)
    assert one(events, "child")["parent"] == one(events, "parent")["span_id"]
