"""The encoder's orjson options, given by value so that importing the encoder loads no orjson."""

from __future__ import annotations

import textwrap
from pathlib import Path

import orjson

from spanline._lines import _encode
from tests._helpers import run_python


def test_the_options_by_value_are_orjsons_own() -> None:
    assert _encode._OPTIONS == orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS


def test_a_line_encodes_with_a_newline_and_non_string_keys() -> None:
    assert _encode.encode({"a": {1: 2}}) == b'{"a":{"1":2}}\n'


def test_a_fork_waits_while_another_thread_imports_the_encoder(tmp_path: Path) -> None:
    """The child would otherwise inherit orjson's import locks held by a thread it
    does not have, and hang on its first line."""
    code = textwrap.dedent(
        f"""
        import os, threading, spanline
        from spanline._lines import _encode

        spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r})

        order, about_to_fork, forked = [], threading.Event(), threading.Event()

        def fork():
            about_to_fork.set()
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            order.append("forked")
            forked.set()
            os.waitpid(pid, 0)

        _encode.THREAD_IMPORTS.acquire()  # as the writer thread does while importing orjson
        thread = threading.Thread(target=fork)
        thread.start()
        about_to_fork.wait()
        forked.wait(2.0)  # without the wait at fork, the fork is done by now
        order.append("import done")
        _encode.THREAD_IMPORTS.release()
        thread.join()
        print(order)
        """
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['import done', 'forked']"


def test_no_fork_child_inherits_the_encoders_import_lock_held(tmp_path: Path) -> None:
    """A fork that only waited for the lock to be free left a gap before the fork itself,
    where another thread could take it again: the child then inherited it held by a
    thread it does not have, and hung on its first line (a pool worker, now and then)."""
    code = textwrap.dedent(
        f"""
        import os, threading, time, spanline
        from spanline._lines import _encode

        spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r})
        stop = threading.Event()

        def imports():  # as spanline's threads do while a run starts, over and over
            while not stop.is_set():
                with _encode.THREAD_IMPORTS:
                    time.sleep(0.0002)

        thread = threading.Thread(target=imports)
        thread.start()
        held = 0
        for _ in range(150):
            pid = os.fork()
            if pid == 0:  # the child has one thread: the lock must be free in it
                os._exit(0 if _encode.THREAD_IMPORTS.acquire(timeout=2.0) else 1)
            held += os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        stop.set()
        thread.join()
        print(held)
        """
    )
    result = run_python(code, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"
