"""Large captured values stored out of line: a traced program with a 50 MB tool output and
a 5 MB LLM prompt in full capture, and every reader that reaches them."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import zstandard

import spanline
from spanline.schema import BLOB_MEDIA_JSON, BLOB_MEDIA_TEXT, BLOB_REF
from tests._helpers import configure, finish, read_lines, run_cli, run_python, validate_file

SECRET = "sk-proj-" + "Q7x9Lm2Pz4Rt8Vb1Nc6Kd3Hs5Jf0Wg" + "Ye2Ua7Io9"
TOOL_BYTES = 50 * 1024 * 1024
PROMPT_BYTES = 5 * 1024 * 1024

#: Two identical 50 MB tool outputs (stored once), a 5 MB prompt, and an agent whose own
#: output is the tool's: three spans refer to one tool blob.
PROGRAM = f"""
import spanline
run = spanline.configure_observability(enabled=True, run_dir={{base!r}}, service_name="big",
                                       capture="full")
print(run.directory, flush=True)

@spanline.traced_tool(name="fetch")
def fetch(url):
    return ("line of output " + url + "\\n") * ({TOOL_BYTES} // 17) + "key {SECRET}"

@spanline.traced_llm(model="gpt-4o")
def ask(prompt):
    return "short answer"

@spanline.traced_agent(name="reader")
def reader():
    first = fetch("a")
    second = fetch("a")
    assert first == second
    ask("p" * {PROMPT_BYTES})
    return first

reader()
spanline.shutdown()
"""


def _refs(events: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """(span id, attribute, reference) of every blob reference in the run's lines."""
    found = []
    for event in events:
        for key, value in (event.get("attributes") or {}).items():
            if isinstance(value, dict) and BLOB_REF in value:
                found.append((event["span_id"], key, value[BLOB_REF]))
    return found


def _content(path: Path) -> bytes:
    data = path.read_bytes()
    return zstandard.ZstdDecompressor().decompress(data) if path.suffix == ".zst" else data


@pytest.fixture(scope="module")
def big_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("blobs")
    result = run_python(PROGRAM.format(base=str(base)), timeout=600)
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip())


def test_lines_stay_short_and_each_value_is_stored_once(big_run: Path) -> None:
    raw = (big_run / "telemetry.jsonl").read_bytes()
    assert max(len(line) for line in raw.splitlines()) < 4096
    events = validate_file(big_run / "telemetry.jsonl")  # the reference's shape is pinned
    refs = _refs(events)
    by_name = {(span, key): ref for span, key, ref in refs}
    assert len(refs) == len(by_name) == 4  # two tool outputs, the agent's, the prompt
    digests = {ref["sha256"] for _, _, ref in refs}
    assert len(digests) == 2
    files = sorted((big_run / "blobs").iterdir())
    assert sorted(p.name.split(".")[0] for p in files) == sorted(digests)
    assert all(p.suffix == ".zst" for p in files)  # zstandard is installed here
    for path in files:
        data = _content(path)
        assert hashlib.sha256(data).hexdigest() == path.name.split(".")[0]
    sizes = {ref["size"] for _, _, ref in refs}
    assert max(sizes) > TOOL_BYTES - 1024
    media = {ref["media_type"] for _, _, ref in refs}
    assert media == {BLOB_MEDIA_TEXT, BLOB_MEDIA_JSON}  # outputs are text, arguments JSON
    # The preview stays in the line, beside the reference.
    tool_end = next(
        e
        for e in events
        if e["event"] == "span_end"
        and "output.value" in (e.get("attributes") or {})
        and "tool.output_preview" in e["attributes"]
    )
    assert tool_end["attributes"]["tool.output_preview"].startswith("line of output a")


def test_a_secret_inside_a_blob_is_redacted_in_the_blob(big_run: Path) -> None:
    contents = [_content(path) for path in (big_run / "blobs").iterdir()]
    assert not any(SECRET.encode() in data for data in contents)
    tool = max(contents, key=len)
    assert tool.endswith(b"[REDACTED]")


def test_show_prints_the_full_content_of_a_span(big_run: Path) -> None:
    events = read_lines(big_run / "telemetry.jsonl")
    span_id, _, ref = next(r for r in _refs(events) if r[1] == "output.value")
    plain = run_cli("show", str(big_run), "--span", span_id)
    assert plain.returncode == 0, plain.stderr
    assert len(plain.stdout) < 100_000  # the reference, not the value
    assert ref["sha256"] in plain.stdout
    full = run_cli("show", str(big_run), "--span", span_id, "--full")
    assert full.returncode == 0, full.stderr
    record = json.loads(full.stdout)
    value = record["end"]["attributes"]["output.value"]
    assert isinstance(value, str) and len(value.encode()) == ref["size"]
    assert hashlib.sha256(value.encode()).hexdigest() == ref["sha256"]


def test_query_reaches_the_full_content(big_run: Path) -> None:
    sql = (
        "SELECT r.span_name, b.bytes AS n, octet_length(encode(b.content)) AS m FROM records r "
        "JOIN blobs b ON b.run_id = r.run_id "
        "AND b.sha256 = blob_sha256(r.attributes, 'output.value') "
        "WHERE r.span_name = 'tool.fetch'"
    )
    result = run_cli("query", sql, str(big_run), "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["n"] for row in rows] == [rows[0]["n"]] * 2
    assert rows[0]["n"] == rows[0]["m"] > TOOL_BYTES - 1024


def test_a_corrupt_blob_is_bad_input(big_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(big_run, copy)
    events = read_lines(copy / "telemetry.jsonl")
    span_id, _, ref = next(r for r in _refs(events) if r[1] == "output.value")
    (copy / "blobs" / f"{ref['sha256']}.zst").write_bytes(b"not zstd at all")
    sql = "SELECT count(*) FROM blobs"
    for args in (("show", str(copy), "--span", span_id, "--full"), ("query", sql, str(copy))):
        result = run_cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "corrupt" in result.stderr


def test_a_missing_blob_file_shows_as_missing(big_run: Path, tmp_path: Path) -> None:
    """What a kill -9 can leave: a reference whose file was never written."""
    copy = tmp_path / "run"
    shutil.copytree(big_run, copy)
    events = read_lines(copy / "telemetry.jsonl")
    span_id, _, ref = next(r for r in _refs(events) if r[1] == "output.value")
    (copy / "blobs" / f"{ref['sha256']}.zst").unlink()
    result = run_cli("show", str(copy), "--span", span_id, "--full")
    assert result.returncode == 0, result.stderr
    value = json.loads(result.stdout)["end"]["attributes"]["output.value"]
    assert value == {BLOB_REF: ref, "missing": True}


def test_preview_capture_stores_no_blob(tmp_path: Path) -> None:
    run = configure(tmp_path, synchronous=True)

    @spanline.traced_tool(name="big")
    def big() -> str:
        return "x" * 200_000

    big()
    _, events = finish(run)
    assert not (run.directory / "blobs").exists()
    assert _refs(events) == []


def test_full_capture_keeps_values_under_the_threshold_inline(tmp_path: Path) -> None:
    run = configure(tmp_path, synchronous=True, capture="full", blob_threshold=4096)

    @spanline.traced_tool(name="sized")
    def sized(n: int) -> str:
        return "y" * n

    sized(4000)
    sized(5000)
    sized(2_000_000)  # past the old 1,000,000-character cap: kept whole, out of line
    _, events = finish(run)
    ends = [e for e in events if e["event"] == "span_end"]
    values = [e["attributes"]["output.value"] for e in ends]
    assert values[0] == "y" * 4000
    assert values[1][BLOB_REF]["size"] == 5000
    assert values[2][BLOB_REF]["size"] == 2_000_000
    files = list((run.directory / "blobs").iterdir())
    assert sorted(len(_content(p)) for p in files) == [5000, 2_000_000]


def test_the_threshold_setting(tmp_path: Path) -> None:
    with pytest.raises(spanline.ConfigurationError):
        spanline.configure_observability(enabled=True, run_dir=tmp_path, blob_threshold=10)
    result = run_python(
        "import spanline\n"
        f"run = spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r})\n"
        "spanline.shutdown()\n",
        env={"SPANLINE_BLOB_THRESHOLD": "lots"},
    )
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "SPANLINE_BLOB_THRESHOLD" in line]
    assert len(warnings) == 1, result.stderr


def test_the_callers_thread_never_hashes_and_flush_waits_for_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib as real
    import threading

    from spanline._lines import _blobs

    hashed_on: list[str] = []

    class Recording:
        @staticmethod
        def sha256(data: bytes) -> Any:
            hashed_on.append(threading.current_thread().name)
            return real.sha256(data)

    monkeypatch.setattr(_blobs, "hashlib", Recording)
    run = configure(tmp_path, capture="full", blob_threshold=1024)

    @spanline.traced_tool(name="sized")
    def sized() -> str:
        return "w" * 100_000

    sized()
    assert spanline.flush()
    files = list((run.directory / "blobs").iterdir())
    assert [len(_content(p)) for p in files] == [100_000]  # on disk once flush() returns
    spanline.shutdown()
    assert hashed_on and threading.main_thread().name not in hashed_on
    assert all(name.startswith("spanline") for name in hashed_on), hashed_on


@pytest.mark.parametrize("user_pattern", [False, True])
def test_a_long_text_is_hashed_by_the_blob_thread_while_capture_redacts_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, user_pattern: bool
) -> None:
    """Capture hands each redacted piece of a long text to the blob thread, which encodes
    and hashes it meanwhile: the writer's helper only looks the result up. With a user
    pattern (run over the whole text at the end) the pieces are not final, and the writer's
    helper hashes the text as before; either way the blob is the redacted text."""
    import hashlib as real
    import threading

    from spanline._capture import _redact
    from spanline._lines import _blobs

    hashed_on: list[str] = []

    class Recording:
        @staticmethod
        def sha256(data: bytes) -> Any:
            hashed_on.append(threading.current_thread().name)
            return real.sha256(data)

    monkeypatch.setattr(_blobs, "hashlib", Recording)
    if user_pattern:
        monkeypatch.setattr(_redact, "registry", _redact.Registry())
        _redact.add_redaction_pattern(r"MINE-\d+")
    run = configure(tmp_path, capture="full")
    line = "a line of a tool's output\n"
    text = line * (3 * 1024 * 1024 // len(line)) + f"key {SECRET} MINE-42\n"

    @spanline.traced_tool(name="long")
    def long() -> str:
        return text

    long()
    assert spanline.flush()
    spanline.shutdown()
    (stored,) = list((run.directory / "blobs").iterdir())
    data = _content(stored)
    assert real.sha256(data).hexdigest() == stored.name.split(".")[0]
    assert data.startswith(line.encode()) and SECRET.encode() not in data
    assert (b"MINE-42" in data) is not user_pattern
    assert hashed_on == ["spanline-convert" if user_pattern else "spanline-blobs"]


def test_long_texts_are_let_go_once_written_and_at_shutdown(tmp_path: Path) -> None:
    """A long text inside a captured dict is stored with its container: nothing is kept for
    it once its line is written. A long text captured and never written (here captured by
    hand) is let go at shutdown: no copy of a captured text outlives the session."""
    from spanline._capture import _redact
    from spanline._capture._previews import capture_value
    from spanline._lines import _blobs

    configure(tmp_path, capture="full")

    @spanline.traced_tool(name="fetch")
    def fetch(i: int) -> dict[str, str]:
        return {"body": f"row {i}\n" * 300_000}

    for i in range(4):
        fetch(i)
    assert spanline.flush()
    assert (len(_blobs._HASHED), len(_redact._MARKED)) == (0, 0)
    capture_value("a line of text\n" * 200_000, "full")
    assert (len(_blobs._HASHED), len(_redact._MARKED)) == (1, 1)
    spanline.shutdown()
    assert (len(_blobs._HASHED), len(_redact._MARKED)) == (0, 0)
