"""Exporters: where events go besides ``telemetry.jsonl``. One exporter per module.

Any object with ``export(batch)`` is an exporter (see :class:`Exporter`).
Exporters are found by name through the ``spanline.exporters`` entry points, so
``SPANLINE_EXPORTERS=name`` works for built-in and third-party ones alike.
Modules are imported on first use: ``import spanline`` loads none of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spanline.exporters._base import Exporter
    from spanline.exporters._registry import build_exporter, registered_names
    from spanline.exporters.console import ConsoleExporter
    from spanline.exporters.jsonl import JsonlExporter
    from spanline.exporters.logfire import LogfireExporter
    from spanline.exporters.memory import InMemoryExporter
    from spanline.exporters.otlp import OtlpExporter

__all__ = [
    "ConsoleExporter",
    "Exporter",
    "InMemoryExporter",
    "JsonlExporter",
    "LogfireExporter",
    "OtlpExporter",
    "build_exporter",
    "registered_names",
]

_WHERE = {
    "ConsoleExporter": "spanline.exporters.console",
    "Exporter": "spanline.exporters._base",
    "InMemoryExporter": "spanline.exporters.memory",
    "JsonlExporter": "spanline.exporters.jsonl",
    "LogfireExporter": "spanline.exporters.logfire",
    "OtlpExporter": "spanline.exporters.otlp",
    "build_exporter": "spanline.exporters._registry",
    "registered_names": "spanline.exporters._registry",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'spanline.exporters' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
