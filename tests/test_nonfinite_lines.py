"""NaN and infinities in a line: every reader keeps the line, with null there, and warns once.

Each reader is driven for real: the commands through the ``spanline`` entry point, the
dashboard's snapshot, event page and stream through its server.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import orjson
import pytest

from spanline._lines._read import parse_line
from spanline.dashboard._server import DashboardServer
from tests._helpers import run_cli

RUN = "nan-20260101T000000-abcdef"
LINES = [
    b'{"event":"span_start","span_id":"aa","parent":null,"name":"s","kind":"agent","ts":1.0,'
    b'"attributes":{"x":NaN,"y":"NaN"}}',
    b'{"event":"span_end","span_id":"aa","status":"ok","duration_ms":NaN,"tokens":1,'
    b'"tool_uses":0,"ts":2.0,"attributes":{"z":-Infinity}}',
    b'{"event":"span_start","span_id":"bb","parent":null,"name":"t","kind":"agent","ts":1.5,'
    b'"attributes":{"w":1e400}}',
    b'{"event":"span_end","span_id":"bb","status":"ok","duration_ms":3.0,"tokens":2,'
    b'"tool_uses":0,"ts":2.0,"attributes":{"v":Infinity}}',
]
WARNING = re.compile(r"^spanline: warning: read NaN or infinity as null in 4 line\(s\)", re.M)


@pytest.fixture
def base(tmp_path: Path) -> Path:
    run = tmp_path / "runs" / RUN
    run.mkdir(parents=True)
    (run / "telemetry.jsonl").write_bytes(b"\n".join(LINES) + b"\n")
    return tmp_path


def test_the_reader_reads_them_as_null_and_says_so() -> None:
    assert parse_line(b'{"a":NaN,"b":[Infinity,-Infinity,1e400,1.5],"c":"NaN"}') == (
        {"a": None, "b": [None, None, None, 1.5], "c": "NaN"},
        True,
    )
    assert parse_line(b'{"a":1.5,"c":"Infinity"}') == ({"a": 1.5, "c": "Infinity"}, False)
    with pytest.raises(orjson.JSONDecodeError):
        parse_line(b'{"a":NaN')  # still not JSON


def _warned_once(stderr: str) -> None:
    assert len(WARNING.findall(stderr)) == 1, stderr
    assert "Traceback" not in stderr


def test_summary_and_show_keep_the_lines(base: Path) -> None:
    result = run_cli("--dir", str(base), "summary", RUN, "--json")
    assert result.returncode == 0, result.stderr
    _warned_once(result.stderr)
    summary = orjson.loads(result.stdout)
    assert summary["skipped_line_count"] == 0
    assert summary["span_count"] == 2 and summary["open_spans"] == 0
    assert summary["totals"]["total_tokens"] == 3
    assert [a["duration_ms"] for a in summary["agents"]] == [None, 3.0]
    shown = run_cli("--dir", str(base), "show", RUN)
    assert shown.returncode == 0, shown.stderr
    _warned_once(shown.stderr)
    assert "s" in shown.stdout and "t" in shown.stdout


def test_query_reads_null_where_the_line_held_nan(base: Path) -> None:
    pytest.importorskip("duckdb")
    sql = "SELECT span_name, duration, attributes FROM records ORDER BY span_name"
    result = run_cli("--dir", str(base), "query", sql, RUN, "--json")
    assert result.returncode == 0, result.stderr
    _warned_once(result.stderr)
    assert orjson.loads(result.stdout) == [
        {"span_name": "s", "duration": None, "attributes": {"x": None, "y": "NaN"}},
        {"span_name": "t", "duration": 0.003, "attributes": {"w": None}},
    ]


def test_the_html_export_keeps_the_lines(base: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = run_cli("--dir", str(base), "export", RUN, "--format", "html", "--out", str(out))
    assert result.returncode == 0, result.stderr
    _warned_once(result.stderr)
    html = out.read_text()
    assert '"nonfinite_lines":4' in html
    assert html.count('"event":"span_end"') == 2


def test_the_dashboard_keeps_the_lines_in_every_answer(base: Path) -> None:
    server = DashboardServer(base, host="127.0.0.1", port=0, poll_s=0.05, ping_s=0.3)
    server.start_in_thread()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=30) as http:
            snapshot = http.get(f"/api/runs/{RUN}/snapshot").json()
            assert snapshot["nonfinite_lines"] == 4
            assert snapshot["summary"]["span_count"] == 2
            assert snapshot["summary"]["skipped_line_count"] == 0
            assert [lane["name"] for lane in snapshot["lanes"]] == ["s", "t"]
            page = http.get(f"/api/runs/{RUN}/events").json()
            assert page["events"][0]["attributes"] == {"x": None, "y": "NaN"}
            assert len(page["events"]) == 4
            # The stream: each line as strict JSON (a browser's JSON.parse refuses NaN),
            # its id the offset past the line as it is in the file.
            with http.stream("GET", "/events", params={"run": RUN}) as stream:
                ids, data = [], []
                for line in stream.iter_lines():
                    if line.startswith("id: "):
                        ids.append(int(line[4:]))
                    elif line.startswith("data: "):
                        data.append(orjson.loads(line[6:]))
                    if len(data) == 4:
                        break
            ends, at = [], 0
            for raw in LINES:
                at += len(raw) + 1
                ends.append(at)
            assert ids == ends
            assert data[1]["duration_ms"] is None and data[3]["attributes"] == {"v": None}
    finally:
        server.stop()
