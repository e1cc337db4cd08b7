"""A loopback HTTP server that answers like OpenAI, Anthropic and Gemini do.

Responses follow each provider's documented wire format: JSON bodies, and SSE
streams (OpenAI ``data:`` chunks ending in ``[DONE]``; Anthropic ``event:``/``data:``
pairs from ``message_start`` to ``message_stop``; Gemini ``alt=sse`` chunks). A
request whose model name contains ``no-usage`` gets an answer without usage, as
an OpenAI stream without ``stream_options={"include_usage": true}`` does. The
usage each answer carries is in the constants below, so tests compare against
what the server sent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

TEXT = ["Hel", "lo ", "there"]

OPENAI_USAGE = {
    "prompt_tokens": 120,
    "completion_tokens": 30,
    "total_tokens": 150,
    "prompt_tokens_details": {"cached_tokens": 20},
    "completion_tokens_details": {"reasoning_tokens": 5},
}
OPENAI_TOKENS = {"input": 120, "output": 30, "cache_read": 20, "reasoning": 5}

ANTHROPIC_USAGE = {
    "input_tokens": 100,
    "cache_read_input_tokens": 2000,
    "cache_creation_input_tokens": 500,
    "output_tokens": 300,
}
# Input includes cache reads and writes (the OpenTelemetry GenAI convention).
ANTHROPIC_TOKENS = {"input": 2600, "output": 300, "cache_read": 2000, "cache_creation": 500}

GEMINI_USAGE = {
    "promptTokenCount": 80,
    "candidatesTokenCount": 40,
    "thoughtsTokenCount": 10,
    "cachedContentTokenCount": 16,
    "totalTokenCount": 130,
}
GEMINI_TOKENS = {"input": 80, "output": 50, "cache_read": 16, "reasoning": 10}


def _openai_chat(body: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": body["model"],
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(TEXT)},
                "finish_reason": "stop",
            }
        ],
    }
    if "no-usage" not in body["model"]:
        answer["usage"] = OPENAI_USAGE
    return answer


def _openai_chat_stream(body: dict[str, Any]) -> Iterator[bytes]:
    def chunk(delta: dict[str, Any], finish: str | None, **extra: Any) -> bytes:
        data = {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": body["model"],
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(data)}\n\n".encode()

    yield chunk({"role": "assistant", "content": ""}, None)
    for text in TEXT:
        yield chunk({"content": text}, None)
    yield chunk({}, "stop")
    # Usage comes in one last chunk with no choices, only when asked for.
    if (body.get("stream_options") or {}).get("include_usage") and "no-usage" not in body["model"]:
        last = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000}
        last |= {"model": body["model"], "choices": [], "usage": OPENAI_USAGE}
        yield f"data: {json.dumps(last)}\n\n".encode()
    yield b"data: [DONE]\n\n"


def _openai_response(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1_700_000_000,
        "status": "completed",
        "model": body["model"],
        "output": [
            {
                "type": "message",
                "id": "msg_1",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "".join(TEXT), "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 120,
            "input_tokens_details": {"cached_tokens": 20},
            "output_tokens": 30,
            "output_tokens_details": {"reasoning_tokens": 5},
            "total_tokens": 150,
        },
    }


def _openai_response_stream(body: dict[str, Any]) -> Iterator[bytes]:
    """The Responses API's documented event sequence, usage in ``response.completed``."""
    done = _openai_response(body)
    message = done["output"][0]
    ids = {"item_id": message["id"], "output_index": 0}
    part = {"type": "output_text", "text": "", "annotations": []}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {**done, "status": "in_progress", "output": [],
                                                  "usage": None}},
        {"type": "response.output_item.added", "output_index": 0,
         "item": {**message, "status": "in_progress", "content": []}},
        {"type": "response.content_part.added", **ids, "content_index": 0, "part": part},
        *({"type": "response.output_text.delta", **ids, "content_index": 0, "delta": text,
           "logprobs": []} for text in TEXT),
        {"type": "response.output_text.done", **ids, "content_index": 0, "text": "".join(TEXT),
         "logprobs": []},
        {"type": "response.content_part.done", **ids, "content_index": 0,
         "part": message["content"][0]},
        {"type": "response.output_item.done", "output_index": 0, "item": message},
        {"type": "response.completed", "response": done},
    ]  # fmt: skip
    for number, event in enumerate(events):
        data = json.dumps({**event, "sequence_number": number})
        yield f"event: {event['type']}\ndata: {data}\n\n".encode()


def _anthropic_message(body: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": [{"type": "text", "text": "".join(TEXT)}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": ANTHROPIC_USAGE,
    }
    return answer


def _anthropic_stream(body: dict[str, Any]) -> Iterator[bytes]:
    def event(kind: str, data: dict[str, Any]) -> bytes:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()

    start = {**_anthropic_message(body), "content": [], "stop_reason": None}
    start["usage"] = {**ANTHROPIC_USAGE, "output_tokens": 1}
    yield event("message_start", {"message": start})
    yield event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
    yield event("ping", {})
    for text in TEXT:
        delta = {"type": "text_delta", "text": text}
        yield event("content_block_delta", {"index": 0, "delta": delta})
    yield event("content_block_stop", {"index": 0})
    # message_delta's usage is cumulative: output tokens so far.
    usage = {"output_tokens": ANTHROPIC_USAGE["output_tokens"]}
    delta = {"stop_reason": "end_turn", "stop_sequence": None}
    yield event("message_delta", {"delta": delta, "usage": usage})
    yield event("message_stop", {})


def _gemini(model: str, texts: list[str], usage: bool) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": "".join(texts)}]},
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "modelVersion": model,
        "responseId": "gem-1",
    }
    if usage and "no-usage" not in model:
        answer["usageMetadata"] = GEMINI_USAGE
    return answer


def _gemini_stream(model: str) -> Iterator[bytes]:
    for index, text in enumerate(TEXT):
        chunk = _gemini(model, [text], usage=index == len(TEXT) - 1)
        yield f"data: {json.dumps(chunk)}\r\n\r\n".encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ProviderServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output clean

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        path = self.path.split("?")[0]
        with self.server.lock:
            self.server.requests.append((path, body))
        if path.endswith("/chat/completions"):
            if body.get("stream"):
                self._sse(_openai_chat_stream(body))
            else:
                self._json(_openai_chat(body))
        elif path.endswith("/responses"):
            if body.get("stream"):
                self._sse(_openai_response_stream(body))
            else:
                self._json(_openai_response(body))
        elif path.endswith("/messages"):
            if body.get("stream"):
                self._sse(_anthropic_stream(body))
            else:
                self._json(_anthropic_message(body))
        elif ":streamGenerateContent" in path:
            self._sse(_gemini_stream(path.split("/models/")[1].split(":")[0]))
        elif ":generateContent" in path:
            self._json(_gemini(path.split("/models/")[1].split(":")[0], TEXT, usage=True))
        else:
            self.send_error(404)

    def _json(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", "req-1")
        self.end_headers()
        self.wfile.write(data)

    def _sse(self, events: Iterator[bytes]) -> None:
        data = b"".join(events)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class ProviderServer(ThreadingHTTPServer):
    """The loopback server; ``requests`` lists ``(path, body)`` in arrival order."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.requests: list[tuple[str, dict[str, Any]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


S = TypeVar("S", bound=ThreadingHTTPServer)


@contextmanager
def serving(server: S, name: str) -> Iterator[S]:
    """Serve ``server`` on a thread for the block; stopped and closed after it."""
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def provider_server() -> Iterator[ProviderServer]:
    """Serve on 127.0.0.1 (a free port) for the block; stopped and closed after it."""
    with serving(ProviderServer(), "provider-server") as server:
        yield server
