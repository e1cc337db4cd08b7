"""Malformed parameters get 400, never 500: every route, every parameter and header it reads.

The routes are enumerated from the application itself and the parameters from the
dashboard's source, so a route or a parameter added later is fuzzed without a change here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Route

from spanline.dashboard._app import DashboardConfig, create_app
from spanline.dashboard._server import DashboardServer
from tests._helpers import ROOT
from tests.dashboard.conftest import make_finished_run

_SOURCES = "".join(p.read_text() for p in (ROOT / "src/spanline/dashboard").glob("*.py"))
#: Every query parameter and header the dashboard reads, found in its source.
QUERY = sorted(set(re.findall(r'query_params\.get\("([^"]+)"', _SOURCES)))
HEADERS = sorted(set(re.findall(r'headers\.get\("([^"]+)"', _SOURCES)))


def _routes() -> list[str]:
    app = create_app(DashboardConfig(base=Path("unused")))
    starlette = app.app  # type: ignore[attr-defined]  # behind the Host guard
    return [route.path for route in starlette.routes if isinstance(route, Route)]


def test_the_parameters_are_found_in_the_source() -> None:
    """The enumeration works: the parameters known today are all in it."""
    assert {"offset", "from", "limit", "run", "token"} <= set(QUERY)
    assert {"last-event-id", "host"} <= set(HEADERS)
    assert "/events" in _routes() and len(_routes()) >= 7


_HUGE = "9" * 5000
_NUMBERS = ["0", "1", "²", "%C2%B2", "١٢", "-1", "+1", " 1", "1 ", "1e3", "0x10", "1_000",
            _HUGE, str(2**63), str(2**63 - 1), "9" * 19, "9" * 20, "\x00", "﻿1"]  # fmt: skip
_text = st.one_of(st.sampled_from(_NUMBERS), st.text(max_size=40))
#: The bytes a header value may hold (visible ASCII, space and tab inside, and every
#: byte past ASCII): the client refuses to send the others, and no server sees them.
_FIELD = bytes([9, *range(32, 127), *range(128, 256)])


def _sendable(value: bytes) -> bool:
    return value == value.strip(b" \t") and all(byte in _FIELD for byte in value)


_header = st.one_of(
    st.sampled_from([n.encode("utf-8") for n in _NUMBERS]),
    st.binary(max_size=40),
).filter(_sendable)


@pytest.fixture(scope="module", params=["local", "with a key"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[httpx.Client, str, DashboardServer]]:
    base = tmp_path_factory.mktemp("fuzz") / "store"
    run = make_finished_run(base)
    keyed = request.param != "local"
    server = DashboardServer(
        base, host="127.0.0.1", port=0, ping_s=0.3, poll_s=0.05, allow_remote=keyed
    )
    server.start_in_thread()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=30) as http:
            yield http, run.run_id, server
    finally:
        server.stop()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", _routes())
def test_no_parameter_gets_a_500(
    served: tuple[httpx.Client, str, DashboardServer], path: str
) -> None:
    http, run_id, server = served
    key = server.config.token or "none"
    cookie = server.config.token_cookie
    known = [run_id, key, f"127.0.0.1:{server.port}"]  # values that get past the checks
    cookies = [f"{cookie}={key}".encode(), f"{cookie}={key}x".encode(), f"{cookie}=".encode()]

    @settings(
        max_examples=100, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(
        params=st.dictionaries(st.sampled_from(QUERY), _text | st.sampled_from(known)),
        headers=st.dictionaries(
            st.sampled_from([*HEADERS, "cookie"]),
            _header | st.sampled_from([k.encode() for k in known] + cookies),
        ),
        segment=st.sampled_from([run_id, "latest"]) | st.text(min_size=1, max_size=30),
    )
    def check(params: dict[str, str], headers: dict[str, bytes], segment: str) -> None:
        url = re.sub(r"\{[^}]+\}", quote(segment, safe=""), path)
        with http.stream("GET", url, params=params, headers=headers) as response:
            assert response.status_code < 500, (url, params, headers, response.read())

    check()


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("/api/runs/{run}/snapshot?offset=%C2%B2", {}),
        ("/api/runs/{run}/snapshot?offset=" + _HUGE, {}),
        ("/api/runs/{run}/events?from=%C2%B2", {}),
        ("/api/runs/{run}/events?limit=" + _HUGE, {}),
        ("/events?run={run}&from=%C2%B2", {}),
        ("/events?run={run}", {"last-event-id": _HUGE}),
        ("/events?run={run}", {"last-event-id": "²"}),
        ("/api/runs/{run}/snapshot?offset=" + str(2**63), {}),
    ],
)
def test_a_malformed_number_is_a_400_with_a_reason(
    served: tuple[httpx.Client, str, DashboardServer], url: str, headers: dict[str, str]
) -> None:
    http, run_id, server = served
    encoded = {k: v.encode("utf-8") for k, v in headers.items()}
    key = f"&token={server.config.token}" if server.config.token else ""
    url = url.format(run=run_id) + ("&" if "?" in url else "?") + key.lstrip("&")
    response = http.get(url, headers=encoded)
    assert response.status_code == 400, response.text
    assert "ASCII digits" in response.json()["error"]
