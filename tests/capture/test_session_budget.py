"""A session budget holds across processes: they share the session's spend ledger.

The session id comes from the sessions settings; here each process names it through
the settings object the session layer hands to the budgets, so the ledger, its file
and its reading are the real ones.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests._helpers import clean_env

#: A process of the session: it spends ``calls`` calls of 1,500 tokens each (or until
#: stopped), after the barrier file appears when one is named; prints what it did.
PROGRAM = """
import os, sys, time, types
from pathlib import Path
import spanline
from spanline._session import _budgets

base, calls, barrier = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
@spanline.traced_llm(model="gpt-4o-mini")
def ask():
    return {"model": "gpt-4o-mini", "usage": {"prompt_tokens": 1000, "completion_tokens": 500}}
spanline.configure_observability(enabled=True, run_dir=base)
settings = types.SimpleNamespace(budget={"session_max_tokens": 6000, "action": "raise"},
    session_id="chat-7", max_usd=None, max_tokens=None, session_max_usd=None)
_budgets.install(settings, base)
print("ready", flush=True)
while barrier != "-" and not Path(barrier).exists():
    time.sleep(0.01)
done = 0
try:
    for _ in range(calls):
        ask(); done += 1
    print(done, "not stopped")
except spanline.BudgetExceeded as exc:
    print(done, "stopped", exc.budget)
spanline.shutdown()
"""


def _start(base: Path, calls: int, barrier: str = "-") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", PROGRAM, str(base), str(calls), barrier],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return out.splitlines()[-1]


def _ledger(base: Path) -> list[dict[str, object]]:
    path = base / "sessions" / "chat-7" / "spend.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_later_process_of_the_session_is_stopped_by_what_an_earlier_one_spent(
    tmp_path: Path,
) -> None:
    assert _finish(_start(tmp_path, 3)) == "3 not stopped"  # 4,500 of 6,000 tokens
    # The next process reads the ledger at its first call: one call reaches the limit.
    assert _finish(_start(tmp_path, 10)) == "1 stopped session"
    assert _finish(_start(tmp_path, 10)) == "0 stopped session"  # stopped before any call
    entries = _ledger(tmp_path)
    assert len(entries) == 4 and sum(e["tokens"] for e in entries) == 6000  # type: ignore[misc]
    assert len({e["p"] for e in entries}) == 2


def test_concurrent_processes_of_the_session_stop_within_the_documented_bound(
    tmp_path: Path,
) -> None:
    """Two processes released together: each counts the other's calls at most 250 ms
    late, so both stop, and the session's spending passes the limit by no more than
    the calls they made after the crossing (each call here takes far less than that)."""
    barrier = tmp_path / "go"
    processes = [_start(tmp_path, 1000, str(barrier)) for _ in range(2)]
    for process in processes:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
    barrier.touch()
    results = [_finish(process) for process in processes]
    assert all(result.endswith("stopped session") for result in results), results
    entries = _ledger(tmp_path)
    tokens = sum(e["tokens"] for e in entries)  # type: ignore[misc]
    calls = [int(result.split()[0]) for result in results]
    assert tokens == 1500 * sum(calls)  # every call of both is in the ledger
    assert tokens >= 6000
