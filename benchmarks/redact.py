"""Cost of redaction on the writer thread, against encoding the same event.

Usage::

    python benchmarks/redact.py [--repeats R] [--smoke] [--json PATH]

The writer redacts every event (``redact_event``) before it encodes it, so the
figure that matters is redaction's cost next to the encoder's. Each row times,
best of R repeats, one call on a typical payload: events as the decorators
write them (no secret: the common case), then ``redact_text`` alone on 10 KB
of prose, JSON, log lines and YAML (where the key rules' triggers ``:`` and
``=`` are frequent), and on text that holds one secret of each kind.

Ratios are against ``orjson.dumps`` of the same event (for text rows: of the
text as a JSON string). Run it against another checkout with
``PYTHONPATH=<checkout>/src`` to compare before and after a change to the rules.
``--smoke`` runs each row a few times (the test suite uses it); no timing is
asserted there. ``--entropy`` turns the high-entropy rule on first.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import platform
import random
import sys
import time
import timeit
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from spanline._capture._redact import redact_text
from spanline._capture._scrub import redact_event

#: Fake secrets, one a kind (not real credentials).
SECRETS = [
    "sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56",
    "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
    "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----",
    "Authorization: Basic dXNlcjpodW50ZXIy",
    "password: hunter2",
    "--password hunter2",
    "redis://:pw@cache:6379",
    "AccountKey=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdo==;",
    "eyAiYWxnIjogIkhTMjU2IiB9.eyAic3ViIjogIjEyMzQ1In0.SflKxwRJSMeKKF2QT4fw",
    "AKIAIOSFODNN7QWERTYU,wJalrXUtnFEMI/K7MDENG/bPxRfiCY9xAMPLEKEy",
    "hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567",
    "gsk_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v2",
    "glpat-Ab1Cd2Ef3Gh4Ij5Kl6Mn",
    "GOCSPX-Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9",
    "Ocp-Apim-Subscription-Key: 0123456789abcdef0123456789abcdef",
    "https://a.blob.core.windows.net/c?sv=2021&sig=AbCd1234EfGh5678%2B",
    "db_pass='Hn7qWz2'",
]
WORDS = [
    "the",
    "model",
    "returned",
    "a",
    "long",
    "answer",
    "about",
    "the",
    "tool",
    "output",
    "and",
    "its",
    "next",
    "step",
]


def _text(kind: str, size: int, seed: int = 0) -> str:
    """About ``size`` characters of secret-free text of one kind."""
    rng = random.Random(seed)
    out: list[str] = []
    length = 0
    while length < size:
        words = " ".join(rng.choice(WORDS) for _ in range(8))
        if kind == "json":
            piece = orjson.dumps({"role": "user", "content": words, "n": rng.randint(0, 99)})
            out.append(piece.decode())
        elif kind == "log":
            out.append(f"2026-12-01 17:00:{rng.randint(10, 59)} INFO worker: {words}\n")
        elif kind == "yaml":
            out.append(f"step_{rng.randint(0, 99)}:\n  note: {words}\n  max_tokens: 256\n")
        else:
            out.append(words + ". ")
        length += len(out[-1])
    return "".join(out)


def _events() -> dict[str, dict[str, Any]]:
    end = {"event": "span_end", "span_id": "00000000000000a1", "status": "ok"}
    end |= {"duration_ms": 12.5, "tokens": 0, "tool_uses": 0, "ts": 1.0, "attributes": {}}
    tool = {"event": "span_start", "span_id": "00000000000000a2", "parent": "00000000000000a1"}
    tool |= {"trace_id": "0" * 32, "name": "tool.read_file", "component": None, "kind": "tool"}
    tool |= {"ts": 1.0, "attributes": {"tool.name": "read_file", "gen_ai.agent.id": "agent_a"}}
    tool["attributes"]["tool.arguments_preview"] = "{'path': 'src/app/main.py', 'limit': 200}"
    llm = dict(end, tokens=1500)
    llm["attributes"] = {
        "gen_ai.usage.input_tokens": 1200,
        "gen_ai.usage.output_tokens": 300,
        "gen_ai.response.model": "claude-sonnet-4",
        "llm.output_preview": _text("prose", 200)[:200],
    }
    full = dict(end, tokens=1500)
    messages = [{"role": "user", "content": _text("prose", 1000, seed)} for seed in range(8)]
    full["attributes"] = {"input.value": {"messages": messages}, "gen_ai.usage.input_tokens": 9}
    return {
        "span_end, no attributes": end,
        "tool span_start, previews": tool,
        "llm span_end, usage + preview": llm,
        "llm span_end, 8 KB full capture": full,
    }


def _texts() -> dict[str, str]:
    texts = {f"text: 10 KB {kind}": _text(kind, 10_000) for kind in ("prose", "json", "log")}
    texts["text: 10 KB yaml"] = _text("yaml", 10_000)
    texts["text: 10 KB + one secret a kind"] = _text("prose", 10_000) + " ".join(SECRETS)
    return texts


def _best(call: Callable[[], object], number: int, repeats: int) -> float:
    """Best CPU time of one call in seconds: CPU time leaves out the time the process waits
    for a core on a shared machine, and the minimum is the least disturbed repeat."""
    times = timeit.repeat(call, number=number, repeat=repeats, timer=time.process_time)
    return min(times) / number


def _redact_next(events: Iterator[dict[str, Any]]) -> object:
    return redact_event(next(events))


def measure(repeats: int, number: int) -> list[dict[str, Any]]:
    """One row per payload: redaction and encoding times in microseconds, and their ratio."""
    rows: list[dict[str, Any]] = []
    for name, event in _events().items():
        # redact_event may update its argument in place: each call gets a fresh copy.
        copies = iter([copy.deepcopy(event) for _ in range(number * repeats)])
        redact_s = _best(functools.partial(_redact_next, copies), number, repeats)
        encode_s = _best(functools.partial(orjson.dumps, event), number, repeats)
        rows.append(_row(name, redact_s, encode_s))
    for name, text in _texts().items():
        redact_s = _best(functools.partial(redact_text, text), number, repeats)
        encode_s = _best(functools.partial(orjson.dumps, text), number, repeats)
        rows.append(_row(name, redact_s, encode_s))
    rows += _split_rows(repeats, number)
    return rows


#: A tool call's arguments: four adjacent strings, none of them half of a secret.
_CALL = (
    ("find the weather in Paris for tomorrow", "gpt-4o", "https://api.example.invalid/v1/chat"),
    {"temperature": 0.2, "system": "You are a helpful assistant."},
)


def _split_rows(repeats: int, number: int) -> list[dict[str, Any]]:
    """The split-secret check of one traced call, against encoding its arguments (on the
    caller's thread; a checkout from before the check has no such row)."""
    try:
        from spanline._capture._split import hide_split_secrets
    except ImportError:
        return []
    split_s = _best(functools.partial(hide_split_secrets, *_CALL), number, repeats)
    encode_s = _best(functools.partial(orjson.dumps, _CALL), number, repeats)
    return [_row("call: split-secret check, 4 strings", split_s, encode_s)]


def _row(name: str, redact_s: float, encode_s: float) -> dict[str, Any]:
    return {
        "name": name,
        "redact_us": redact_s * 1e6,
        "encode_us": encode_s * 1e6,
        "ratio": redact_s / encode_s if encode_s else None,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=7, help="repeats, best kept (default 7)")
    parser.add_argument("--number", type=int, default=2000, help="calls per repeat (default 2000)")
    parser.add_argument("--smoke", action="store_true", help="a few calls, once (for tests)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument(
        "--entropy", action="store_true", help="with the high-entropy rule on (off by default)"
    )
    args = parser.parse_args(argv)
    if args.entropy:  # a checkout from before the setting existed has no such rule
        from spanline._capture._redact import configure_redaction

        configure_redaction((), frozenset(), entropy=True)
    repeats, number = (1, 3) if args.smoke else (args.repeats, args.number)
    if min(repeats, number) < 1:
        parser.error("--repeats and --number must be at least 1")
    rows = measure(repeats, number)
    python = platform.python_version()
    print(f"redaction on the writer, CPU time, best of {repeats} x {number} calls, Python {python}")
    print(f"{'payload':36} {'redact us':>10} {'encode us':>10} {'vs encode':>10}")
    for row in rows:
        ratio = f"{row['ratio']:.2f}x" if row["ratio"] is not None else "-"
        print(f"{row['name']:36} {row['redact_us']:10.2f} {row['encode_us']:10.2f} {ratio:>10}")
    if args.json is not None:
        document = {"python": platform.python_version(), "repeats": repeats, "number": number}
        args.json.write_text(json.dumps({**document, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
