"""pytest plugin: the ``spanline_capture`` fixture, registered by a ``pytest11`` entry point.

Installing spanline is enough; no ``conftest.py`` line is needed::

    def test_agent(spanline_capture):
        run_my_agent()
        assert spanline_capture.span("my-agent")["status"] == "ok"

Turn the plugin off with ``pytest -p no:spanline``.

pytest imports this module in every session of every project that has spanline
installed, used or not, so loading it does nothing: no tracing is configured, no
file is opened, no thread is started. The capture helper is imported only when a
test asks for the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from spanline.testing import CapturedSpans

__all__ = ["spanline_capture"]


@pytest.fixture
def spanline_capture() -> Iterator[CapturedSpans]:
    """Tracing on for one test, every span kept in memory.

    Yields:
        The :class:`spanline.testing.CapturedSpans` of the test; after the test
        tracing is shut down and its temporary run directory removed.
    """
    # Imported here, not at the top: the plugin loads in every pytest session.
    from spanline.testing import capture_spans

    with capture_spans() as captured:
        yield captured
