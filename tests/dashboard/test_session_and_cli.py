"""configure_observability(dashboard=True) and `spanline serve`, through the real entry points."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

import spanline
from spanline.dashboard import _data
from tests._extras import install_hint
from tests._helpers import clean_env, configure, read_lines, run_cli
from tests.dashboard.conftest import make_finished_run

_URL = re.compile(r"http://127\.0\.0\.1:(\d+)/\?run=(\S+)")


def test_configure_dashboard_serves_the_live_run_and_stops_at_shutdown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whatever runs on the server's threads is spanline's own: a span opened there is a no-op.
    real_run_list = _data.run_list
    seen_on: list[str] = []

    def traced_run_list(base: Path) -> list[dict[str, object]]:
        with spanline.get_tracer().span("from-the-server", kind="agent"):
            seen_on.append(threading.current_thread().name)
            return real_run_list(base)

    monkeypatch.setattr(_data, "run_list", traced_run_list)
    run = configure(tmp_path, service_name="live", dashboard=True)
    err = capsys.readouterr().err
    match = _URL.search(err)
    assert match, err
    assert match[2] == run.run_id
    assert "spanline: dashboard at http://127.0.0.1:" in err
    port = int(match[1])
    assert any(t.name == "spanline-dashboard" for t in threading.enumerate())
    with spanline.get_tracer().span("lead", kind="agent") as span:
        span.add(tokens=3)
    assert spanline.flush()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        assert http.get("/api/runs").json()[0]["status"] == "running"
        summary = http.get(f"/api/runs/{run.run_id}/summary").json()
        assert summary["totals"]["total_tokens"] == 3
    assert seen_on
    summary_obj = spanline.shutdown()
    assert summary_obj is not None
    assert not any(t.name == "spanline-dashboard" for t in threading.enumerate())
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/api/runs", timeout=2)
    events = read_lines(run.telemetry_path)
    assert not [e for e in events if e.get("name") == "from-the-server"]
    assert summary_obj.totals.suppressed_spans >= 1


def test_the_dashboard_setting_is_off_by_default_and_read_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(tmp_path)
    spanline.shutdown()
    assert "dashboard" not in capsys.readouterr().err
    monkeypatch.setenv("SPANLINE_DASHBOARD", "1")
    configure(tmp_path)
    assert "spanline: dashboard at http://127.0.0.1:" in capsys.readouterr().err
    spanline.shutdown()


def _serve(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "spanline", "serve", *args],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_serve_falls_back_to_a_free_port_when_its_port_is_busy(tmp_path: Path) -> None:
    run = make_finished_run(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        with _serve(run.run_id, "--dir", str(tmp_path), "--port", str(taken)) as process:
            try:
                assert process.stdout is not None
                first = process.stdout.readline()
                assert first.startswith(f"spanline: port {taken} is busy; using port "), first
                port = int(first.rsplit(" ", 1)[1])
                address = process.stdout.readline()
                assert f"http://127.0.0.1:{port}/?run={run.run_id}" in address
                response = httpx.get(f"http://127.0.0.1:{port}/api/runs", timeout=10)
                assert [row["run_id"] for row in response.json()] == [run.run_id]
            finally:
                process.terminate()
                process.wait(10)


def test_serve_refuses_a_remote_address_without_the_flag(tmp_path: Path) -> None:
    result = run_cli("serve", "--dir", str(tmp_path), "--host", "0.0.0.0")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "refusing to bind 0.0.0.0" in result.stderr
    assert "--allow-remote" in result.stderr


def test_serve_with_allow_remote_warns(tmp_path: Path) -> None:
    args = ("--dir", str(tmp_path), "--host", "0.0.0.0", "--port", "0", "--allow-remote")
    with _serve(*args) as process:
        try:
            assert process.stdout is not None and process.stderr is not None
            address = process.stdout.readline()
            assert "spanline: dashboard at http://127.0.0.1:" in address
            assert "warning: serving on 0.0.0.0" in process.stderr.readline()
        finally:
            process.terminate()
            process.wait(10)


def test_serve_rejects_a_malformed_run(tmp_path: Path) -> None:
    result = run_cli("serve", "..", "--dir", str(tmp_path))
    assert result.returncode != 0
    assert result.stderr.startswith("spanline: error: ")


_WITHOUT_UVICORN = "import sys; sys.modules['uvicorn'] = None\n"


def test_a_missing_extra_is_one_line_naming_the_install(tmp_path: Path) -> None:
    from tests._helpers import run_python

    cli = run_python(
        _WITHOUT_UVICORN
        + f"from spanline.cli import main; sys.exit(main(['serve', '--dir', {str(tmp_path)!r}]))"
    )
    assert cli.returncode == 2
    assert cli.stderr == (
        f"spanline: error: the dashboard needs uvicorn: {install_hint('dashboard')}\n"
    )
    session = run_python(
        _WITHOUT_UVICORN + "import warnings, spanline\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        f"    run = spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r},"
        " dashboard=True)\n"
        "print(run is not None, [str(w.message) for w in caught])\n"
    )
    assert session.returncode == 0, session.stderr
    assert "True" in session.stdout
    assert install_hint("dashboard") in session.stdout
