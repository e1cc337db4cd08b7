"""The span handed out while tracing is off: one shared object whose methods do nothing."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

__all__ = ["NOOP_SPAN", "NoOpSpan"]


class NoOpSpan:
    """The span handed out while tracing is off: every method does nothing."""

    __slots__ = ()
    _id = 0
    name = ""
    kind = None
    component = None
    span_id = ""
    is_recording = False
    #: Read-only: one object is shared by every caller while tracing is off.
    attributes: Mapping[str, Any] = MappingProxyType({})

    def __enter__(self) -> NoOpSpan:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        return None  # named parameters: no tuple of them to build on every disabled span

    async def __aenter__(self) -> NoOpSpan:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    def end(self, ts: float | None = None, error: BaseException | None = None) -> None:
        """Do nothing."""

    def add(self, **counters: int | float) -> None:
        """Do nothing."""

    def set_attribute(self, key: str, value: Any) -> None:
        """Do nothing."""

    def set_attributes(self, attributes: dict[str, Any]) -> None:
        """Do nothing."""

    def record_exception(self, exc: BaseException) -> None:
        """Do nothing."""

    def set_status(self, status: str, description: str | None = None) -> None:
        """Do nothing."""

    def __repr__(self) -> str:
        return "<NoOpSpan>"


NOOP_SPAN: Final = NoOpSpan()
