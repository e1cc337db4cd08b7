"""spanline and the host's own OpenTelemetry setup.

Without the bridge the host exports exactly what it exported before; in bridge mode
its spans get parents that only spanline's exporters send (documented); spanline
never replaces the host's global provider unless asked, and never traces its own
clients (its threads set OpenTelemetry's "suppress instrumentation" flag).
"""

from __future__ import annotations

import json
import textwrap
import threading
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

import spanline
import spanline.otel
from tests._helpers import configure, finish, named, one, read_lines, run_python
from tests.otel_bridge.conftest import Host

#: A loopback HTTP server answering 204, started in a daemon thread: ``server``.
LOCAL_SERVER = textwrap.dedent(
    """
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(204)
            self.end_headers()
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    """
)

#: The host application: its own global provider, httpx instrumented, nested spans,
#: a request, work in a thread pool. MODE decides what spanline does around it.
HOST_APP = LOCAL_SERVER + textwrap.dedent(
    """
    import concurrent.futures, json, sys, threading
    import httpx
    from opentelemetry import trace
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    import spanline

    port = server.server_address[1]
    url = f"http://127.0.0.1:{port}/"

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument()
    tracer = trace.get_tracer("host-app")
    MODE = sys.argv[1]
    if MODE != "plain":
        spanline.configure_observability(enabled=True, run_dir=sys.argv[2], service_name="h")

    def job(n):
        with tracer.start_as_current_span(f"job-{n}"):
            return n

    def workload():
        with tracer.start_as_current_span("request") as span:
            span.set_attribute("user", "u1")
            with tracer.start_as_current_span("db"):
                pass
            httpx.get(url)
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                assert sorted(pool.map(job, range(3))) == [0, 1, 2]

    if MODE == "plain":
        workload()
    else:
        with spanline.span("spanline-outer"):
            workload()
            with spanline.span("spanline-inner"):
                workload()
        spanline.shutdown()
    names = {s.context.span_id: s.name for s in exporter.get_finished_spans()}
    rows = [
        {
            "name": s.name,
            "parent": names.get(s.parent.span_id, "?") if s.parent else None,
            "kind": s.kind.name,
            "status": s.status.status_code.name,
            "attributes": {
                k: str(v).replace(url.rstrip("/"), "URL").replace(str(port), "PORT")
                for k, v in sorted((s.attributes or {}).items())
            },
            "trace_id": f"{s.context.trace_id:032x}",
        }
        for s in exporter.get_finished_spans()
    ]
    print(json.dumps(rows))
    server.shutdown()
    """
)


def _host_run(mode: str, tmp_path: Path) -> list[dict[str, Any]]:
    tmp_path.mkdir()
    script = tmp_path / "host_app.py"
    script.write_text(HOST_APP)
    result = run_python(
        f"import runpy, sys; sys.argv = ['host_app', {mode!r}, {str(tmp_path)!r}];"
        f" runpy.run_path({str(script)!r}, run_name='__main__')"
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _shape(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(
        (r["name"], r["parent"], r["kind"], r["status"], json.dumps(r["attributes"])) for r in rows
    )


def test_without_the_bridge_the_host_exports_what_it_did_before(tmp_path: Path) -> None:
    plain = _host_run("plain", tmp_path / "plain")
    with_spanline = _host_run("spanline", tmp_path / "spanline")
    assert len(plain) == 6  # request, db, GET, 3 jobs
    # Twice the workload, each run exactly as without spanline: same spans, same parents.
    assert _shape(with_spanline) == sorted(_shape(plain) * 2)
    run_dir = next((tmp_path / "spanline" / "runs").iterdir())
    trace_id = json.loads((run_dir / "telemetry.jsonl").read_text().splitlines()[0])["trace_id"]
    assert trace_id not in {r["trace_id"] for r in with_spanline}


def test_in_bridge_mode_host_spans_get_spanline_parents(tmp_path: Path, host: Host) -> None:
    """Documented: the host's exporter then sees parents that only spanline's exporters send."""
    run = configure(tmp_path)
    spanline.otel.install(host.provider)
    with spanline.span("outer") as outer:
        with host.tracer.start_as_current_span("host-span"):
            pass
    _, events = finish(run)
    (exported,) = host.exporter.get_finished_spans()
    assert f"{exported.parent.span_id:016x}" == outer.span_id  # type: ignore[union-attr]
    assert f"{exported.context.trace_id:032x}" == events[0]["trace_id"]
    # ... and spanline's log holds both, so one backend fed from it gets the whole tree.
    assert {s["name"] for s in named(events, "host-span")} == {"host-span"}


GLOBAL_PROVIDER = textwrap.dedent(
    """
    import sys
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    import spanline, spanline.otel
    case = sys.argv[1]
    if case == "host-has-one":
        host = TracerProvider()
        trace.set_tracer_provider(host)
    before = trace.get_tracer_provider()
    given = TracerProvider() if case == "given-asked" else None
    made = spanline.otel.install(given, set_global_otel=(case != "default"))
    if given is not None:
        assert made is given
    after = trace.get_tracer_provider()
    print(type(before).__name__, made is after, after is before)
    """
)


def test_the_global_provider_is_replaced_only_when_asked(tmp_path: Path) -> None:
    script = tmp_path / "global_provider.py"
    script.write_text(GLOBAL_PROVIDER)

    def case(name: str) -> str:
        result = run_python(
            f"import runpy, sys; sys.argv = ['g', {name!r}]; runpy.run_path({str(script)!r})"
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    # Not asked: the global provider stays OpenTelemetry's proxy; a private one is returned.
    assert case("default") == "ProxyTracerProvider False True"
    # Asked: the provider spanline made becomes the global one.
    assert case("asked") == "ProxyTracerProvider True False"
    # Asked, with a provider of the host's: that one becomes the global one.
    assert case("given-asked") == "ProxyTracerProvider True False"
    # The host has one: spanline adds its processor to it and replaces nothing.
    assert case("host-has-one") == "TracerProvider True True"


class _PostingExporter:
    """A spanline exporter whose client is httpx: its requests must never be traced."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.posted = 0
        self.done = threading.Event()

    def export(self, batch: list[dict[str, Any]]) -> None:
        httpx.get(self.url)
        self.posted += 1
        self.done.set()


def _own_client_run(tmp_path: Path, host: Host, http_url: str, *, bridge: bool) -> Any:
    exporter = _PostingExporter(http_url)
    run = configure(tmp_path, exporters=[exporter])
    if bridge:
        spanline.otel.install(host.provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=host.provider)
    try:
        with spanline.span("work"):
            httpx.get(http_url)  # the host's own request: traced
        spanline.flush()
        assert exporter.done.wait(10)
    finally:
        HTTPXClientInstrumentor().uninstrument()
    summary, events = finish(run)
    assert exporter.posted >= 1
    return summary, events


def test_own_clients_are_never_traced_without_the_bridge(
    tmp_path: Path, host: Host, http_url: str
) -> None:
    _own_client_run(tmp_path, host, http_url, bridge=False)
    assert [s.name for s in host.exporter.get_finished_spans()] == ["GET"]  # the host's only


def test_own_clients_are_never_traced_in_bridge_mode(
    tmp_path: Path, host: Host, http_url: str
) -> None:
    _, events = _own_client_run(tmp_path, host, http_url, bridge=True)
    assert [s.name for s in host.exporter.get_finished_spans()] == ["GET"]
    (request,) = named(events, "GET")  # the host's request, under its spanline span
    assert request["parent"] == named(events, "work")[0]["span_id"]


class _SpanningExporter:
    """A spanline exporter that opens an OpenTelemetry span itself (on spanline's thread)."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.done = threading.Event()

    def export(self, batch: list[dict[str, Any]]) -> None:
        with self.host.tracer.start_as_current_span("inside-exporter"):
            pass
        self.done.set()


def test_otel_spans_on_spanline_threads_are_not_recorded(tmp_path: Path, host: Host) -> None:
    exporter = _SpanningExporter(host)
    run = configure(tmp_path, exporters=[exporter])
    spanline.otel.install(host.provider)
    with spanline.span("work"):
        pass
    spanline.flush()
    assert exporter.done.wait(10)
    summary, events = finish(run)
    assert named(events, "inside-exporter") == []
    assert summary.totals.suppressed_spans >= 1


GLOBAL_HTTPX = LOCAL_SERVER + textwrap.dedent(
    """
    import json, sys, threading
    import httpx
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    import spanline, spanline.otel

    run = spanline.configure_observability(enabled=True, run_dir=sys.argv[1])
    spanline.otel.install(set_global_otel=True)
    HTTPXClientInstrumentor().instrument()  # the global provider: no argument needed

    @spanline.traced_tool
    def fetch():
        return httpx.get(f"http://127.0.0.1:{server.server_address[1]}/").status_code

    @spanline.traced_agent(name="agent", id="a1")
    def agent():
        return fetch()

    assert agent() == 204
    spanline.shutdown()
    server.shutdown()
    print(run.telemetry_path)
    """
)


def test_the_usual_setup_global_provider_and_httpx_instrumentation(tmp_path: Path) -> None:
    """install(set_global_otel=True) + HTTPXClientInstrumentor().instrument(), in a fresh
    interpreter: the request nests under the tool, with the agent's id."""
    script = tmp_path / "global_httpx.py"
    script.write_text(GLOBAL_HTTPX)
    result = run_python(
        f"import runpy, sys; sys.argv = ['g', {str(tmp_path)!r}]; runpy.run_path({str(script)!r})"
    )
    assert result.returncode == 0, result.stderr
    events = read_lines(Path(result.stdout.strip().splitlines()[-1]))
    tool = one(events, "tool.fetch")
    request = one(events, "GET")
    assert request["parent"] == tool["span_id"]
    assert request["attrs"]["gen_ai.agent.id"] == "a1"
    assert request["trace_id"] == tool["trace_id"]
