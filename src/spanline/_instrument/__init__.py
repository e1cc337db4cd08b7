"""``spanline.instrument(name)`` and ``uninstrument(name)``: SDKs and agent frameworks traced
without decorators.

Names are the packages' distribution names. Two sorts of integration live here:

* **provider SDKs** (``openai``, ``anthropic``, ``google-genai``): each provider module
  lists the SDK methods it wraps (:class:`Target`); this module patches them on their
  classes and puts the originals back. The wrappers are the decorators' own, so an
  instrumented call records exactly what a ``@traced_llm`` function records;
* **agent frameworks** (``openai-agents``, ``langchain``, ``crewai``, ``pydantic-ai``,
  ``google-adk``): each module's ``install()`` hooks the framework where it is strongest
  (a trace processor, a callback handler, an event listener, its OpenTelemetry spans
  read through the bridge) and ``uninstall()`` unhooks it.

Each integration declares the package versions it was tested with
(:data:`_versions.TESTED`); another version warns once and is traced all the same.
"""

from __future__ import annotations

import importlib
import threading
import warnings
from typing import Any

from spanline._decorators._wrapping import decorate
from spanline._hotpath._runtime import RUNTIME
from spanline._hotpath._tracer import wall_time
from spanline._instrument import _versions
from spanline._instrument._recipe import SdkCall, Target
from spanline._lines._encode import integration_line
from spanline.exceptions import ConfigurationError, SpanlineWarning
from spanline.schema import INTEGRATION_NAMES, RAW

__all__ = ["NAMES", "instrument", "instrument_from_environment", "instrumented", "uninstrument"]

#: Integration name -> (its module, the package to install when it is missing), in the
#: order of ``INTEGRATION_NAMES``.
_LIBRARIES = {
    "openai": ("spanline._instrument._openai", "openai"),
    "anthropic": ("spanline._instrument._anthropic", "anthropic"),
    "google-genai": ("spanline._instrument._google_genai", "google-genai"),
    "openai-agents": ("spanline._instrument._openai_agents", "openai-agents"),
    "langchain": ("spanline._instrument._langchain", "langchain"),
    "crewai": ("spanline._instrument._crewai", "crewai"),
    "pydantic-ai": ("spanline._instrument._pydantic_ai", "pydantic-ai"),
    "google-adk": ("spanline._instrument._google_adk", "google-adk"),
}
#: Every name ``instrument()`` takes besides ``"all"``, in the order ``"all"`` loads them
#: (SDKs first, so a framework's spans find the SDK's inside them from the start).
NAMES: tuple[str, ...] = INTEGRATION_NAMES

#: What is loaded now, by name: the undo of each, and the version recorded.
_LOADED: dict[str, tuple[Any, str]] = {}
_LOCK = threading.Lock()


def _module(name: str) -> Any:
    if not isinstance(name, str):
        raise TypeError(f"the integration name must be a str, not {type(name).__name__}")
    if name not in _LIBRARIES:
        known = ", ".join(repr(known) for known in (*_LIBRARIES, "all"))
        raise ConfigurationError(f"cannot instrument {name!r}: the names are {known}")
    module_name, distribution = _LIBRARIES[name]
    try:
        importlib.import_module(_versions.PACKAGES[name].module)  # the package itself
    except ImportError as exc:
        raise _not_installed(name, distribution) from exc
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:  # installed, but not as the integration knows it
        raise ConfigurationError(
            f"cannot instrument {name!r}: its installed version lacks what spanline hooks ({exc})"
        ) from exc


def _not_installed(name: str, distribution: str) -> ConfigurationError:
    return ConfigurationError(
        f"cannot instrument {name!r}: it is not installed (pip install {distribution})"
    )


def _targets(name: str) -> list[Target]:
    """The SDK methods a provider integration patches."""
    module = _module(name)
    try:
        targets: list[Target] = module.targets()
    except ImportError as exc:
        raise _not_installed(name, _LIBRARIES[name][1]) from exc
    return targets


def instrument(name: str, /) -> None:
    """Trace a provider SDK's calls, or an agent framework's agents, tools and LLM calls.

    SDKs (``"openai"``, ``"anthropic"``, ``"google-genai"``): sync and async calls,
    streams, the ``.stream(...)`` helpers, ``with_raw_response`` and text-only
    consumption all record ``gen_ai.*`` attributes, token usage, the time to the first
    chunk and the cost; clients made before the call are traced too.

    Frameworks (``"openai-agents"``, ``"langchain"`` (LangGraph too), ``"crewai"``,
    ``"pydantic-ai"``, ``"google-adk"``): agents become agent spans named by the
    agent's name, tools tool spans, model calls LLM spans with their usage, counted once
    when the SDK is instrumented too; the framework's conversation id is recorded as
    ``gen_ai.conversation.id``. ``docs/frameworks.md`` says what each one records.

    ``"all"`` loads every integration whose package is installed. Calling it again
    changes nothing. A package version outside the tested range warns once. While
    tracing is on, the run records the call (an ``integration`` line); integrations
    loaded before ``configure_observability()`` are listed in the run's first line.

    Args:
        name: an integration's name (the package's distribution name), or ``"all"``.

    Raises:
        ConfigurationError: an unknown name, or the package is not installed.
    """
    if name == "all":
        for each in NAMES:
            try:
                module = _module(each)
            except ConfigurationError:
                continue  # "all" means all that are installed
            _load(each, module)
        return
    _load(name, _module(name))


def _load(name: str, module: Any) -> None:
    with _LOCK:
        if name in _LOADED:
            return
        version = _versions.check(name)
        if hasattr(module, "targets"):
            undo: Any = _patch(_targets(name))
        else:
            module.install()
            undo = module.uninstall
        _LOADED[name] = (undo, version)
    _record(name, version, loaded=True)


def _patch(targets: list[Target]) -> list[tuple[type, str, Any]]:
    patched: list[tuple[type, str, Any]] = []
    for target in targets:
        original = target.owner.__dict__[target.attribute]
        recipe = SdkCall(original, target)
        setattr(target.owner, target.attribute, decorate(original, recipe))
        patched.append((target.owner, target.attribute, original))
    return patched


def uninstrument(name: str, /) -> None:
    """Undo :func:`instrument`: SDK methods are put back exactly as they were, a
    framework's hook is removed (spans it has open end as the framework ends them).

    Args:
        name: an integration given to :func:`instrument` (one not loaded is left
            alone), or ``"all"``.

    Raises:
        ConfigurationError: an unknown name.
    """
    if name == "all":
        for each in instrumented():
            uninstrument(each)
        return
    if name not in _LIBRARIES:
        _module(name)  # raises the same error instrument() gives
    with _LOCK:
        loaded = _LOADED.pop(name, None)
        if loaded is None:
            return
        undo, version = loaded
        if callable(undo):
            undo()
        else:
            for owner, attribute, original in reversed(undo):
                setattr(owner, attribute, original)
    _record(name, version, loaded=False)


def instrumented() -> list[str]:
    """The integrations loaded now, sorted."""
    with _LOCK:
        return sorted(_LOADED)


def loaded_versions() -> dict[str, str]:
    """The integrations loaded now with their package versions (the run header's list)."""
    with _LOCK:
        return {name: version for name, (_, version) in sorted(_LOADED.items())}


def _record(name: str, version: str, *, loaded: bool) -> None:
    """Write the call into the run when tracing is on (the header lists earlier ones)."""
    pipeline = RUNTIME.pipeline  # read as is: never configure tracing from here
    if pipeline is not None:
        pipeline.emit((RAW, integration_line(wall_time(), name, version, loaded)))


def instrument_from_environment(names: tuple[str, ...]) -> None:
    """Load ``SPANLINE_INSTRUMENT``'s integrations: one that cannot load warns in one
    line and is skipped (a bad name was already warned about and left out)."""
    for name in names:
        try:
            instrument(name)
        except ConfigurationError as exc:
            warnings.warn(f"SPANLINE_INSTRUMENT: {exc}; skipped", SpanlineWarning, stacklevel=2)
