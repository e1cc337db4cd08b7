"""``spanline.otel.install()`` beside another tracer that already set the global provider
(Logfire, an application's own SDK provider): it attaches to the real SDK provider,
never replacing it, and the other tracer's spans are unchanged. Each case runs in a
fresh interpreter: the global provider can be set once per process."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from tests._helpers import run_python

#: Logfire configured first (nothing sent, no console), its spans kept in memory; then,
#: with MODE "spanline", spanline and the bridge. Prints what both recorded.
LOGFIRE_APP = textwrap.dedent(
    """
    import json, os, sys
    import logfire
    from opentelemetry import trace
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    logfire.configure(
        send_to_logfire=False, console=False, service_name="app", inspect_arguments=False,
        additional_span_processors=[SimpleSpanProcessor(exporter)],
    )
    out = {}
    if os.environ["MODE"] == "spanline":
        import spanline, spanline.otel
        run = spanline.configure_observability(
            enabled=True, run_dir=sys.argv[1], service_name="acc"
        )
        provider = spanline.otel.install()
        out["same_provider"] = provider is trace.get_tracer_provider().provider
        # Logfire's proxy given explicitly: the same SDK provider, no TypeError.
        out["explicit"] = spanline.otel.install(trace.get_tracer_provider()) is provider
    import contextlib
    outer = contextlib.nullcontext()
    if os.environ["MODE"] == "spanline":
        outer = spanline.span("outer")  # Logfire's spans opened inside a spanline span
    with outer:
        with logfire.span("Agent run: {name!r}", name="lead"):
            with logfire.span("Fetching {url}", url="/a"):
                logfire.info("inside {n}", n=1)
    if os.environ["MODE"] == "spanline":
        spanline.shutdown()
        out["spanline"] = [json.loads(line) for line in open(run.telemetry_path)]
    names = {s.context.span_id: s.name for s in exporter.get_finished_spans()}
    out["logfire"] = sorted(
        [s.name, names.get(s.parent.span_id, "?") if s.parent else "",
         {k: v for k, v in s.attributes.items() if k in ("logfire.msg", "logfire.msg_template")}]
        for s in exporter.get_finished_spans()
    )
    print(json.dumps(out, default=str))
    """
)


def _logfire(tmp_path: Path, mode: str) -> dict[str, Any]:
    result = run_python(LOGFIRE_APP.replace("sys.argv[1]", repr(str(tmp_path))), env={"MODE": mode})
    assert result.returncode == 0, result.stderr
    out: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return out


def test_install_after_logfire_records_its_spans_and_leaves_them_unchanged(
    tmp_path: Path,
) -> None:
    alone = _logfire(tmp_path / "alone", "logfire")
    beside = _logfire(tmp_path / "beside", "spanline")
    assert beside["same_provider"] is True  # attached to Logfire's SDK provider
    assert beside["explicit"] is True
    # Logfire's spans are unchanged: opened inside a spanline span, Logfire's root
    # keeps no parent (its backend never sees spanline's spans).
    assert beside["logfire"] == alone["logfire"]
    starts = [e for e in beside["spanline"] if e["event"] == "span_start"]
    # Named by Logfire's message, not its template.
    assert [e["name"] for e in starts] == ["outer", "Agent run: 'lead'", "Fetching /a", "inside 1"]
    # In the run, Logfire's root nests under the spanline span it was opened in.
    assert [e["parent"] for e in starts[:3]] == [None, starts[0]["span_id"], starts[1]["span_id"]]


#: An application's own SDK provider set globally first; install() with no argument.
OWN_PROVIDER_APP = textwrap.dedent(
    """
    import json, sys
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    import spanline, spanline.otel

    tracer = trace.get_tracer("app")  # taken at import, before any provider is set
    exporter = InMemorySpanExporter()
    own = TracerProvider()
    own.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(own)
    run = spanline.configure_observability(enabled=True, run_dir=BASE, service_name="acc")
    provider = spanline.otel.install()
    with tracer.start_as_current_span("work"):
        pass
    spanline.shutdown()
    names = [json.loads(line).get("name") for line in open(run.telemetry_path)]
    print(json.dumps({"same": provider is own, "global": trace.get_tracer_provider() is own,
                      "exported": [s.name for s in exporter.get_finished_spans()],
                      "recorded": "work" in names}))
    """
)


def test_install_attaches_to_the_applications_own_global_provider(tmp_path: Path) -> None:
    result = run_python(OWN_PROVIDER_APP.replace("BASE", repr(str(tmp_path))))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "same": True,
        "global": True,
        "exported": ["work"],
        "recorded": True,
    }


#: No provider set yet: install() says in one line why the global tracers are not
#: recorded, and what to do.
NO_PROVIDER_APP = textwrap.dedent(
    """
    import spanline, spanline.otel
    spanline.configure_observability(enabled=True, run_dir=BASE, service_name="acc")
    spanline.otel.install()
    spanline.shutdown()
    """
)


def test_install_without_any_global_provider_says_why_in_one_line(tmp_path: Path) -> None:
    result = run_python(NO_PROVIDER_APP.replace("BASE", repr(str(tmp_path))))
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "install()" in line]
    assert len(lines) == 1
    assert "no OpenTelemetry SDK provider is global yet" in lines[0]
    assert "set_global_otel=True" in lines[0]
