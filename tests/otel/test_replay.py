"""``spanline replay``: a run recorded while no receiver ran, sent to a real Phoenix
afterwards, equals what a live export would have sent; a second replay sends only
what is new, ``--force`` everything again; bad endpoints are bad input."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

import spanline
from tests._helpers import configure
from tests.cli._entry import spanline as spanline_cli
from tests.otel._receiver import Receiver, free_port
from tests.otel._run import expected_spans, nested_run
from tests.otel.conftest import Phoenix
from tests.otel.test_phoenix import as_logged, read_spans


def _recorded(base: Path, rounds: int = 2) -> Path:
    """A run written with no exporter at all: the log is all there is."""
    run = configure(base)
    for _ in range(rounds):
        nested_run(workers=3)
    spanline.shutdown()
    return run.directory


def _project_env(project: str) -> dict[str, str]:
    return {"OTEL_RESOURCE_ATTRIBUTES": f"openinference.project.name={project}"}


def test_a_recorded_run_replayed_to_phoenix_equals_the_log(
    phoenix: Phoenix, tmp_path: Path
) -> None:
    run = _recorded(tmp_path)
    project = f"replay-{uuid.uuid4().hex[:8]}"
    result = spanline_cli("replay", str(run), "--endpoint", phoenix.http, env=_project_env(project))
    assert result.returncode == 0, result.stderr
    expected = expected_spans(run / "telemetry.jsonl")
    assert f"sent {len(expected)} span(s)" in result.stdout
    got = as_logged(read_spans(phoenix, project, len(expected)))
    assert got.keys() == expected.keys()  # every span, once, with its own id
    for span_id, span in expected.items():
        assert got[span_id] == span, span["name"]  # trace, parent, times, tokens, attributes


def test_a_second_replay_sends_only_what_is_new_and_force_sends_all(tmp_path: Path) -> None:
    run = _recorded(tmp_path)
    total = len(expected_spans(run / "telemetry.jsonl"))
    with Receiver() as receiver:
        base = f"http://127.0.0.1:{receiver.port}"
        first = spanline_cli("replay", str(run), "--endpoint", base)
        assert first.returncode == 0, first.stderr
        assert len(receiver.spans) == total
        again = spanline_cli("replay", str(run), "--endpoint", base)
        assert again.returncode == 0, again.stderr
        assert "sent 0 span(s)" in again.stdout
        assert len(receiver.spans) == total
        forced = spanline_cli("replay", str(run), "--endpoint", base, "--force")
        assert forced.returncode == 0, forced.stderr
        assert len(receiver.spans) == 2 * total
    state = json.loads((run / "replay_state.json").read_text())
    assert list(state) == [f"otlp {base}"]
    assert state[f"otlp {base}"]["offset"] > 0


def test_spans_ended_after_a_replay_are_sent_by_the_next_one_whole(tmp_path: Path) -> None:
    """A span open during the first replay (its start before the offset, its end after)
    goes out whole in the second."""
    run = configure(tmp_path)
    with Receiver() as receiver:
        base = f"http://127.0.0.1:{receiver.port}"
        with spanline.span("long", kind="agent") as long:
            with spanline.span("tool.first", kind="tool"):
                pass
            spanline.flush()
            first = spanline_cli("replay", str(run.directory), "--endpoint", base)
            assert first.returncode == 0, first.stderr
            assert [span.name for span in receiver.spans] == ["tool.first"]
        spanline.shutdown()
        second = spanline_cli("replay", str(run.directory), "--endpoint", base)
        assert second.returncode == 0, second.stderr
    names = [span.name for span in receiver.spans]
    assert names == ["tool.first", "long"]
    assert receiver.spans[1].span_id.hex() == long.span_id
    assert receiver.spans[1].start_time_unix_nano < receiver.spans[0].start_time_unix_nano


def test_a_receiver_that_fails_midway_leaves_the_rest_for_the_next_replay(tmp_path: Path) -> None:
    run = _recorded(tmp_path, rounds=4)
    total = len(expected_spans(run / "telemetry.jsonl"))
    with Receiver(failures=1_000, accept_first=1) as receiver:  # then refuses everything
        base = f"http://127.0.0.1:{receiver.port}"
        result = spanline_cli("replay", str(run), "--endpoint", base, "--rate", "10",
                              "--timeout", "1")  # fmt: skip
        assert result.returncode == 1, result.stderr
        assert "not delivered" in result.stderr
        delivered = len(receiver.spans)
        assert 0 < delivered < total
        receiver.failures = 0
        resumed = spanline_cli("replay", str(run), "--endpoint", base)
        assert resumed.returncode == 0, resumed.stderr
    assert sorted(s.span_id.hex() for s in receiver.spans) == sorted(
        expected_spans(run / "telemetry.jsonl")
    )


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("not a url", "is not an http:// or https:// URL"),
        ("ftp://127.0.0.1/x", "is not an http:// or https:// URL"),
        ("http://127.0.0.1:99999", "bad port"),
        (None, "cannot deliver to the endpoint"),
    ],
)
def test_a_bad_or_unreachable_endpoint_is_status_2(
    tmp_path: Path, endpoint: str | None, message: str
) -> None:
    run = _recorded(tmp_path, rounds=1)
    url = endpoint or f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = spanline_cli("replay", str(run), "--endpoint", url, "--timeout", "1")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert message in result.stderr


def test_secrets_in_the_log_are_redacted_on_the_way_out(tmp_path: Path) -> None:
    """A value written before today's rules knew it (here: put into the log by hand) is
    redacted by the replay."""
    run = configure(tmp_path)
    with spanline.span("tool.call", kind="tool", note="PLACEHOLDER"):
        pass
    spanline.shutdown()
    secret = "sk-proj-" + "A1b2C3d4E5f6G7h8" * 3
    log = run.directory / "telemetry.jsonl"
    log.write_text(log.read_text().replace("PLACEHOLDER", f"key {secret}"))
    with Receiver() as receiver:
        result = spanline_cli("replay", str(run.directory), "--endpoint",
                              f"http://127.0.0.1:{receiver.port}")  # fmt: skip
        assert result.returncode == 0, result.stderr
    (span,) = receiver.spans
    values = {a.key: a.value.string_value for a in span.attributes}
    assert secret not in values["note"] and values["note"].startswith("key ")


def test_spans_with_an_all_zero_trace_id_are_counted_as_not_delivered(tmp_path: Path) -> None:
    """Receivers drop a span whose trace id is all zeros without a word: the replay says
    so (status 1, the reason named) instead of counting it as sent, sends the others,
    and does not try the same spans again on the next replay (no retry can help), which
    still says they cannot be sent and fails: a retry does not turn the finding into a
    pass. ``--force`` starts the count again."""
    run = configure(tmp_path)
    for name in ("tool.kept", "tool.zero", "tool.also_kept", "tool.last_zero"):
        with spanline.span(name, kind="tool"):
            pass
    spanline.shutdown()
    log = run.directory / "telemetry.jsonl"
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    for line in lines:
        if line.get("name", "").endswith("zero"):
            line["trace_id"] = "0" * 32
    log.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with Receiver() as receiver:
        base = f"http://127.0.0.1:{receiver.port}"
        result = spanline_cli("replay", str(run.directory), "--endpoint", base)
        assert result.returncode == 1, (result.stdout, result.stderr)
        assert "sent 2 span(s), 2 not delivered (their trace or span id is not valid" in (
            result.stdout
        )
        assert "2 span(s) cannot be sent: their trace or span id is not valid" in result.stderr
        assert "run replay again" not in result.stderr  # no retry can help them
        assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
        assert sorted(span.name for span in receiver.spans) == ["tool.also_kept", "tool.kept"]
        again = spanline_cli("replay", str(run.directory), "--endpoint", base)
        assert again.returncode == 1, again.stderr
        assert "sent 0 span(s)" in again.stdout
        assert "2 span(s) cannot be sent" in again.stderr
        assert len(receiver.spans) == 2  # nothing sent again
        forced = spanline_cli("replay", str(run.directory), "--endpoint", base, "--force")
        assert forced.returncode == 1, forced.stderr
        assert "2 span(s) cannot be sent" in forced.stderr  # counted afresh, not 4
    assert len(receiver.spans) == 4


def test_replay_session_sends_every_run_of_the_session_to_phoenix(
    phoenix: Phoenix, tmp_path: Path
) -> None:
    """Two runs of one session (recorded with no receiver), beside a run of another:
    ``--session`` sends both runs of the session, each resumable on its own."""
    expected: dict[str, dict] = {}
    for session in ("chat", "other", "chat"):
        run = configure(tmp_path, session_id=session)
        nested_run(workers=2)
        spanline.shutdown()
        if session == "chat":
            expected.update(expected_spans(run.telemetry_path))
    project = f"replay-session-{uuid.uuid4().hex[:8]}"
    env = _project_env(project)
    result = spanline_cli("replay", "--session", "chat", "--dir", str(tmp_path),
                          "--endpoint", phoenix.http, env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2  # one line per run of the session
    got = as_logged(read_spans(phoenix, project, len(expected)))
    assert got.keys() == expected.keys()
    for span_id, span in expected.items():
        assert got[span_id] == span, span["name"]
    again = spanline_cli("replay", "--session", "chat", "--dir", str(tmp_path),
                         "--endpoint", phoenix.http, env=env)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert [line.split(": ", 1)[1] for line in again.stdout.splitlines()] == [
        "sent 0 span(s) (new since the last replay)"
    ] * 2
    unknown = spanline_cli("replay", "--session", "nobody", "--dir", str(tmp_path),
                           "--endpoint", phoenix.http)  # fmt: skip
    assert unknown.returncode == 2 and "no run of session 'nobody'" in unknown.stderr
    both = spanline_cli("replay", "--session", "chat", "--all-runs", "--dir", str(tmp_path))
    assert both.returncode == 2 and "give one of a run, --all-runs or --session" in both.stderr
