"""What tail, analyze and check print or write is redacted with the rules of now.

The log is written by hand, as an older spanline or another tool would have left it: a
key of a kind the rules know and a value only a user's pattern (from the environment)
knows, in an agent's name and its error message. Each command runs through the real
console script; not one byte of either secret is in what it prints or writes.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.cli._entry import spanline

KEY = "sk-ant-api03-A1b2C3d4E5f6G7h8A1b2C3d4E5f6G7h8"
TICKET = "ACME-40417755"
ENV = {"SPANLINE_REDACT_PATTERNS": r"ACME-\d{8}"}
RUN_ID = "leaky-20261207T000000-aaaaaa"


def _leaky_run(base: Path) -> Path:
    directory = base / "runs" / RUN_ID
    directory.mkdir(parents=True)
    trace = "1" * 32
    lines = [
        {"event": "run_start", "ts": 1800000000.0, "run_id": RUN_ID, "pid": 1,
         "trace_id": trace, "host": "elsewhere", "schema_version": 1, "service_name": "leaky"},
        {"event": "span_start", "span_id": "a000000000000001", "parent": None,
         "trace_id": trace, "name": f"agent {TICKET} {KEY}", "component": None,
         "kind": "agent", "ts": 1800000001.0, "attributes": {}},
        {"event": "span_end", "span_id": "a000000000000001", "status": "error",
         "duration_ms": 5.0, "tokens": 3, "tool_uses": 0, "ts": 1800000002.0,
         "attributes": {}, "error": {"type": "Boom", "message": f"failed with {KEY} {TICKET}"}},
    ]  # fmt: skip
    (directory / "telemetry.jsonl").write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    (base / "rules.yaml").write_text("no_errors: true\n")
    return directory


@pytest.mark.parametrize(
    "args",
    [
        ("tail", RUN_ID, "--plain"),
        ("tail", RUN_ID, "--json"),
        ("check", RUN_ID, "--rules", "{base}/rules.yaml"),
        ("check", RUN_ID, "--rules", "{base}/rules.yaml", "--json"),
        ("check", RUN_ID, "--rules", "{base}/rules.yaml", "--junit", "{base}/junit.xml"),
        ("analyze", RUN_ID),
        ("analyze", RUN_ID, "--json"),
    ],
    ids=" ".join,
)
def test_nothing_a_command_prints_or_writes_holds_a_secret(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    base = tmp_path / "base"
    run = _leaky_run(base)
    full = [arg.replace("{base}", str(base)) for arg in args]
    result = spanline(*full, "--dir", str(base), env=ENV)
    assert result.returncode in (0, 1), result.stderr
    written = {"stdout": result.stdout, "stderr": result.stderr}
    if args[0] == "analyze":
        written["report"] = (run / "ANALYSIS_REPORT.md").read_text()
    if "--junit" in args:
        written["junit.xml"] = (base / "junit.xml").read_text()
    assert "REDACTED" in "".join(written.values())  # the values were shown, redacted
    leaks = [name for name, text in written.items() if KEY in text or TICKET in text]
    assert leaks == [], {name: written[name][:3000] for name in leaks}
