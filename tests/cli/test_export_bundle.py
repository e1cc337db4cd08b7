"""``spanline export --format bundle``: one archive to share, secrets redacted again."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import spanline
from tests._helpers import configure, finish, run_cli

SECRET_KEY = "sk-proj-Zq8XbT4mN2vL9pR7sK3wY6hJ1cF5gD0a"
PASSWORD = "correct-horse-battery-staple-42"


def _run_with_planted_secrets(base: Path) -> spanline.Run:
    run = configure(base)
    with spanline.span("lead", kind="agent", note="fine"):
        with spanline.span("tool.fetch", kind="tool"):
            pass
    finish(run)
    # Lines and files written by other code (or before a rule existed) reach the
    # directory unredacted: plant them as such a writer would.
    line = {
        "event": "event", "name": "leak", "span_id": None, "ts": 1.0,
        "attributes": {"api_key": "plain-key-value", "text": f"use {SECRET_KEY} now"},
    }  # fmt: skip
    with run.telemetry_path.open("a") as telemetry:
        telemetry.write(json.dumps(line) + "\n")
    with run.metadata_path.open("a") as metadata:
        metadata.write(f"password: {PASSWORD}\ncli_args:\n  - --api-key={SECRET_KEY}\n")
    (run.directory / "notes.txt").write_text(f"Authorization: Bearer {SECRET_KEY}\n")
    (run.directory / "big.log").write_text("x" * 3000)
    (run.directory / "blob.bin").write_bytes(b"\x00\xff" * 10)
    return run


def _members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive, "r:gz") as tar:
        return {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


def test_bundle_redacts_secrets_again_limits_sizes_and_has_a_manifest(tmp_path: Path) -> None:
    run = _run_with_planted_secrets(tmp_path / "base")
    assert SECRET_KEY in run.telemetry_path.read_text()  # planted, unredacted
    assert PASSWORD in run.metadata_path.read_text()
    out = tmp_path / "share"
    out.mkdir()
    result = run_cli(
        "export", run.run_id, "--dir", str(tmp_path / "base"), "--format", "bundle",
        "--out", str(out), "--limit", "2KB",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    archive = out / f"{run.run_id}.tar.gz"
    assert result.stdout == f"{archive}\n"

    members = _members(archive)
    for name, data in members.items():
        assert SECRET_KEY.encode() not in data, name
        assert PASSWORD.encode() not in data, name
        assert b"plain-key-value" not in data, name
    prefix = f"{run.run_id}/"
    telemetry = members[prefix + "telemetry.jsonl"].decode().splitlines()
    leak = json.loads(telemetry[-1])
    assert leak["attributes"] == {"api_key": "[REDACTED]", "text": "use [REDACTED] now"}
    assert [json.loads(line)["event"] for line in telemetry[:-1]] == [
        json.loads(line)["event"] for line in run.telemetry_path.read_text().splitlines()[:-1]
    ]  # every line kept, in order
    assert "password: [REDACTED]" in members[prefix + "execution_metadata.yaml"].decode()

    manifest = json.loads(members[prefix + "MANIFEST.json"])
    assert manifest["run_id"] == run.run_id and manifest["limit_bytes"] == 2000
    listed = {item["path"]: item for item in manifest["files"]}
    assert set(listed) | {prefix + "MANIFEST.json"} == set(members)
    for path, item in listed.items():
        assert item["size"] == len(members[path])
        assert item["sha256"] == hashlib.sha256(members[path]).hexdigest()
    excluded = {item["path"]: item["reason"] for item in manifest["excluded"]}
    assert excluded[prefix + "big.log"] == "over the limit (3000 > 2000 bytes)"
    assert "not text" in excluded[prefix + "blob.bin"]
    assert prefix + "big.log" not in members and prefix + "blob.bin" not in members


def test_dry_run_lists_and_writes_nothing(tmp_path: Path) -> None:
    run = _run_with_planted_secrets(tmp_path / "base")
    args = ("export", "--dir", str(tmp_path / "base"), "--format", "bundle", "--dry-run")
    result = run_cli(*args, "--limit", "2000", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f"include {run.run_id}/notes.txt" in "\n".join(lines)
    assert f"exclude {run.run_id}/big.log: over the limit (3000 > 2000 bytes)" in lines
    assert list(tmp_path.glob("*.tar.gz")) == []

    as_json = run_cli(*args, "--json", cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    manifest = json.loads(as_json.stdout)
    assert {item["path"] for item in manifest["files"]} >= {f"{run.run_id}/big.log"}
    assert list(tmp_path.glob("*.tar.gz")) == []


def _files_under(directory: Path) -> set[Path]:
    return {path.relative_to(directory) for path in directory.rglob("*")}


def test_default_archive_goes_to_the_exports_folder_of_the_base(tmp_path: Path) -> None:
    run = _run_with_planted_secrets(tmp_path / "base")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    in_run = _files_under(run.directory)
    result = run_cli("export", "--dir", str(tmp_path / "base"), "--format", "bundle", cwd=cwd)
    assert result.returncode == 0, result.stderr
    archive = (tmp_path / "base" / "exports" / f"{run.run_id}.tar.gz").resolve()
    assert result.stdout == f"{archive}\n"
    assert f"{run.run_id}/big.log" in _members(archive)
    assert list(cwd.iterdir()) == []  # nothing in the current directory
    assert _files_under(run.directory) == in_run  # nothing inside the run


def test_out_says_where_and_never_inside_the_run(tmp_path: Path) -> None:
    run = _run_with_planted_secrets(tmp_path / "base")
    share = tmp_path / "share"
    share.mkdir()
    base = str(tmp_path / "base")
    result = run_cli("export", "--dir", base, "--format", "bundle", "--out", str(share))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{share / (run.run_id + '.tar.gz')}\n"
    in_run = _files_under(run.directory)
    for inside in (run.directory, run.directory / "bundle.tar.gz"):
        refused = run_cli("export", "--dir", base, "--format", "bundle", "--out", str(inside))
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.startswith("spanline: error: refusing to write ")
        assert len(refused.stderr.splitlines()) == 1
    assert _files_under(run.directory) == in_run


def test_bundle_carries_the_analysis_report(tmp_path: Path) -> None:
    run = configure(tmp_path / "base")
    with spanline.span("lead", kind="agent"):
        with spanline.span("tool.fetch", kind="tool"):
            pass
    finish(run)
    analysed = run_cli("analyze", run.run_id, "--dir", str(tmp_path / "base"))
    assert analysed.returncode == 0, analysed.stderr
    out = tmp_path / "share"
    out.mkdir()
    result = run_cli(
        "export", run.run_id, "--dir", str(tmp_path / "base"), "--format", "bundle",
        "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    members = _members(out / f"{run.run_id}.tar.gz")
    report = f"{run.run_id}/ANALYSIS_REPORT.md"
    assert members[report] == run.report_path.read_bytes()
    listed = json.loads(members[f"{run.run_id}/MANIFEST.json"])["files"]
    assert report in {item["path"] for item in listed}
