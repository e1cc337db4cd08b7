"""Sessions, turns and attempts: configured, numbered, written on spans and in the header."""

from __future__ import annotations

import json
import textwrap
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import spanline
from spanline.exceptions import ConfigurationError, SpanlineWarning
from tests._helpers import configure, finish, read_lines, run_python


def _starts(events: list[dict]) -> dict[str, dict]:
    return {e["name"]: e["attributes"] for e in events if e["event"] == "span_start"}


def test_every_span_of_a_configured_session_carries_it_and_the_header_names_it(
    tmp_path: Path,
) -> None:
    run = configure(tmp_path, session_id="chat-1")
    with spanline.span("plain"):
        pass
    with spanline.span("framework", **{"gen_ai.conversation.id": "thread-9"}):
        pass
    _, events = finish(run)
    starts = _starts(events)
    assert starts["plain"]["session.id"] == "chat-1"
    assert starts["plain"]["gen_ai.conversation.id"] == "chat-1"
    # A framework's own conversation id is kept; the session is still spanline's.
    assert starts["framework"]["gen_ai.conversation.id"] == "thread-9"
    assert starts["framework"]["session.id"] == "chat-1"
    header = events[0]
    assert (header["session_id"], header["turn"], header["attempt"]) == ("chat-1", 1, 1)
    metadata = run.metadata_path.read_text()
    assert 'session_id: "chat-1"' in metadata
    assert "turn: 1" in metadata and "attempt: 1" in metadata


def test_a_run_outside_a_session_has_no_session_fields(tmp_path: Path) -> None:
    run = configure(tmp_path)
    with spanline.span("plain"):
        pass
    _, events = finish(run)
    assert "session.id" not in _starts(events)["plain"]
    assert "session_id" not in events[0]


def test_turns_and_attempts_are_numbered_from_the_session_counter(tmp_path: Path) -> None:
    taken = []
    for options in ({}, {}, {"turn": 2}, {}, {"turn": 7, "attempt": 3}, {"turn": 7}):
        run = configure(tmp_path, session_id="s", **options)
        _, events = finish(run)
        taken.append((events[0]["turn"], events[0]["attempt"]))
    assert taken == [(1, 1), (2, 1), (2, 2), (3, 1), (7, 3), (7, 4)]


def test_pruning_runs_never_reuses_a_number(tmp_path: Path) -> None:
    import shutil

    first = configure(tmp_path, session_id="s")
    finish(first)
    shutil.rmtree(first.directory)
    second = configure(tmp_path, session_id="s")
    _, events = finish(second)
    assert events[0]["turn"] == 2


def test_spans_under_session_carry_their_own_and_follow_threads(tmp_path: Path) -> None:
    run = configure(tmp_path, session_id="process")
    with spanline.session("a"):
        with spanline.span("in-a"):
            pass
        with spanline.session("b"), ThreadPoolExecutor(2) as pool:
            pool.submit(lambda: spanline.span("in-b-thread").__enter__().end()).result()
        with spanline.span("in-a-again"):
            pass
    with spanline.span("outside"):
        pass
    _, events = finish(run)
    sessions = {name: a["session.id"] for name, a in _starts(events).items()}
    assert sessions == {
        "in-a": "a",
        "in-b-thread": "b",
        "in-a-again": "a",
        "outside": "process",
    }
    assert _starts(events)["in-b-thread"]["gen_ai.conversation.id"] == "b"


@pytest.mark.parametrize("bad", ["../x", "a/b", "", "x" * 200, 5])
def test_a_session_id_that_is_not_a_safe_name_raises(tmp_path: Path, bad: object) -> None:
    with pytest.raises(ConfigurationError, match="session"):
        spanline.configure_observability(enabled=True, run_dir=tmp_path, session_id=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="session id"), spanline.session(bad):  # type: ignore[arg-type]
        pass


@pytest.mark.parametrize(("name", "value"), [("turn", -1), ("turn", 0), ("attempt", -2)])
def test_a_negative_turn_or_attempt_argument_raises(tmp_path: Path, name: str, value: int) -> None:
    with pytest.raises(ConfigurationError, match=name):
        spanline.configure_observability(
            enabled=True, run_dir=tmp_path, session_id="s", **{name: value}
        )


def test_bad_session_variables_warn_and_are_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPANLINE_SESSION_ID", "../escape")
    monkeypatch.setenv("SPANLINE_TURN", "-3")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = configure(tmp_path)
    _, events = finish(run)
    texts = [str(w.message) for w in caught if issubclass(w.category, SpanlineWarning)]
    assert any(t.startswith("SPANLINE_SESSION_ID=") for t in texts)
    assert any(t.startswith("SPANLINE_TURN=") for t in texts)
    assert "session_id" not in events[0]
    assert not (tmp_path / "sessions").exists()


def test_child_processes_inherit_the_session_turn_and_attempt(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import subprocess, sys, spanline
        run = spanline.configure_observability(
            enabled=True, run_dir={str(tmp_path)!r}, session_id="kid", turn=4)
        child = "import spanline\\nwith spanline.span('child'): pass\\nspanline.shutdown()"
        subprocess.run([sys.executable, "-c", child], check=True)
        spanline.shutdown()
        print(run.telemetry_path)
        """
    )
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    events = read_lines(Path(done.stdout.strip()))
    assert (events[0]["turn"], events[0]["attempt"]) == (4, 1)
    assert _starts(events)["child"]["session.id"] == "kid"
    numbers = (tmp_path / "sessions" / "kid" / "numbers.jsonl").read_text().splitlines()
    assert len(numbers) == 1  # the child joined the run: it took no number of its own


def test_two_processes_starting_turns_at_once_get_distinct_numbers(tmp_path: Path) -> None:
    """Real processes, released together by a barrier, each start 16 turns of one session:
    the 64 numbers are 1 to 64, none twice (without the file lock, some are taken twice)."""
    code = textwrap.dedent(
        f"""
        import multiprocessing as mp, json, spanline

        def start(barrier, out):
            barrier.wait()
            for _ in range(TURNS):  # several turns each: the starts overlap many times
                run = spanline.configure_observability(
                    enabled=True, run_dir={str(tmp_path)!r}, session_id="race")
                out.put(run.run_id)
            spanline.shutdown()

        TURNS = 16
        if __name__ == "__main__":
            ctx = mp.get_context("spawn")
            count = 4
            barrier, out = ctx.Barrier(count), ctx.Queue()
            procs = [ctx.Process(target=start, args=(barrier, out)) for _ in range(count)]
            for p in procs: p.start()
            ids = [out.get(timeout=120) for _ in range(count * TURNS)]
            for p in procs: p.join(120)
            print(json.dumps(ids))
        """
    )
    script = tmp_path / "race.py"
    script.write_text(code)
    done = run_python(f"import runpy; runpy.run_path({str(script)!r}, run_name='__main__')")
    assert done.returncode == 0, done.stderr
    run_ids = json.loads(done.stdout)
    turns = sorted(
        read_lines(tmp_path / "runs" / rid / "telemetry.jsonl")[0]["turn"] for rid in run_ids
    )
    assert turns == list(range(1, 65))
