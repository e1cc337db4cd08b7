"""The live summary in a process of its own, so folding never competes with the run.

The process that created a run starts ``python -m spanline._session._sidecar``
from a thread of its own (never on the first span's path). The helper tails
telemetry.jsonl with the ordinary fold on the machine's other core, keeps up
with the log as it grows, and rewrites run_summary.json every interval. At
shutdown the host tells it the final size of the log; the helper says how much
of it is left to fold. When that is little (it has kept up), or the log is not
large, the host waits while it folds the rest and writes the summary (and the
MassGen-style artifacts). When much of a large log is left (a runaway that
filled the queue, a loaded machine) the program ends at once and the helper
finishes the summary after it: the log is whole on disk, and until the summary
covers all of it the readers of a whole run fold the log themselves. When the
host dies without a word (kill -9), its end of the pipe closes: the helper folds
to the end of the file and writes the summary itself, ``incomplete``. Where no
process can be started, the summary is folded on a thread in the host, as
before.

Protocol, one line at a time: the host writes ``final <offset>`` (or ``quit``:
end without writing); the helper writes ``ready`` once it has loaded, then, after
``final``, ``behind <bytes left to fold>`` at once and ``done`` once the final
summary is written.
"""

from __future__ import annotations

import os
import select
import sys
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from spanline._capture._report import report
from spanline._hotpath._runtime import mark_internal_thread
from spanline._runs._store import Run, read_stored_summary

if TYPE_CHECKING:
    import subprocess

    from spanline._session._live_summary import LiveSummary
    from spanline.folds import RunSummary

__all__ = ["SummarySidecar", "main"]

#: Below this size the log is folded in the host at shutdown: a fresh helper may not
#: have loaded yet, and folding a small log costs less than waiting for it.
SMALL_LOG_BYTES = 4 << 20
#: Seconds the program runs before its helper is started: a short script (a test, a
#: one-shot command) ends before that and costs no second interpreter at all.
SPAWN_AFTER_S = 0.5
#: Seconds between looks at the log while nothing arrives from the host.
_POLL_S = 0.1
#: Seconds before the first summary of a run.
_FIRST_PASS_S = 1.0
#: How long the host waits for the helper's final summary; past it the helper still
#: writes it on its own (the host's exit does not stop it).
_FINAL_WAIT_S = 60.0
#: A log at least this large whose helper has more than EXIT_FOLD_BYTES of it left to
#: fold at shutdown: the program does not wait for the final summary (the helper folds
#: about 40-100 MB a second here). A helper that kept up is far below that; one whose
#: program flooded the log (a runaway that filled the writer's queue), or whose other
#: core was busy, is not. Smaller logs are always waited for: ``shutdown()`` then
#: returns their summary.
LARGE_LOG_BYTES = 256 << 20
EXIT_FOLD_BYTES = 8 << 20
#: Bytes the helper folds between two looks at its pipe, so that it answers ``final``
#: promptly even while it is far behind.
_FOLD_STEP_BYTES = 4 << 20
#: How long the host waits for the helper to say how far behind it is.
_ANSWER_WAIT_S = 10.0

#: Folds being loaded on a starter thread now. A fork meanwhile would hand the child
#: the import locks that thread holds, and the child would hang on its first import
#: of those modules: a fork waits until the loading is done.
_LOADING: set[threading.Event] = set()


def _before_fork() -> None:
    for loaded in list(_LOADING):
        loaded.wait(10.0)


class SummarySidecar:
    """The host's handle on the helper process (or on the fallback thread).

    Args:
        run: the run to summarise.
        interval: seconds between rewrites of run_summary.json (0: only at the end).
        prices: the session's price table.
        price_override: what the user gave as prices (a path or a mapping), handed
            to the helper, which builds the same table.
    """

    def __init__(self, run: Run, *, interval: float, prices: Any, price_override: Any) -> None:
        self.run = run
        self.interval = interval
        self._prices = prices
        self._override = price_override
        self._lock = threading.Lock()
        self._closed = False  # finish() has begun: start nothing more
        self._finishing = threading.Event()  # the same, for the starter's wait
        self._first_write_at = time.time() + min(interval, _FIRST_PASS_S)
        self._process: subprocess.Popen[bytes] | None = None
        self._ready = threading.Event()
        # The folds load on the starter's thread, not on configure's path (about 46 ms
        # before the first span), and never at the end: a module first imported while
        # the interpreter exits after an uncaught Ctrl-C costs the exit status its signal.
        self._loaded = threading.Event()
        self._fallback: LiveSummary | None = None
        self._starter: threading.Thread | None = None

    def start(self) -> None:
        """Start the helper from a thread of its own; configure does not wait for it."""
        from spanline._writer._fork import before_fork

        before_fork(_before_fork)
        starter = threading.Thread(target=self._start, name="spanline-summary", daemon=True)
        _LOADING.add(self._loaded)
        try:
            starter.start()
        except RuntimeError:  # no thread to be had: the summary is folded at the end
            self._loaded.set()
            _LOADING.discard(self._loaded)
            return
        self._starter = starter

    def _start(self) -> None:
        mark_internal_thread()
        try:  # for a last fold here (a small log, no helper) and the summary returned
            from spanline._session import _live_summary  # noqa: F401
            from spanline.folds import summary  # noqa: F401
        except Exception as exc:  # the final fold tries again, and reports
            report("could not load the summary's folds", exc=exc)
        finally:
            self._loaded.set()
            _LOADING.discard(self._loaded)
        if self._finishing.wait(SPAWN_AFTER_S):
            return  # ended before it needed a helper: shutdown folds the log
        with self._lock:
            if self._closed:
                return
            try:
                self._process = process = _spawn(
                    self.run, self.interval, self._override, self._first_write_at
                )
            except Exception as exc:  # no process here (a sandbox): fold on a thread
                report("the summary is folded in this process", exc=exc, level="DEBUG")
                self._fallback = self._live()
                self._fallback.start()
                return
        try:
            if process.stdout is not None and process.stdout.readline().strip() == b"ready":
                self._ready.set()
        except (OSError, ValueError):  # killed by finish() meanwhile
            pass

    def wait_loaded(self, timeout: float) -> bool:
        """Wait until the folds are loaded (a signal handler does, before a
        KeyboardInterrupt is raised).

        Returns:
            True once they are (or failed to load), False on timeout.
        """
        return self._loaded.wait(timeout)

    def _live(self) -> LiveSummary:
        from spanline._session._live_summary import LiveSummary

        return LiveSummary(self.run, interval=self.interval, prices=self._prices)

    def forget(self) -> None:
        """In a forked child: let go of the pipe without a word (the parent keeps it)."""
        process, self._process = self._process, None
        if process is not None:
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    try:
                        stream.close()
                    except (OSError, ValueError):
                        pass

    def finish(self, timeout: float = 10.0) -> RunSummary | None:
        """Write the final run_summary.json and return it (None: not written in time).

        A small log is folded here (no waiting for a helper that may still be
        loading); a large one by the helper, which has kept up with it.

        Args:
            timeout: how long the fallback thread's last pass may wait for its lock,
                and a large run's helper to finish loading.
        """
        self._finishing.set()
        with self._lock:
            self._closed = True
            process, fallback = self._process, self._fallback
        if fallback is not None:
            return fallback.finish(timeout)
        try:
            size = os.path.getsize(self.run.telemetry_path)
        except OSError:
            size = 0
        if process is not None and size >= SMALL_LOG_BYTES and self._ready.wait(timeout):
            return self._hand_over(process, size, timeout)
        _stop(process)
        if self._starter is not None:  # it ends once the helper's pipe closes
            self._starter.join(timeout)
        return self._live().finish(timeout)

    def _hand_over(
        self, process: subprocess.Popen[bytes], size: int, timeout: float
    ) -> RunSummary | None:
        assert process.stdin is not None and process.stdout is not None
        answered = b""
        behind: int | None = None
        try:
            process.stdin.write(f"final {size}\n".encode())
            process.stdin.close()
            behind = _behind(_read_line(process.stdout, _ANSWER_WAIT_S))
            # A helper too slow even to answer is waited for, as any small log's.
            if behind is None or behind <= EXIT_FOLD_BYTES or size < LARGE_LOG_BYTES:
                answered = _read_line(process.stdout, _FINAL_WAIT_S)
        except OSError:
            pass
        finally:
            process.stdin.close()
            process.stdout.close()  # a helper still folding is never told anything more
        if answered.strip() != b"done":
            status = process.poll()
            if status is None:  # still folding: it writes the summary on its own
                left = f" ({behind / (1 << 20):.0f} MB of log to fold)" if behind else ""
                report(
                    f"run_summary.json is being finished by its helper process{left}; "
                    "it is written after the program ends, and until then readers fold "
                    "the log themselves",
                    level="INFO",
                )
                return None
            if status != 0:
                return self._live().finish(timeout)  # the helper died: fold here
            # Done between its answer and this look: its summary is on disk (checked below).
        _reap(process)
        from spanline.folds import RunSummary

        try:
            stored = read_stored_summary(self.run)
            covered = stored.get("log_offset") if isinstance(stored, dict) else None
            if isinstance(covered, int) and covered >= size:  # the final one, not an older
                return RunSummary.from_dict(stored)
        except (OSError, ValueError, TypeError) as exc:
            report("could not read back run_summary.json", exc=exc)
            return None
        return self._live().finish(timeout)  # it did not cover the log: fold here


def _reap(process: subprocess.Popen[bytes]) -> None:
    """Collect the helper's exit on a thread: a helper that held a long run's fold takes a
    while to give its memory back to the system, and the program need not wait."""
    try:
        threading.Thread(target=process.wait, name="spanline-summary", daemon=True).start()
    except RuntimeError:  # at interpreter exit Python 3.12 starts no thread: nor need we
        pass


def _spawn(
    run: Run, interval: float, override: Any, first_write_at: float
) -> subprocess.Popen[bytes]:
    import subprocess

    import orjson

    config = orjson.dumps(
        {
            "directory": str(run.directory),
            "run_id": run.run_id,
            "interval": interval,
            "first_write_at": first_write_at,
            "prices": override,
        }
    )
    # The helper is no traced program: none of the run's settings reach it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPANLINE_")}
    env.pop("TRACEPARENT", None)
    return subprocess.Popen(
        [sys.executable, "-m", "spanline._session._sidecar", config.decode()],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        # Unbuffered: a buffered pipe has a lock, which a fork taken while the starter
        # thread reads would leave held in the child.
        bufsize=0,
        env=env,
        # Its own session: a Ctrl-C at the terminal is the host's to handle; the
        # helper ends when told, or when the host's end of the pipe closes.
        start_new_session=True,
    )


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    """End the helper without letting it write again (the host writes the summary)."""
    if process is None:
        return
    try:
        process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
    except OSError:
        pass


def _read_line(stream: IO[bytes], timeout: float) -> bytes:
    ready, _, _ = select.select([stream], [], [], timeout)
    return stream.readline() if ready else b""


def _behind(answer: bytes) -> int | None:
    """The bytes a ``behind <n>`` answer says are left to fold (None: no such answer)."""
    word, _, number = answer.strip().partition(b" ")
    return int(number) if word == b"behind" and number.isdigit() else None


# -- the helper process ------------------------------------------------------------------------
def main(argv: list[str]) -> int:
    """Run the helper: fold the run's log until told to finish or orphaned."""
    import orjson

    from spanline._capture._report import add_log_file
    from spanline._session._live_summary import LiveSummary
    from spanline._session._parts import price_table

    config = orjson.loads(argv[0])
    run = Run(config["run_id"], Path(config["directory"]))
    add_log_file(run.log_path)
    live = LiveSummary(
        run, interval=config["interval"], prices=price_table(config["prices"], explicit=False)
    )
    out = sys.stdout.buffer
    _say(out, b"ready")
    command, size = _follow(live, float(config["interval"]), float(config["first_write_at"]))
    if command == b"quit":
        return 0
    if size is not None:
        _say(out, b"behind %d" % max(0, size - live.folded()))
    live.finish(timeout=_FINAL_WAIT_S)
    _say(out, b"done")
    return 0


def _say(out: IO[bytes], line: bytes) -> None:
    """One line to the host. A host that stopped listening (or died) is no error:
    the summary is on disk all the same."""
    try:
        out.write(line + b"\n")
        out.flush()
    except OSError:
        pass


def _follow(live: LiveSummary, interval: float, first_write_at: float) -> tuple[bytes, int | None]:
    """Fold the log as it grows and write the summary every interval, until the host
    says ``final``/``quit`` or its end of the pipe closes; return the command and the
    log's final size when the host gave one."""
    stdin = sys.stdin.buffer
    # The first summary comes when the program's first one is due (a second after
    # configure at most), however long the helper took to start.
    due = time.monotonic() + max(0.0, first_write_at - time.time())
    more = False  # the last step stopped at its limit: more is waiting
    while True:
        ready, _, _ = select.select([stdin], [], [], 0 if more else _POLL_S)
        if ready:
            # An empty read: the host died (its pipe closed): finish as told to.
            command, _, size = stdin.readline().strip().partition(b" ")
            return command or b"final", int(size) if size.isdigit() else None
        try:
            before = live.folded()
            more = live.fold_new(limit=_FOLD_STEP_BYTES) - before >= _FOLD_STEP_BYTES
            if interval > 0 and time.monotonic() >= due:
                live.write()
                due = time.monotonic() + interval
        except Exception as exc:  # keep following; the final pass reports again if it must
            more = False  # and never in a tight loop
            report("could not update run_summary.json", exc=exc)


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    status = main(sys.argv[1:])
    # The summary is on disk: the fold's state (hundreds of MB after a long run) is not
    # freed object by object, which kept the program's shutdown waiting a third of a
    # second. The log file is closed first, so that it holds every line.
    if "loguru" in sys.modules:
        sys.modules["loguru"].logger.remove()
    os._exit(status)
