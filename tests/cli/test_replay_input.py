"""``spanline replay`` refuses numbers it cannot use, and sends to Logfire's URL when told."""

from __future__ import annotations

from pathlib import Path

import pytest

import spanline
from tests._helpers import configure
from tests.cli._entry import spanline as spanline_cli
from tests.otel._receiver import free_port


def _recorded(base: Path) -> Path:
    run = configure(base)
    with spanline.span("agent", kind="agent"):
        pass
    spanline.shutdown()
    return run.directory


@pytest.mark.parametrize(
    ("option", "value"),
    [("--rate", "nan"), ("--rate", "inf"), ("--timeout", "nan"), ("--timeout", "inf")],
)
def test_a_rate_or_timeout_that_is_not_a_finite_number_is_bad_input(
    tmp_path: Path, option: str, value: str
) -> None:
    """NaN passes Click's range check (no comparison refuses it): a NaN timeout once made
    a refused connection count as delivered, an infinite rate was an internal error."""
    run = _recorded(tmp_path)
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = spanline_cli("replay", str(run), "--endpoint", url, option, value)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr == (
        f"spanline: error: Invalid value for '{option}': '{value}' is not a finite number "
        "above 0 (see spanline --help)\n"
    )
    assert not (run / "replay_state.json").exists()  # nothing was counted as delivered


def test_logfire_takes_the_endpoint_as_its_base_url(tmp_path: Path) -> None:
    """--to logfire --endpoint URL sends to URL (it was refused by the exporter's
    constructor): nothing listens there, so the spans are not delivered."""
    run = _recorded(tmp_path)
    url = f"http://127.0.0.1:{free_port()}"
    env = {"LOGFIRE_TOKEN": "pylf_v1_us_0000000000000000000000000000000000000000"}
    result = spanline_cli(
        "replay", str(run), "--to", "logfire", "--endpoint", url, "--timeout", "1", env=env
    )
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("spanline: error: cannot deliver to the endpoint")
    assert result.stderr.count("\n") == 1
