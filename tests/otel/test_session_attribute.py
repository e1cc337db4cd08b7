"""Exports carry the session: every span sent over OTLP and to Logfire has the
``session.id`` attribute, the one those backends group traces by (a span opened
under ``spanline.session(id)`` has its own)."""

from __future__ import annotations

from pathlib import Path

import pytest

import spanline
from tests._helpers import configure
from tests.otel._receiver import receiver
from tests.otel.test_logfire import _logfire_env, attrs, of_type
from tests.otel.test_otlp_exporter import _otlp_env


@pytest.mark.parametrize("destination", ["otlp", "logfire"])
def test_every_exported_span_carries_its_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, destination: str
) -> None:
    with receiver() as rx:
        if destination == "otlp":
            _otlp_env(monkeypatch, rx.endpoint)
            configure(tmp_path, exporters=["otlp"], session_id="conv-7")
        else:
            _logfire_env(monkeypatch, rx)
            configure(tmp_path, logfire=True, session_id="conv-7")
        with spanline.span("turn"):
            with spanline.span("llm.call"):
                pass
            with spanline.session("side-chat"), spanline.span("aside"):
                pass
        spanline.shutdown()
        rx.wait_for(3)
    spans = rx.spans if destination == "otlp" else of_type(rx.spans, "span")
    sessions = {span.name: attrs(span)["session.id"] for span in spans}
    assert sessions == {"turn": "conv-7", "llm.call": "conv-7", "aside": "side-chat"}
    conversations = {span.name: attrs(span)["gen_ai.conversation.id"] for span in spans}
    assert conversations == sessions
