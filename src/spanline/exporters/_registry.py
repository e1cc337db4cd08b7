"""Finding exporters by name (built-ins first, then the ``spanline.exporters`` entry points)
and building the ones the settings name.

Third-party packages register a factory (a class or function taking keyword
settings) under the entry-point group ``spanline.exporters``; spanline's own
exporters are registered there too. Built-ins are looked up in a static table
first, because scanning installed packages' metadata costs tens of
milliseconds.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any

from spanline._capture._install import install_command
from spanline.exceptions import ConfigurationError, SpanlineWarning

__all__ = ["GROUP", "build_exporter", "build_exporters", "registered_names"]

#: The entry-point group exporters register under.
GROUP = "spanline.exporters"

#: Built-in name -> ("module:attribute", extra needed or None).
BUILTIN: dict[str, tuple[str, str | None]] = {
    "console": ("spanline.exporters.console:ConsoleExporter", None),
    "memory": ("spanline.exporters.memory:InMemoryExporter", None),
    "otlp": ("spanline.exporters.otlp:OtlpExporter", "otlp"),
    "logfire": ("spanline.exporters.logfire:logfire_exporter", "logfire"),
}

_warned: set[str] = set()


def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=GROUP)}


def registered_names() -> list[str]:
    """Every exporter name usable in ``SPANLINE_EXPORTERS`` (plus ``jsonl``, always on)."""
    return sorted({"jsonl", *BUILTIN, *_entry_points()})


def _load(target: str) -> Callable[..., Any]:
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)  # type: ignore[no-any-return]


def _missing_extra(name: str, install: str, exc: ImportError) -> None:
    if name not in _warned:
        _warned.add(name)
        warnings.warn(
            f"exporter {name!r} is skipped: it needs {exc.name or 'a package'} "
            f"({install}); telemetry.jsonl is still written",
            SpanlineWarning,
            stacklevel=5,
        )


def build_exporter(name: str, **settings: Any) -> Any | None:
    """Create the exporter registered as ``name``.

    Args:
        name: a built-in name (``console``, ``memory``) or an entry-point name.
        **settings: keyword settings for its factory.

    Returns:
        The exporter, or None when its extra is not installed (warned once).

    Raises:
        ConfigurationError: no exporter is registered under ``name``.
    """
    builtin = BUILTIN.get(name)
    if builtin is not None:
        target, extra = builtin
        try:
            factory = _load(target)
        except ImportError as exc:
            _missing_extra(name, install_command(extra or name), exc)
            return None
        return factory(**settings)
    entry = _entry_points().get(name)
    if entry is None:
        accepted = ", ".join(registered_names())
        raise ConfigurationError(f"unknown exporter {name!r}; registered names: {accepted}")
    try:
        factory = entry.load()
    except ImportError as exc:
        dist = entry.dist.name if entry.dist is not None else "the package providing it"
        extras = f"[{','.join(entry.extras)}]" if entry.extras else ""
        _missing_extra(name, f"pip install '{dist}{extras}'", exc)
        return None
    return factory(**settings)


def _unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name#2``, ``name#3``... when an exporter of that name exists already."""
    chosen, number = name, 1
    while chosen in taken:
        number += 1
        chosen = f"{name}#{number}"
    taken.add(chosen)
    return chosen


def _with_logfire(names: tuple[Any, ...], logfire: bool | None) -> tuple[Any, ...]:
    """The exporters with ``logfire`` added (True) or removed (False)."""
    if logfire is None:
        return names
    others = tuple(item for item in names if item != "logfire")
    return (*others, "logfire") if logfire else others


def build_exporters(
    items: tuple[Any, ...], *, logfire: bool | None, explicit: bool
) -> list[tuple[str, Any]]:
    """The exporters the settings name, built, each with a unique name.

    Args:
        items: the ``exporters`` setting: names (looked up with :func:`build_exporter`)
            and exporter objects; ``jsonl`` is skipped (telemetry.jsonl is always written).
        logfire: the ``logfire`` setting: True adds ``logfire``, False removes it.
        explicit: the names were given to ``configure_observability()`` (an unknown
            one raises), not read from ``SPANLINE_EXPORTERS`` (it warns).

    Returns:
        ``(name, exporter)`` pairs; a name taken twice gets ``#2``, ``#3``...

    Raises:
        ConfigurationError: an explicit unknown name, or an object with no ``export``.
    """
    built: list[tuple[str, Any]] = []
    taken: set[str] = set()
    for item in _with_logfire(items, logfire):
        if isinstance(item, str):
            if item == "jsonl":
                continue  # telemetry.jsonl is always written
            try:
                exporter = build_exporter(item)
            except ConfigurationError as exc:
                if explicit:
                    raise
                warnings.warn(f"SPANLINE_EXPORTERS: {exc}", SpanlineWarning, stacklevel=4)
                continue
            if exporter is not None:
                built.append((_unique_name(item, taken), exporter))
        elif callable(getattr(item, "export", None)):
            name = getattr(item, "name", None)
            label = name if isinstance(name, str) and name else type(item).__name__
            built.append((_unique_name(label, taken), item))
        else:
            raise ConfigurationError(f"exporter {item!r} has no export(batch) method")
    return built
