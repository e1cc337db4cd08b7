"""``spanline.instrument(name)`` and ``uninstrument(name)``: SDK calls traced undecorated.

Each provider module lists the SDK methods it wraps (:class:`Target`); this module
patches them on their classes and puts the originals back. The wrappers are the
decorators' own (:func:`spanline._decorators._wrapping.decorate` with an LLM recipe), so an
instrumented call records exactly what a ``@traced_llm`` function records, and
costs one check while tracing is off.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

from spanline._decorators._wrapping import decorate
from spanline._instrument._recipe import SdkCall, Target
from spanline.exceptions import ConfigurationError

__all__ = ["instrument", "instrumented", "uninstrument"]

#: Library name -> (provider module, the distribution to install).
_LIBRARIES = {
    "openai": ("spanline._instrument._openai", "openai"),
    "anthropic": ("spanline._instrument._anthropic", "anthropic"),
    "google-genai": ("spanline._instrument._google_genai", "google-genai"),
}

#: What is patched now, by library: (class, attribute, original class-dict value).
_PATCHED: dict[str, list[tuple[type, str, Any]]] = {}
_LOCK = threading.Lock()


def _targets(name: str) -> list[Target]:
    if not isinstance(name, str):
        raise TypeError(f"the library name must be a str, not {type(name).__name__}")
    if name not in _LIBRARIES:
        known = ", ".join(repr(known) for known in _LIBRARIES)
        raise ConfigurationError(f"cannot instrument {name!r}: the libraries are {known}")
    module_name, distribution = _LIBRARIES[name]
    try:
        module = importlib.import_module(module_name)
        targets: list[Target] = module.targets()
    except ImportError as exc:
        raise ConfigurationError(
            f"cannot instrument {name!r}: it is not installed (pip install {distribution})"
        ) from exc
    return targets


def instrument(name: str, /) -> None:
    """Trace every call of a provider SDK as an LLM span, with no decorator.

    Sync and async calls, streams (``stream=True``), the ``.stream(...)`` helpers,
    ``with_raw_response`` and text-only consumption all record ``gen_ai.*``
    attributes, token usage, the time to the first chunk and the cost. Clients made
    before the call are traced too. Calling it again changes nothing.

    Args:
        name: ``"openai"``, ``"anthropic"`` or ``"google-genai"``.

    Raises:
        ConfigurationError: an unknown name, or the SDK is not installed.
    """
    targets = _targets(name)
    with _LOCK:
        if name in _PATCHED:
            return
        patched: list[tuple[type, str, Any]] = []
        for target in targets:
            original = target.owner.__dict__[target.attribute]
            recipe = SdkCall(original, target)
            setattr(target.owner, target.attribute, decorate(original, recipe))
            patched.append((target.owner, target.attribute, original))
        _PATCHED[name] = patched


def uninstrument(name: str, /) -> None:
    """Put back the SDK methods :func:`instrument` replaced, exactly as they were.

    Args:
        name: a library given to :func:`instrument`; one not instrumented is left alone.

    Raises:
        ConfigurationError: an unknown name.
    """
    if name not in _LIBRARIES:
        _targets(name)  # raises the same error instrument() gives
    with _LOCK:
        for owner, attribute, original in reversed(_PATCHED.pop(name, [])):
            setattr(owner, attribute, original)


def instrumented() -> list[str]:
    """The libraries instrumented now, sorted."""
    with _LOCK:
        return sorted(_PATCHED)
