"""The OTLP exporter's helper process: it assembles, encodes and sends spans, so the
application's process spends only a C serialization and a pipe write per batch.

The parent (:class:`SenderProcess`, on the exporter's worker thread) writes frames to
the child's stdin; the child (``python -m spanline.exporters._otlp_process``) answers
each batch on its stdout. A frame is a 4-byte big-endian length and its bytes:

- first frame: the settings, JSON (``sender``: the sender class as ``module:class``);
- then one frame per attempt: an 8-byte sequence number and the batch as JSON. A
  retry sends the same number, and the child resumes that batch where it stopped;
- the child's answer: JSON ``{"seq": n, "ok": true}`` or ``{"seq": n, "ok": false,
  "error": "..."}``.

The child ends at end of input: when the parent shuts the exporter down or exits.
It runs with no ``SPANLINE_*`` variables, so spanline never traces it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import IO, Any

import orjson

__all__ = ["SenderProcess", "main"]

_LENGTH = 4
_SEQ = 8


def _write(stream: IO[bytes], payload: bytes) -> None:
    stream.write(len(payload).to_bytes(_LENGTH, "big") + payload)
    stream.flush()


def _read(stream: IO[bytes]) -> bytes | None:
    """One frame, or None at end of input."""
    head = stream.read(_LENGTH)
    if len(head) < _LENGTH:
        return None
    size = int.from_bytes(head, "big")
    payload = stream.read(size)
    return payload if len(payload) == size else None


def _child_environment() -> dict[str, str]:
    """The parent's environment (the OTEL_* variables apply) without what would make
    the child join the run: spanline never traces its own sender."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SPANLINE_") and key != "TRACEPARENT"
    }


class SenderProcess:
    """The parent's side: starts the helper on first use and again after it died.

    Args:
        settings: the exporter's settings (see :class:`~spanline.exporters.otlp.OtlpExporter`).
    """

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self._settings = orjson.dumps(dict(settings))
        self._child: subprocess.Popen[bytes] | None = None
        self._batch: object | None = None
        self._payload = b""
        self._seq = 0

    def _start(self) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(
            [sys.executable, "-m", "spanline.exporters._otlp_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=_child_environment(),
        )
        assert child.stdin is not None
        _write(child.stdin, self._settings)
        self._child = child
        return child

    def export(self, batch: Sequence[Mapping[str, Any]]) -> None:
        """Hand ``batch`` to the helper and wait for its answer (without the GIL).

        Raises:
            ConnectionError: the receiver did not take every span, or the helper died.
        """
        if batch is not self._batch:
            self._batch = batch
            self._seq += 1
            self._payload = self._seq.to_bytes(_SEQ, "big") + orjson.dumps(
                list(batch), default=repr, option=orjson.OPT_NON_STR_KEYS
            )
        child = self._child
        try:
            if child is None or child.poll() is not None:
                self._stop(0.0)  # a helper that died: close its pipes before the next one
                child = self._start()
            assert child.stdin is not None and child.stdout is not None
            _write(child.stdin, self._payload)
            answer = _read(child.stdout)
        except OSError as exc:
            self._stop(0.0)
            raise ConnectionError(f"the OTLP sender process failed: {exc}") from None
        if answer is None:
            self._stop(0.0)
            raise ConnectionError("the OTLP sender process ended unexpectedly")
        reply = orjson.loads(answer)
        if not reply.get("ok"):
            raise ConnectionError(str(reply.get("error")))

    def shutdown(self, timeout: float) -> None:
        """End the helper: end of input, then ``timeout`` seconds to finish, then kill."""
        self._stop(timeout)

    def _stop(self, timeout: float) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        try:
            if child.stdin is not None:
                child.stdin.close()
            child.wait(timeout)
        except (OSError, subprocess.TimeoutExpired):
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()

    def after_fork(self) -> None:
        """In a forked child: drop (without waiting on) the parent's helper: its pipes
        are closed here so that the helper still sees the parent's end of input."""
        child, self._child = self._child, None
        for stream in (child.stdin, child.stdout) if child is not None else ():
            try:
                if stream is not None:
                    os.close(stream.fileno())
            except OSError:
                pass
        self._batch = None


def _exit_with_parent(parent: int) -> None:
    """End this helper when its parent is gone, even in the middle of a request that
    retries for a while: it must never outlive the program it sends for."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def main() -> int:
    """The helper's loop: settings, then batches until end of input."""
    from spanline.exporters.otlp import load_sender

    try:
        # Background work: when cores are scarce, the program being traced goes first
        # (a backlog here is bounded, dropped and counted; a slower program is not).
        os.nice(10)
    except (AttributeError, OSError):
        pass
    threading.Thread(
        target=_exit_with_parent, args=(os.getppid(),), name="spanline-otlp-watch", daemon=True
    ).start()
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    settings = _read(stdin)
    if settings is None:
        return 0
    options = orjson.loads(settings)
    sender = load_sender(options.pop("sender", "spanline.exporters.otlp:OtlpSender"))(**options)
    last_seq, batch = -1, None
    try:
        while (frame := _read(stdin)) is not None:
            seq = int.from_bytes(frame[:_SEQ], "big")
            if seq != last_seq or batch is None:
                last_seq, batch = seq, orjson.loads(frame[_SEQ:])
            try:
                sender.export(batch)
                reply: dict[str, Any] = {"seq": seq, "ok": True}
            except Exception as exc:  # reported by the parent, counted by the platform
                reply = {"seq": seq, "ok": False, "error": str(exc)}
            _write(stdout, orjson.dumps(reply))
    except (BrokenPipeError, KeyboardInterrupt):
        pass
    finally:
        sender.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
