"""Exporters: where events go besides ``telemetry.jsonl``. One exporter per module.

Any object with ``export(batch)``, ``flush()`` and ``shutdown()`` is an
exporter (see :class:`Exporter`); names usable in ``SPANLINE_EXPORTERS`` are
listed in :data:`NAMED_EXPORTERS`.
"""

from __future__ import annotations

import importlib
from typing import Any

from spanline.exporters._base import Exporter
from spanline.exporters.console import ConsoleExporter
from spanline.exporters.jsonl import JsonlExporter
from spanline.exporters.memory import InMemoryExporter

__all__ = [
    "NAMED_EXPORTERS",
    "ConsoleExporter",
    "Exporter",
    "InMemoryExporter",
    "JsonlExporter",
    "exporter_from_name",
]

#: Name -> "module:class". Exporters that need an extra (otlp, logfire) are
#: imported only when named, so the core works without the extras.
#: ``jsonl`` is always on: it is the run's own telemetry.jsonl.
NAMED_EXPORTERS: dict[str, str] = {
    "console": "spanline.exporters.console:ConsoleExporter",
    "memory": "spanline.exporters.memory:InMemoryExporter",
}


def exporter_from_name(name: str) -> Any:
    """Instantiate the exporter registered under ``name``.

    Raises:
        KeyError: no exporter has that name.
    """
    module_name, _, class_name = NAMED_EXPORTERS[name].partition(":")
    return getattr(importlib.import_module(module_name), class_name)()
