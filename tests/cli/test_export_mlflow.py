"""``spanline export --format mlflow``: loaded by the real mlflow-tracing, checked with jq."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import spanline
from spanline.folds.mlflow import mlflow_trace
from tests._helpers import EXAMPLE, configure, finish, run_cli, run_interpreter

#: The mlflow-tracing the export is checked against (its own venv, never the project's).
MLFLOW_TRACING = "3.17.2"
CACHE = Path.home() / ".cache" / "spanline-tests" / f"mlflow-tracing-{MLFLOW_TRACING}"

#: The "Quick Health Check" jq filter for MLflow trace JSON, verbatim.
HEALTH_CHECK = """{
state: .info.state,
span_count: (.data.spans | length),
error_spans: [.data.spans[] | select(.status.code == "STATUS_CODE_ERROR") | .name],
assessment_errors: [.info.assessments[] | select(.feedback.error) | .assessment_name]
}"""
ROOTS = "[.data.spans[] | select(.parent_span_id == null) | .name]"

_LOAD = """
import json, sys
from mlflow.entities import Trace
trace = Trace.from_dict(json.load(open(sys.argv[1])))
print(json.dumps({
    "trace_id": trace.info.trace_id,
    "state": str(trace.info.state),
    "execution_duration": trace.info.execution_duration,
    "assessments": [
        {"name": a.name, "value": a.value, "rationale": a.rationale, "span_id": a.span_id,
         "source": a.source.source_type, "error": a.error_message}
        for a in trace.info.assessments
    ],
    "spans": [
        {"span_id": s.span_id, "parent_id": s.parent_id, "name": s.name,
         "status": s.status.status_code.value, "message": s.status.description,
         "type": s.span_type, "trace_id": s.trace_id, "inputs": s.inputs, "outputs": s.outputs}
        for s in trace.data.spans
    ],
}))
"""


@pytest.fixture(scope="session")
def mlflow_python() -> Path:
    """A venv with mlflow-tracing, made once under ~/.cache (about 45 s, 110 MB)."""
    python = CACHE / "bin" / "python"
    done = CACHE / ".spanline-complete"
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    # One maker at a time: the suite's other worker (or another checkout) may be making it.
    with (CACHE.parent / f"{CACHE.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():  # absent or half-made (an interrupted install): build afresh
            shutil.rmtree(CACHE, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(CACHE)], check=True, timeout=300)
            install = [str(CACHE / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"]
            subprocess.run(
                [*install, f"mlflow-tracing=={MLFLOW_TRACING}"],
                check=True,
                timeout=900,
                capture_output=True,
            )
            done.write_text(MLFLOW_TRACING)
    return python


def load_with_mlflow(python: Path, path: Path) -> dict[str, Any]:
    result = subprocess.run(
        [str(python), "-c", _LOAD, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(path.parent)},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def jq(program: str, path: Path) -> Any:
    assert shutil.which("jq"), "jq is missing: scripts/test.sh installs it"
    result = subprocess.run(
        ["jq", program, str(path)], capture_output=True, text=True, check=True, timeout=60
    )
    return json.loads(result.stdout)


def _b64(hex_id: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_id)).decode()


# --- the fold, pure -------------------------------------------------------------------------

EVENTS = [
    {"event": "run_start", "run_id": "r-1", "trace_id": "0af7651916cd43dd8448eb211c80319c",
     "ts": 10.0, "query": "q"},
    {"event": "span_start", "span_id": "00000000000000a1", "parent": None, "name": "lead",
     "kind": "agent", "ts": 10.0, "attributes": {"input.value": {"task": "x"}}},
    {"event": "span_start", "span_id": "00000000000000b2", "parent": "00000000000000a1",
     "name": "tool.read", "kind": "tool", "ts": 10.5,
     "attributes": {"tool.arguments_preview": "{'path': 'a'}"}},
    {"event": "span_end", "span_id": "00000000000000b2", "status": "error", "duration_ms": 100.0,
     "tokens": 0, "tool_uses": 1, "ts": 10.6, "attributes": {},
     "error": {"type": "OSError", "message": "gone"}},
    {"event": "event", "name": "vote", "span_id": "00000000000000a1", "ts": 10.7,
     "attributes": {"voted_for": "b", "counts": {"b": 1}}},
    {"event": "span_end", "span_id": "00000000000000a1", "status": "ok", "duration_ms": 1000.0,
     "tokens": 5, "tool_uses": 0, "ts": 11.0, "attributes": {"output.value": "done"}},
    {"event": "span_start", "span_id": "00000000000000c3", "parent": None, "name": "llm.call",
     "kind": "llm", "ts": 11.0, "attributes": {}},
]  # fmt: skip


def test_fold_shape_ids_status_types_and_synthetic_root() -> None:
    trace = mlflow_trace(EVENTS)
    info, spans = trace["info"], trace["data"]["spans"]
    assert info["trace_id"] == "tr-0af7651916cd43dd8448eb211c80319c"
    assert info["assessments"] == [] and info["state"] == "IN_PROGRESS"
    assert info["request_time"] == "1970-01-01T00:00:10.000Z"
    assert info["execution_duration_ms"] == info["execution_duration"] == 1000
    by_name = {span["name"]: span for span in spans}
    root = by_name["r-1"]  # two roots: a synthetic root named after the run parents them
    assert [s["name"] for s in spans if s["parent_span_id"] is None] == ["r-1"]
    assert root["attributes"]["spanline.synthetic_root"] == "true"
    assert by_name["lead"]["parent_span_id"] == root["span_id"]
    assert by_name["llm.call"]["parent_span_id"] == root["span_id"]
    assert by_name["tool.read"]["parent_span_id"] == _b64("00000000000000a1")
    assert by_name["lead"]["span_id"] == _b64("00000000000000a1")
    assert by_name["lead"]["trace_id"] == _b64("0af7651916cd43dd8448eb211c80319c")
    assert {s["name"]: s["status"]["code"] for s in spans} == {
        "r-1": "STATUS_CODE_UNSET",
        "lead": "STATUS_CODE_OK",
        "tool.read": "STATUS_CODE_ERROR",
        "llm.call": "STATUS_CODE_UNSET",
    }
    assert by_name["tool.read"]["status"]["message"] == "OSError: gone"
    types = {s["name"]: json.loads(s["attributes"]["mlflow.spanType"]) for s in spans}
    assert types == {"r-1": "CHAIN", "lead": "AGENT", "tool.read": "TOOL", "llm.call": "LLM"}
    for span in spans:  # every attribute is JSON text, as MLflow stores them
        assert json.loads(span["attributes"]["mlflow.traceRequestId"]) == info["trace_id"]
    lead = by_name["lead"]["attributes"]
    assert json.loads(lead["mlflow.spanInputs"]) == {"task": "x"}
    assert json.loads(lead["mlflow.spanOutputs"]) == "done"
    assert json.loads(by_name["tool.read"]["attributes"]["mlflow.spanInputs"]) == "{'path': 'a'}"
    assert by_name["lead"]["start_time_unix_nano"] == 10_000_000_000
    assert by_name["lead"]["end_time_unix_nano"] == 11_000_000_000
    assert by_name["llm.call"]["end_time_unix_nano"] is None
    [vote] = by_name["lead"]["events"]
    assert vote["name"] == "vote" and vote["attributes"] == {"voted_for": "b", "counts": '{"b":1}'}


def test_fold_is_the_same_in_any_chunking() -> None:
    from spanline.folds.mlflow import MlflowFold

    fold = MlflowFold()
    for event in EVENTS:
        fold.add(event)
    assert fold.result() == mlflow_trace(EVENTS)


# --- the real package and the real jq -------------------------------------------------------


def _traced_run(tmp_path: Path) -> spanline.Run:
    run = configure(tmp_path)

    @spanline.traced_tool
    def lookup(key: str) -> str:
        if key == "bad":
            raise KeyError(key)
        return key.upper()

    @spanline.traced_agent(name="researcher")
    def research(question: str) -> str:
        with pytest.raises(KeyError):
            lookup("bad")
        return lookup(question)

    with spanline.span("plan", kind="phase") as phase:
        research("why")
        spanline.assess("relevance", 0.75, rationale="on topic", span=phase)
        spanline.assess("judge", None, source="LLM_JUDGE", source_id="m", error="timed out")
    with spanline.span("second-root"):
        spanline.event("note", text="hello")
    spanline.assess("correct", True, source="HUMAN")
    finish(run)
    return run


def test_export_loads_in_mlflow_with_every_span_id_parent_and_status(
    tmp_path: Path, mlflow_python: Path
) -> None:
    run = _traced_run(tmp_path / "base")
    out = tmp_path / "trace.json"
    result = run_cli(
        "export", "--dir", str(tmp_path / "base"), "--format", "mlflow", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    loaded = load_with_mlflow(mlflow_python, out)

    starts = {}
    ends = {}
    for line in run.telemetry_path.read_text().splitlines():
        event = json.loads(line)
        if event["event"] == "span_start":
            starts[event["span_id"]] = event
        elif event["event"] == "span_end":
            ends[event["span_id"]] = event
    spans = {span["span_id"]: span for span in loaded["spans"]}
    [root] = [span for span in loaded["spans"] if span["parent_id"] is None]
    assert root["name"] == run.run_id  # two root spans: a synthetic root
    assert set(spans) == set(starts) | {root["span_id"]}
    for span_id, start in starts.items():
        span = spans[span_id]
        assert span["name"] == start["name"]
        assert span["parent_id"] == (start["parent"] or root["span_id"])
        assert span["status"] == {"ok": "OK", "error": "ERROR"}[ends[span_id]["status"]]
        assert span["trace_id"] == loaded["trace_id"] == f"tr-{start['trace_id']}"
    by_name = {span["name"]: span for span in loaded["spans"]}
    assert by_name["researcher"]["type"] == "AGENT"
    assert by_name["tool.lookup"]["type"] == "TOOL"
    assert by_name["plan"]["type"] == "CHAIN"
    # Default capture keeps previews (short redacted text): they are the inputs and outputs.
    assert by_name["researcher"]["inputs"] == "{'question': 'why'}"
    assert "WHY" in by_name["researcher"]["outputs"]
    failed = [span for span in loaded["spans"] if span["status"] == "ERROR"]
    assert [span["name"] for span in failed] == ["tool.lookup"]
    assert "KeyError" in failed[0]["message"]
    assessments = {a["name"]: a for a in loaded["assessments"]}
    assert assessments["relevance"] == {
        "name": "relevance", "value": 0.75, "rationale": "on topic", "source": "CODE",
        "span_id": by_name["plan"]["span_id"], "error": None,
    }  # fmt: skip
    assert assessments["judge"]["source"] == "LLM_JUDGE"
    assert assessments["judge"]["error"] == "timed out"
    assert assessments["correct"]["value"] is True and assessments["correct"]["span_id"] is None
    assert jq(HEALTH_CHECK, out)["assessment_errors"] == ["judge"]


def test_reference_health_check_on_a_failed_example_run(
    tmp_path: Path, mlflow_python: Path
) -> None:
    base = tmp_path / "base"
    result = run_interpreter(
        str(EXAMPLE), "--speed", "50", "--fail", env={"SPANLINE_DIR": str(base)}, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    out = tmp_path / "trace.json"
    result = run_cli("export", "--dir", str(base), "--format", "mlflow", "--out", str(out))
    assert result.returncode == 0, result.stderr

    run_dir = (base / "runs" / "latest").resolve()
    failed_names = []
    starts = {}
    for line in (run_dir / "telemetry.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event["event"] == "span_start":
            starts[event["span_id"]] = event["name"]
        elif event["event"] == "span_end" and event["status"] == "error":
            failed_names.append(starts[event["span_id"]])
    assert len(failed_names) == 1  # --fail: exactly one agent raises

    health = jq(HEALTH_CHECK, out)
    assert health["error_spans"] == failed_names
    assert health["state"] == "OK"  # the orchestrator caught it: the run itself completed
    assert health["span_count"] == len(starts)
    assert health["assessment_errors"] == []
    assert jq(ROOTS, out) == ["eigenda-analysis"]
    loaded = load_with_mlflow(mlflow_python, out)
    assert len(loaded["spans"]) == len(starts)
    assert [s["name"] for s in loaded["spans"] if s["status"] == "ERROR"] == failed_names


def test_export_to_stdout_pipes_into_jq(tmp_path: Path) -> None:
    _traced_run(tmp_path / "base")
    result = run_cli("export", "--dir", str(tmp_path / "base"), "--format", "mlflow", "--out", "-")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["info"]["assessments"]


def test_default_out_is_in_the_run_directory(tmp_path: Path) -> None:
    run = _traced_run(tmp_path / "base")
    result = run_cli("export", "latest", "--format", "mlflow", "--dir", str(tmp_path / "base"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(run.directory / "mlflow_trace.json")


@pytest.mark.parametrize(
    "args",
    [
        ("--format", "otlp-xml"),
        ("--format", "mlflow", "--limit", "1KB"),
        ("--format", "mlflow", "--dry-run"),
        ("--format", "bundle", "--limit", "lots"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    _traced_run(tmp_path / "base")
    result = run_cli("export", "--dir", str(tmp_path / "base"), *args)
    assert result.returncode == 2
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_massgen_is_dispatched_by_name(tmp_path: Path) -> None:
    _traced_run(tmp_path / "base")
    out = tmp_path / "massgen"
    result = run_cli(
        "export", "--dir", str(tmp_path / "base"), "--format", "massgen", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    written = {path.name for path in out.iterdir()}
    assert {"coordination_events.json", "coordination_table.txt"} <= written
    assert "vote.json" not in written  # nobody voted in this run


def test_a_missing_run_is_one_line(tmp_path: Path) -> None:
    result = run_cli("export", "--dir", str(tmp_path), "--format", "mlflow")
    assert result.returncode != 0
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
