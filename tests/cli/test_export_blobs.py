"""Values stored out of line on the way out: the bundle, the archive and the exports redact
each blob again with the rules of now, rename it by its new hash and rewrite the log's
references; the bundle leaves out blobs over --limit."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
import zstandard

import spanline
from spanline.schema import BLOB_REF
from tests._helpers import configure, finish, run_cli

#: Not a secret by the built-in rules: a rule added after the run names it.
TOKEN = "acme-0123456789abcdef01234567"
RULES = {"SPANLINE_REDACT_PATTERNS": r"acme-[0-9a-f]{24}"}


def _ref(events: list[dict[str, Any]], name: str) -> dict[str, Any]:
    ends = {e["span_id"]: e for e in events if e["event"] == "span_end"}
    for event in events:
        if event["event"] == "span_start" and event["name"] == name:
            ref: dict[str, Any] = ends[event["span_id"]]["attributes"]["output.value"][BLOB_REF]
            return ref
    raise AssertionError(name)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    run = configure(tmp_path / "base", synchronous=True, capture="full", blob_threshold=1024)

    @spanline.traced_tool(name="small")
    def small() -> str:
        return ("text with " + TOKEN + " inside\n") * 100

    @spanline.traced_tool(name="large")
    def large() -> str:
        return "z" * 2_000_000

    small()
    large()
    _, events = finish(run)
    assert TOKEN in _content(
        run.directory / "blobs" / f"{_ref(events, 'tool.small')['sha256']}.zst"
    )
    return run.directory


def _content(path: Path) -> str:
    return zstandard.ZstdDecompressor().decompress(path.read_bytes()).decode()


def _log_refs(text: str, name: str) -> dict[str, Any]:
    return _ref([json.loads(line) for line in text.splitlines() if line], name)


def test_the_bundle_redacts_renames_and_limits_blobs(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "bundle.tar.gz"
    result = run_cli(
        "export", str(run_dir), "--format", "bundle", "--limit", "100KB", "--out", str(out),
        env=RULES,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    with tarfile.open(out) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    prefix = run_dir.name + "/"
    ref = _log_refs(files[prefix + "telemetry.jsonl"].decode(), "tool.small")
    stored = files[f"{prefix}blobs/{ref['sha256']}.zst"]
    content = zstandard.ZstdDecompressor().decompress(stored)
    assert TOKEN.encode() not in content and b"[REDACTED]" in content
    assert hashlib.sha256(content).hexdigest() == ref["sha256"] and len(content) == ref["size"]
    manifest = json.loads(files[prefix + "MANIFEST.json"])
    large = _log_refs(files[prefix + "telemetry.jsonl"].decode(), "tool.large")
    excluded = {item["path"]: item["reason"] for item in manifest["excluded"]}
    assert "over the limit" in excluded[f"{prefix}blobs/{large['sha256']}.zst"]
    assert not any(name.endswith(large["sha256"] + ".zst") for name in files)


def test_archive_push_redacts_blobs_the_same_way(run_dir: Path, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    result = run_cli("archive", "push", str(run_dir), "--to", str(archive), env=RULES)
    assert result.returncode == 0, result.stderr
    pushed = archive / "runs" / run_dir.name
    ref = _log_refs((pushed / "telemetry.jsonl").read_text(), "tool.small")
    content = _content(pushed / "blobs" / f"{ref['sha256']}.zst")
    assert TOKEN not in content and "[REDACTED]" in content
    assert hashlib.sha256(content.encode()).hexdigest() == ref["sha256"]
    sql = (
        "SELECT blob_sha256(attributes, 'output.value') AS h FROM records "
        "WHERE span_name = 'tool.small'"
    )
    query = run_cli("query", "--archive", str(archive), sql, "--json")
    assert query.returncode == 0, query.stderr
    assert json.loads(query.stdout) == [{"h": ref["sha256"]}]


def test_exports_carry_the_reference_as_an_attribute(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "otlp.json"
    result = run_cli("export", str(run_dir), "--format", "otlp-json", "--out", str(out), env=RULES)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert TOKEN not in text
    spans = [
        span
        for resource in json.loads(text)["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    ]
    (tool,) = [s for s in spans if s["name"] == "tool.small"]
    value = next(a["value"] for a in tool["attributes"] if a["key"] == "output.value")
    reference = json.loads(value["stringValue"])[BLOB_REF]
    assert len(reference["sha256"]) == 64 and reference["size"] > 1024
    mlflow = run_cli("export", str(run_dir), "--format", "mlflow", "--out", "-", env=RULES)
    assert mlflow.returncode == 0, mlflow.stderr
    assert reference["sha256"] in mlflow.stdout and TOKEN not in mlflow.stdout


def test_a_corrupt_blob_stops_the_bundle(run_dir: Path, tmp_path: Path) -> None:
    for path in (run_dir / "blobs").iterdir():
        path.write_bytes(b"\x28\xb5\x2f\xfd garbage")
    result = run_cli("export", str(run_dir), "--format", "bundle", "--out", str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "corrupt" in result.stderr
