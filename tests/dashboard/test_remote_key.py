"""A dashboard served to other machines needs its key; local serving needs none.

Through the real ``spanline serve`` command: the printed address carries the key, a
request without it gets 401, and ``--allowed-host`` pins the ``Host`` names.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from tests._helpers import clean_env, run_cli
from tests.dashboard.conftest import make_finished_run


@contextmanager
def _serving(base: Path, *args: str) -> Iterator[tuple[str, str]]:
    """``spanline serve`` over ``base``; yields the printed address and the stderr seen."""
    with subprocess.Popen(
        [sys.executable, "-m", "spanline", "serve", "--dir", str(base), "--port", "0", *args],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.startswith("spanline: dashboard at http://"), line
            yield line.split(" at ", 1)[1].split(" ", 1)[0], line
        finally:
            process.terminate()
            process.wait(10)


def _key(address: str) -> str:
    return parse_qs(urlsplit(address).query)["token"][0]


def test_a_remote_dashboard_answers_401_without_its_key(tmp_path: Path) -> None:
    run = make_finished_run(tmp_path)
    with _serving(tmp_path, "--host", "0.0.0.0", "--allow-remote") as (address, _):
        key = _key(address)
        assert len(key) >= 16
        root = address.split("?", 1)[0].rstrip("/")
        with httpx.Client(base_url=root, timeout=30) as http:
            for path in ("/", "/api/runs", f"/api/runs/{run.run_id}/snapshot", "/events"):
                assert http.get(path).status_code == 401, path
                assert http.get(path, params={"token": key + "x"}).status_code == 401, path
                wrong = {"cookie": f"spanline_token_{urlsplit(root).port}={key}x"}
                assert http.get(path, headers=wrong).status_code == 401, path
            page = http.get(address)  # the printed address, as a browser opens it
            assert page.status_code == 200 and "<html" in page.text.lower()
            cookie = page.headers["set-cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
            # The cookie carries the key from then on: the page's own requests work.
            assert http.get("/api/runs").json()[0]["run_id"] == run.run_id
            with http.stream("GET", "/events", params={"run": run.run_id}) as stream:
                assert stream.status_code == 200
                assert next(stream.iter_lines()).startswith("id: ")


def test_a_given_key_is_the_one_required(tmp_path: Path) -> None:
    make_finished_run(tmp_path)
    key = "a-given-key.of_25~chars00"
    args = ("--host", "0.0.0.0", "--allow-remote", "--token", key)
    with _serving(tmp_path, *args) as (address, _):
        assert _key(address) == key
        root = address.split("?", 1)[0].rstrip("/")
        assert httpx.get(f"{root}/api/runs", timeout=30).status_code == 401
        assert httpx.get(f"{root}/api/runs?token={key}", timeout=30).status_code == 200


def test_allowed_hosts_close_the_host_gap_of_a_wildcard_address(tmp_path: Path) -> None:
    make_finished_run(tmp_path)
    args = ("--host", "0.0.0.0", "--allow-remote", "--allowed-host", "dash.example")
    with _serving(tmp_path, *args, "--allowed-host", "10.1.2.3:8080") as (address, _):
        key = _key(address)
        port = urlsplit(address).port
        url = f"http://127.0.0.1:{port}/api/runs?token={key}"

        def status(host: str) -> int:
            return httpx.get(url, headers={"host": host}, timeout=30).status_code

        assert status(f"dash.example:{port}") == 200
        assert status("10.1.2.3:8080") == 200
        assert status(f"127.0.0.1:{port}") == 200  # the printed address
        assert status(f"evil.example:{port}") == 400
        assert status(f"10.1.2.3:{port}") == 400


def test_local_serving_needs_no_key(tmp_path: Path) -> None:
    run = make_finished_run(tmp_path)
    with _serving(tmp_path) as (address, _):
        assert "token=" not in address
        response = httpx.get(address.split("?", 1)[0] + "api/runs", timeout=30)
        assert response.status_code == 200 and "set-cookie" not in response.headers
        assert response.json()[0]["run_id"] == run.run_id


def test_a_bad_key_or_host_name_is_bad_input(tmp_path: Path) -> None:
    remote = ("serve", "--dir", str(tmp_path), "--host", "0.0.0.0", "--allow-remote")
    for args, said in [
        ((*remote, "--token", "short"), "--token must be 16 to 256"),
        ((*remote, "--token", "with space in it, long"), "--token must be"),
        (("serve", "--dir", str(tmp_path), "--token", "a" * 20), "--allow-remote only"),
        ((*remote, "--allowed-host", "a/b"), "--allowed-host 'a/b' is not a host name"),
    ]:
        result = run_cli(*args)
        assert result.returncode == 2, result
        assert result.stderr.count("\n") == 1 and said in result.stderr, result.stderr
