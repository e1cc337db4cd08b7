"""Which package each integration needs, the versions it was tested with, and the check.

A version outside the tested range warns once (the integration is loaded all the
same: frameworks change their hooks rarely, and a warning is cheaper to ignore than a
missing trace). The range is ``[low, high)`` on the release numbers.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from importlib import metadata

from spanline.exceptions import SpanlineWarning

__all__ = ["PACKAGES", "Package", "check", "in_range", "release"]


@dataclass(frozen=True)
class Package:
    """What an integration hooks: the module imported, the distributions whose version
    counts (the first installed one), and the tested release range ``[low, high)``."""

    module: str
    distributions: tuple[str, ...]
    low: str
    high: str


#: Integration name -> its package. Ranges are the versions the test suite ran.
PACKAGES: dict[str, Package] = {
    "openai": Package("openai", ("openai",), "1.0", "4"),
    "anthropic": Package("anthropic", ("anthropic",), "0.40", "3"),
    "google-genai": Package("google.genai", ("google-genai",), "1.0", "4"),
    "openai-agents": Package("agents", ("openai-agents",), "0.25", "0.26"),
    "langchain": Package("langchain_core", ("langchain-core",), "1.0", "2"),
    "crewai": Package("crewai", ("crewai",), "1.15", "1.16"),
    "pydantic-ai": Package("pydantic_ai", ("pydantic-ai-slim", "pydantic-ai"), "2.78", "2.79"),
    "google-adk": Package("google.adk", ("google-adk",), "2.15", "2.16"),
}


def release(version: str) -> tuple[int, ...]:
    """The release numbers of a version text: ``"0.25.0rc1"`` -> ``(0, 25, 0)``."""
    numbers = []
    for part in version.split("."):
        match = re.match(r"\d+", part)
        if match is None:
            break
        numbers.append(int(match.group()))
        if match.end() < len(part):
            break  # "0rc1": a pre-release of the number it starts with
    return tuple(numbers)


def in_range(version: str, low: str, high: str) -> bool:
    """True when ``low <= version < high`` on the release numbers."""
    return release(low) <= release(version) < release(high)


def installed_version(package: Package) -> str:
    """The version of the first of the package's distributions that is installed."""
    for distribution in package.distributions:
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    return "unknown"


def check(name: str) -> str:
    """The version of the integration's package; warns once when it is untested.

    Returns:
        The version text (``"unknown"`` when no distribution metadata is found).
    """
    package = PACKAGES[name]
    version = installed_version(package)
    if version != "unknown" and not in_range(version, package.low, package.high):
        warnings.warn(
            f"spanline.instrument({name!r}): {package.distributions[0]} {version} is outside "
            f"the tested range (>={package.low}, <{package.high}); tracing it all the same",
            SpanlineWarning,
            stacklevel=4,
        )
    return version
