"""A loopback LLM server that plays a lead agent and a researcher for agent frameworks.

The frameworks under test talk to it over HTTP exactly as they talk to their
providers: OpenAI's Chat Completions (plain and streamed) and Responses APIs, and
Gemini's ``generateContent``. Every answer follows one script, whatever the
framework:

- a request that offers ``word_count`` and has not had its result yet calls it;
- otherwise a request whose last message is the result of a tool it offers gets a
  final text answer (the agent is done);
- otherwise a request that offers tools calls the first of them (the lead
  delegating: an agent-as-tool, a handoff, a transfer or a coworker);
- a request with no tools gets a text answer.

Tool arguments are made from each tool's JSON schema, so the same script drives
``as_tool``, handoffs, ``AgentTool``, ``transfer_to_agent`` and CrewAI's delegation.
A request that offers ``word_count`` is the researcher's; any other is the lead's.
Each answer carries :data:`USAGE` and a response id of its own, and the server keeps
what it answered (:class:`Answer`), so tests compare against what it sent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.instrument._providers import serving

#: Tokens of every answer: four calls make 1,100 tokens, the researcher's two 550.
USAGE = {"input": 200, "output": 75}
TOOL = "word_count"
SUB_AGENT = "researcher"
FINAL_TEXT = {"lead": "The researcher counted the words.", "researcher": "There are 4 words."}


@dataclass(frozen=True)
class Answer:
    """One answer the server sent: which API, whose turn, what it did, its response id."""

    api: str
    role: str  # "lead" or "researcher"
    action: str  # the tool it called, or "text"
    response_id: str
    tokens: int = USAGE["input"] + USAGE["output"]


@dataclass(frozen=True)
class _Turn:
    """A request reduced to what the script needs, whichever API it came through."""

    tools: list[tuple[str, dict[str, Any]]]  # (name, JSON schema of the arguments)
    results: list[str]  # names of the tools whose results the conversation holds
    last_is_result_of: str | None  # the tool whose result is the last message, if any


def _argument(name: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if "enum" in schema:
        wanted = [value for value in schema["enum"] if str(value).lower() == SUB_AGENT]
        return wanted[0] if wanted else schema["enum"][0]
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return {}
    if name.lower() in {"coworker", "agent_name", "agent"}:
        return SUB_AGENT
    return "the quick brown fox"


def arguments(schema: dict[str, Any]) -> dict[str, Any]:
    """Arguments that satisfy ``schema``: every property, a plausible value each."""
    properties = schema.get("properties") or {}
    return {name: _argument(name, spec or {}) for name, spec in properties.items()}


def _chat_turn(body: dict[str, Any]) -> _Turn:
    tools = [
        (tool["function"]["name"], tool["function"].get("parameters") or {})
        for tool in body.get("tools") or []
        if tool.get("type") == "function"
    ]
    called: dict[str, str] = {}
    results: list[str] = []
    last: str | None = None
    for message in body.get("messages") or []:
        for call in message.get("tool_calls") or []:
            called[call["id"]] = call["function"]["name"]
        last = None
        if message.get("role") == "tool":
            last = called.get(message.get("tool_call_id", ""), "")
            results.append(last)
    return _Turn(tools, results, last)


def _responses_turn(body: dict[str, Any]) -> _Turn:
    tools = [
        (tool["name"], tool.get("parameters") or {})
        for tool in body.get("tools") or []
        if tool.get("type") == "function"
    ]
    items = body.get("input")
    called: dict[str, str] = {}
    results: list[str] = []
    last: str | None = None
    for item in items if isinstance(items, list) else []:
        if item.get("type") == "function_call":
            called[item["call_id"]] = item["name"]
        last = None
        if item.get("type") == "function_call_output":
            last = called.get(item.get("call_id", ""), "")
            results.append(last)
    return _Turn(tools, results, last)


def _gemini_turn(body: dict[str, Any]) -> _Turn:
    tools = [
        (declaration["name"], _gemini_schema(declaration))
        for tool in body.get("tools") or []
        for declaration in tool.get("functionDeclarations") or []
    ]
    results: list[str] = []
    last: str | None = None
    for content in body.get("contents") or []:
        for part in content.get("parts") or []:
            last = None
            if "functionResponse" in part:
                last = part["functionResponse"].get("name", "")
                results.append(last)
    return _Turn(tools, results, last)


def _gemini_schema(declaration: dict[str, Any]) -> dict[str, Any]:
    # Gemini spells types in capitals (STRING, OBJECT) and may send JSON schema instead.
    schema = (
        declaration.get("parameters")
        or declaration.get("parametersJsonSchema")
        or declaration.get("parameters_json_schema")  # as google-genai 2.x sends it
        or {}
    )
    properties = {
        name: {**spec, "type": str(spec.get("type", "string")).lower()}
        for name, spec in (schema.get("properties") or {}).items()
    }
    return {"properties": properties}


def decide(turn: _Turn) -> tuple[str, str, dict[str, Any] | None]:
    """The script: ``(role, action, arguments)``; action is a tool name or ``"text"``."""
    offered = dict(turn.tools)
    role = SUB_AGENT if TOOL in offered else "lead"
    if TOOL in offered and TOOL not in turn.results:
        return role, TOOL, {"text": "the quick brown fox"}
    if turn.last_is_result_of is not None and turn.last_is_result_of in offered:
        return role, "text", None
    if turn.tools:
        name, schema = turn.tools[0]
        return role, name, arguments(schema)
    return role, "text", None


def _chat_answer(body: dict[str, Any], rid: str, role: str, action: str, args: Any) -> Any:
    message: dict[str, Any] = {"role": "assistant", "content": None}
    finish = "tool_calls"
    if action == "text":
        message["content"], finish = FINAL_TEXT[role], "stop"
    else:
        function = {"name": action, "arguments": json.dumps(args)}
        message["tool_calls"] = [{"id": f"call_{rid}", "type": "function", "function": function}]
    usage = {
        "prompt_tokens": USAGE["input"],
        "completion_tokens": USAGE["output"],
        "total_tokens": USAGE["input"] + USAGE["output"],
    }
    return {
        "id": rid,
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": body.get("model", "gpt-test"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage,
    }


def _chat_stream(answer: dict[str, Any]) -> Iterator[bytes]:
    """The same answer as Chat Completions chunks; usage in a last chunk with no choices."""
    message = answer["choices"][0]["message"]
    base = {key: answer[key] for key in ("id", "created", "model")}
    base["object"] = "chat.completion.chunk"

    def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
        choices = [{"index": 0, "delta": delta, "finish_reason": finish}]
        return f"data: {json.dumps({**base, 'choices': choices})}\n\n".encode()

    yield chunk({"role": "assistant", "content": ""}, None)
    if message.get("content"):
        yield chunk({"content": message["content"]}, None)
    for index, call in enumerate(message.get("tool_calls") or []):
        yield chunk({"tool_calls": [{"index": index, **call}]}, None)
    yield chunk({}, answer["choices"][0]["finish_reason"])
    yield f"data: {json.dumps({**base, 'choices': [], 'usage': answer['usage']})}\n\n".encode()
    yield b"data: [DONE]\n\n"


def _responses_answer(body: dict[str, Any], rid: str, role: str, action: str, args: Any) -> Any:
    if action == "text":
        content = [{"type": "output_text", "text": FINAL_TEXT[role], "annotations": []}]
        output: dict[str, Any] = {
            "type": "message",
            "id": f"msg_{rid}",
            "status": "completed",
            "role": "assistant",
            "content": content,
        }
    else:
        output = {
            "type": "function_call",
            "id": f"fc_{rid}",
            "call_id": f"call_{rid}",
            "name": action,
            "arguments": json.dumps(args),
            "status": "completed",
        }
    return {
        "id": rid,
        "object": "response",
        "created_at": 1_700_000_000,
        "status": "completed",
        "model": body.get("model", "gpt-test"),
        "output": [output],
        "parallel_tool_calls": False,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": USAGE["input"],
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": USAGE["output"],
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": USAGE["input"] + USAGE["output"],
        },
    }


def _gemini_answer(model: str, rid: str, role: str, action: str, args: Any) -> Any:
    part: dict[str, Any] = (
        {"text": FINAL_TEXT[role]}
        if action == "text"
        else {"functionCall": {"name": action, "args": args}}
    )
    return {
        "candidates": [
            {"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}
        ],
        "modelVersion": model,
        "responseId": rid,
        "usageMetadata": {
            "promptTokenCount": USAGE["input"],
            "candidatesTokenCount": USAGE["output"],
            "totalTokenCount": USAGE["input"] + USAGE["output"],
        },
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: AgentServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output clean

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        path = self.path.split("?")[0]
        if path.endswith("/traces/ingest"):  # openai-agents' own trace exporter, kept local
            with self.server.lock:
                self.server.trace_batches += 1
            self._send("application/json", b"{}")
            return
        if path.endswith("/chat/completions"):
            api, turn = "chat", _chat_turn(body)
        elif path.endswith("/responses"):
            api, turn = "responses", _responses_turn(body)
        elif ":generateContent" in path or ":streamGenerateContent" in path:
            api, turn = "gemini", _gemini_turn(body)
        else:
            self.send_error(404)
            return
        role, action, args = decide(turn)
        rid = self.server.answered(api, role, action)
        if api == "chat":
            answer = _chat_answer(body, rid, role, action, args)
            if body.get("stream"):
                self._send("text/event-stream", b"".join(_chat_stream(answer)))
            else:
                self._send("application/json", json.dumps(answer).encode())
        elif api == "responses":
            answer = _responses_answer(body, rid, role, action, args)
            self._send("application/json", json.dumps(answer).encode())
        else:
            model = path.split("/models/")[1].split(":")[0]
            answer = _gemini_answer(model, rid, role, action, args)
            if ":streamGenerateContent" in path:
                self._send("text/event-stream", f"data: {json.dumps(answer)}\r\n\r\n".encode())
            else:
                self._send("application/json", json.dumps(answer).encode())

    def _send(self, content_type: str, data: bytes) -> None:
        self.send_response(200)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class AgentServer(ThreadingHTTPServer):
    """The loopback server; ``answers`` lists what it sent, in order."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.answers: list[Answer] = []
        self.trace_batches = 0  # batches openai-agents' own exporter posted here

    def answered(self, api: str, role: str, action: str) -> str:
        with self.lock:
            prefix = {"chat": "chatcmpl", "responses": "resp", "gemini": "gem"}[api]
            rid = f"{prefix}-{len(self.answers) + 1}"
            self.answers.append(Answer(api, role, action, rid))
            return rid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def tokens(self, role: str | None = None) -> int:
        """Tokens the server sent, all or one role's."""
        with self.lock:
            return sum(a.tokens for a in self.answers if role is None or a.role == role)


@contextmanager
def agent_server() -> Iterator[AgentServer]:
    """Serve on 127.0.0.1 (a free port) for the block; stopped and closed after it."""
    with serving(AgentServer(), "agent-server") as server:
        yield server
