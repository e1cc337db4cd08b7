"""Commands that read a large run pause the garbage collector while they read, and only then."""

from __future__ import annotations

import gc

import pytest

from spanline.cli._read import garbage_collector_paused


def test_the_collector_is_paused_inside_and_restored_after_even_on_error() -> None:
    was = gc.isenabled()
    try:
        gc.enable()
        with garbage_collector_paused():
            assert not gc.isenabled()
        assert gc.isenabled()
        with pytest.raises(ValueError), garbage_collector_paused():
            raise ValueError("bad line")
        assert gc.isenabled()
        gc.disable()  # a host that had it off keeps it off
        with garbage_collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()
