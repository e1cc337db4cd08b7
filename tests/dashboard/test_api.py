"""The JSON API and the page, over a real server: runs, summary, snapshot, events, security."""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from pathlib import Path

import httpx
import orjson
import pytest

import spanline
from spanline.dashboard._server import DashboardServer
from spanline.folds import summarize_file
from spanline.folds.lanes import LanesFold
from tests._helpers import configure, read_lines, run_cli


def test_runs_are_listed_newest_first(finished: spanline.Run, client: httpx.Client) -> None:
    second = configure(finished.base, service_name="dash", query="why?")
    spanline.shutdown()
    runs = client.get("/api/runs").json()
    assert [row["run_id"] for row in runs] == [second.run_id, finished.run_id]
    assert runs[0] == {
        "run_id": second.run_id,
        "created": read_lines(second.telemetry_path)[0]["ts"],
        "status": "ok",
        "service_name": "dash",
        "query": "why?",
        "has_summary": True,
        "analyzed": False,
        "failed_agents": 0,
        "session_id": None,
        "turn": None,
        "attempt": None,
    }


def test_the_analysis_report_is_served_as_text_once_written(
    finished: spanline.Run, client: httpx.Client
) -> None:
    path = f"/api/runs/{finished.run_id}/report"
    missing = client.get(path)
    assert missing.status_code == 404 and "no analysis report" in missing.json()["error"]
    result = run_cli("analyze", str(finished.directory))
    assert result.returncode == 0, result.stderr
    served = client.get(path)
    assert served.status_code == 200
    assert served.headers["content-type"] == "text/plain; charset=utf-8"
    assert served.content == finished.report_path.read_bytes()
    assert client.get("/api/runs").json()[0]["analyzed"] is True


def test_a_session_is_served_with_its_turns_and_ids_are_checked(
    finished: spanline.Run, client: httpx.Client
) -> None:
    run = configure(finished.base, session_id="talk", turn=3)
    with spanline.span("answer"):
        pass
    spanline.shutdown()
    row = next(r for r in client.get("/api/runs").json() if r["run_id"] == run.run_id)
    assert (row["session_id"], row["turn"], row["attempt"]) == ("talk", 3, 1)
    view = client.get("/api/sessions/talk").json()
    assert (view["turns"], view["attempts"]) == (1, 1)
    assert view["attempt_list"][0]["run_id"] == run.run_id
    assert view["attempt_list"][0]["accepted"] is True
    assert client.get("/api/sessions/..%2Fescape").status_code == 400
    assert client.get("/api/sessions/nobody").status_code == 404


def test_summary_of_a_finished_run_is_its_run_summary(
    finished: spanline.Run, client: httpx.Client
) -> None:
    response = client.get(f"/api/runs/{finished.run_id}/summary")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == orjson.loads(finished.summary_path.read_bytes())


def test_summary_of_a_live_run_is_folded_from_the_log(base: Path, client: httpx.Client) -> None:
    run = configure(base, service_name="live", synchronous=True)
    with spanline.get_tracer().span("lead", kind="agent") as span:
        span.add(tokens=7)
    spanline.flush()
    folded = client.get(f"/api/runs/{run.run_id}/summary").json()
    assert folded["status"] == "incomplete"  # the process has not ended
    assert folded["totals"]["total_tokens"] == 7
    rows = client.get("/api/runs").json()
    assert rows[0]["status"] == "running"
    spanline.shutdown()


def test_snapshot_folds_up_to_an_offset(finished: spanline.Run, client: httpx.Client) -> None:
    raw = finished.telemetry_path.read_bytes()
    whole = client.get(f"/api/runs/{finished.run_id}/snapshot").json()
    assert whole["run_id"] == finished.run_id
    assert whole["offset"] == len(raw)
    assert whole["summary"] == summarize_file(finished.telemetry_path).to_dict()
    lanes = {lane["name"]: lane for lane in whole["lanes"]}
    assert set(lanes) == {"agent-a", "agent-b"}
    agent_b = lanes["agent-b"]
    assert agent_b["phase"] == "discovery"
    assert agent_b["status"] == "error"
    assert agent_b["error"]["message"] == "boom <b>"
    assert agent_b["tokens"] == 105 and agent_b["tool_uses"] == 1  # subtree sums
    assert agent_b["end_ts"] >= agent_b["start_ts"]
    cards = {card["name"]: card for card in whole["summary"]["agents"]}
    for name, lane in lanes.items():
        assert {k: lane[k] for k in ("tokens", "tool_uses", "cost_usd")} == {
            k: cards[name][k] for k in ("tokens", "tool_uses", "cost_usd")
        }
    # Up to just before agent-b's end: it is still running there.
    cut = raw.rfind(b"\n", 0, raw.index(b"boom")) + 1
    early = client.get(f"/api/runs/{finished.run_id}/snapshot", params={"offset": cut}).json()
    assert early["offset"] == cut
    lane = next(lane for lane in early["lanes"] if lane["name"] == "agent-b")
    assert lane["end_ts"] is None and lane["status"] is None and lane["error"] is None
    inside = client.get(f"/api/runs/{finished.run_id}/snapshot", params={"offset": cut + 3})
    assert inside.status_code == 400


def test_events_pages_through_the_log(finished: spanline.Run, client: httpx.Client) -> None:
    seen, offset = [], 0
    while True:
        page = client.get(
            f"/api/runs/{finished.run_id}/events", params={"from": offset, "limit": 3}
        ).json()
        if not page["events"]:
            assert page["next"] == offset
            break
        assert len(page["events"]) <= 3
        seen.extend(page["events"])
        offset = page["next"]
    assert seen == read_lines(finished.telemetry_path)
    assert offset == finished.telemetry_path.stat().st_size


@pytest.mark.parametrize(
    "path",
    [
        "/api/runs/..%2Fx/summary",
        "/api/runs/%2e%2e/summary",
        "/api/runs/%2e%2e%2f%2e%2e%2fetc/snapshot",
        "/api/runs/a%20b/events",
        "/api/runs/%2e%2e%2f%2e%2e%2fetc/report",
        "/events?run=../x",
        "/events?run=%2e%2e",
        "/events?run=/etc/passwd",
    ],
)
def test_malformed_ids_get_400(finished: spanline.Run, server: DashboardServer, path: str) -> None:
    # Raw requests: a client must not normalise the path before it is sent.
    response = _raw_get(server.port, path)
    assert response.startswith(b"HTTP/1.1 400"), response[:200]
    assert b"text/event-stream" not in response


def test_unknown_runs_get_404_at_once(finished: spanline.Run, client: httpx.Client) -> None:
    unknown = "dash-20200101T000000-abcdef"
    for path in (f"/api/runs/{unknown}/summary", f"/api/runs/{unknown}/snapshot"):
        assert client.get(path).status_code == 404
    response = client.get("/events", params={"run": unknown})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"


def test_offsets_inside_a_line_get_400(finished: spanline.Run, client: httpx.Client) -> None:
    for params in ({"from": "1"}, {"from": "-1"}, {"from": "x"}, {"from": "999999999"}):
        response = client.get(f"/api/runs/{finished.run_id}/events", params=params)
        assert response.status_code == 400, params
        response = client.get("/events", params={"run": finished.run_id, **params})
        assert response.status_code == 400, params
    response = client.get(
        "/events", params={"run": finished.run_id}, headers={"Last-Event-ID": "5"}
    )
    assert response.status_code == 400


def test_nothing_writes(finished: spanline.Run, client: httpx.Client) -> None:
    for path in ("/", "/api/runs", f"/api/runs/{finished.run_id}/summary", "/events"):
        assert client.post(path).status_code == 405
        assert client.delete(path).status_code == 405


def test_other_host_headers_are_refused(finished: spanline.Run, server: DashboardServer) -> None:
    port = server.port
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
        for host in ("evil.example", f"evil.example:{port}", "127.0.0.1:1", "127.0.0.1"):
            response = http.get("/api/runs", headers={"Host": host})
            assert response.status_code == 400, host
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
            assert http.get("/api/runs", headers={"Host": host}).status_code == 200, host


def test_the_page_has_a_csp_with_its_scripts_hash(client: httpx.Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["x-content-type-options"] == "nosniff"
    csp = response.headers["content-security-policy"]
    scripts = re.findall(rb"<script>(.*?)</script>", response.content, re.DOTALL)
    assert scripts
    for script in scripts:
        digest = base64.b64encode(hashlib.sha256(script).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    assert "default-src 'none'" in csp
    assert "connect-src 'self'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    api = client.get("/api/runs")
    assert api.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in api.headers["content-security-policy"]


def test_the_page_is_the_built_page_with_its_script_and_style_allowed_by_hash(
    client: httpx.Client,
) -> None:
    from spanline.dashboard.page import build_page, script_hash, style_hash

    response = client.get("/")
    html = build_page()
    assert response.text == html
    policy = response.headers["content-security-policy"]
    assert f"script-src {script_hash(html)};" in policy
    assert f"style-src {style_hash(html)};" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    # The hash is of the script actually served.
    script = html.split("<script>", 1)[1].split("</script>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"'sha256-{digest}'" == script_hash(html)


def _raw_get(port: int, path: str) -> bytes:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        sock.sendall(request.encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_snapshot_has_queued_plans_open_spans_and_run_start(
    base: Path, client: httpx.Client
) -> None:
    run = configure(base, service_name="plans", synchronous=True)
    tracer = spanline.get_tracer()
    with tracer.span("lead", kind="run") as lead:
        first = tracer.plan("worker-1", kind="agent", parent=lead, phase="work")
        tracer.plan("worker-2", kind="agent", parent=lead, phase="work")
        with tracer.span("work", kind="phase"), tracer.span("worker-1", kind="agent"):
            spanline.flush()
            snap = client.get(f"/api/runs/{run.run_id}/snapshot").json()
    spanline.shutdown()
    assert snap["run_start"] == read_lines(run.telemetry_path)[0]
    assert [(s["name"], s["kind"]) for s in snap["open_spans"]] == [
        ("lead", "run"),
        ("work", "phase"),
        ("worker-1", "agent"),
    ]
    assert set(snap["open_spans"][0]) == {"span_id", "parent", "name", "kind", "start_ts"}
    running, queued = snap["lanes"]
    assert running["name"] == "worker-1" and running["plan_id"] == first
    assert running["status"] is None and running["phase"] == "work"
    assert queued["name"] == "worker-2" and queued["status"] == "queued"
    assert queued["span_id"] == queued["plan_id"] and queued["start_ts"] is None
    assert queued["phase"] == "work" and queued["parent"] == snap["open_spans"][0]["span_id"]


def test_runs_and_snapshots_carry_failed_agents_and_the_folds_burn_rate(
    finished: spanline.Run, client: httpx.Client
) -> None:
    (row,) = client.get("/api/runs").json()
    assert row["status"] == "ok" and row["failed_agents"] == 1  # agent-b failed
    snap = client.get(f"/api/runs/{finished.run_id}/snapshot").json()
    fold = LanesFold()
    fold.extend(read_lines(finished.telemetry_path))
    assert snap["burn"] == fold.burn()  # at the run's last line: it is over
    assert snap["burn"]["tokens_per_min"] == 2 * 210
    assert snap["server"] == {"stops_with_run": False, "reopen": None, "live_run": None}
    (error,) = snap["summary"]["errors"]
    assert snap["error_lanes"] == {error["span_id"]: error["span_id"]}  # agent-b itself


def test_a_runs_own_server_stays_up_until_a_page_following_it_has_its_final_state(
    finished: spanline.Run,
) -> None:
    from spanline.dashboard import start_in_thread

    server = start_in_thread(
        finished.base, host="127.0.0.1", port=0, default_run=finished.run_id, stops_with_run=True
    )
    url = f"http://127.0.0.1:{server.port}"
    stopper = threading.Thread(target=server.stop)
    with httpx.Client(base_url=url, timeout=10) as http:
        with http.stream("GET", "/events", params={"run": finished.run_id}) as stream:
            lines = stream.iter_lines()
            assert next(line for line in lines if line.startswith("data:"))
            stopper.start()  # the page is following: the stream ends, the server waits
            for _ in lines:
                pass
        # What a page does when the run's last line reaches it: ask for the final state.
        snap = http.get(f"/api/runs/{finished.run_id}/snapshot").json()
    stopper.join(10)
    assert not stopper.is_alive() and not server.running
    assert snap["summary"]["status"] == "ok"
    assert snap["server"]["stops_with_run"] is True
    program, serve, directory = snap["server"]["reopen"].split()
    assert Path(program).name == "spanline" and serve == "serve"
    assert directory == str(finished.base / "runs" / finished.run_id)
