"""Every export format redacts again on the way out, with the rules of now.

The run is written with a key exempt from redaction (as an older rule set would have left
it), so its secret reaches ``telemetry.jsonl`` verbatim. ``spanline export`` runs without
that exemption, for each format it knows (a format added later is in the loop by itself),
and no byte of what it writes holds the secret.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

import spanline
from spanline import coordination
from spanline.cli._export import FORMATS
from tests._helpers import run_cli

SECRET = "Dp5Ss9Qw3Zx7"
PATTERN_SECRET = "ACME-40417755"


def _written_unredacted(base: Path) -> spanline.Run:
    run = spanline.configure_observability(
        enabled=True, run_dir=base, capture="full", redact_exempt_keys=["db_pass"]
    )
    assert run is not None
    with spanline.span(f"connect db_pass={SECRET}", kind="agent", db_pass=SECRET) as span:
        span.set_attribute("ticket", PATTERN_SECRET)
        coordination.new_answer("agent1.1", content=f"db_pass={SECRET} {PATTERN_SECRET}")
        with spanline.span("tool.query", kind="tool", db_pass=SECRET):
            pass
    spanline.shutdown()
    assert SECRET in run.telemetry_path.read_text()  # the premise: written unredacted
    return run


def _output_bytes(out: Path) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for path in out.rglob("*"):
        if path.name.endswith(".tar.gz"):
            with tarfile.open(path, "r:gz") as tar:
                for member in tar.getmembers():
                    extracted = tar.extractfile(member)
                    if extracted is not None:
                        found[f"{path.name}:{member.name}"] = extracted.read()
        elif path.is_file():
            found[path.name] = path.read_bytes()
    return found


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_export_format_redacts_with_the_current_rules(tmp_path: Path, fmt: str) -> None:
    run = _written_unredacted(tmp_path / "base")
    out = tmp_path / "out"
    out.mkdir()
    # The rules of now include the user's patterns from the environment.
    env = {"SPANLINE_REDACT_PATTERNS": r"ACME-\d{8}"}
    args = ("export", run.run_id, "--format", fmt, "--out", str(out))
    result = run_cli("--dir", str(tmp_path / "base"), *args, env=env)
    assert result.returncode == 0, result.stderr
    written = _output_bytes(out)
    assert written, result.stdout
    leaks = [name for name, data in written.items() if SECRET.encode() in data]
    leaks += [name for name, data in written.items() if PATTERN_SECRET.encode() in data]
    assert leaks == []
    assert any(b"[REDACTED]" in data for data in written.values())
    # The run itself is left as it was: the pass works on a copy.
    assert SECRET in run.telemetry_path.read_text()


def test_a_format_writing_beside_the_run_still_writes_there(tmp_path: Path) -> None:
    run = _written_unredacted(tmp_path / "base")
    result = run_cli("--dir", str(tmp_path / "base"), "export", "--format", "html")
    assert result.returncode == 0, result.stderr
    report = run.directory / "report.html"
    assert result.stdout == f"{report}\n"
    assert SECRET not in report.read_text() and "[REDACTED]" in report.read_text()
