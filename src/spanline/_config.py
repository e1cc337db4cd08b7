"""Settings: explicit arguments, then ``SPANLINE_*`` environment variables, then defaults.

This module imports pydantic, so it is only imported when tracing is being
configured, never by ``import spanline``.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from spanline.exceptions import ConfigurationError, SpanlineWarning
from spanline.schema import AGENT_KINDS, FALSE_WORDS

_TRUE = ("1", "true", "yes", "on")
_SERVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

#: Field name -> environment variable. One table, one reader (no copy-pasted
#: per-variable parsing).
ENV_VARS: dict[str, str] = {
    "enabled": "SPANLINE_ENABLED",
    "base_dir": "SPANLINE_DIR",
    "exporters": "SPANLINE_EXPORTERS",
    "service_name": "SPANLINE_SERVICE_NAME",
    "environment": "SPANLINE_ENVIRONMENT",
    "flush_ms": "SPANLINE_FLUSH_MS",
    "max_queue": "SPANLINE_MAX_QUEUE",
    "capture": "SPANLINE_CAPTURE",
    "preview_chars": "SPANLINE_PREVIEW_CHARS",
    "prices": "SPANLINE_PRICES",
}


def parse_bool(raw: str) -> bool:
    """Parse a boolean environment value.

    Args:
        raw: the variable's text.

    Returns:
        True or False.

    Raises:
        ValueError: the text is none of the accepted spellings.
    """
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in FALSE_WORDS:
        return False
    raise ValueError(
        f"accepted values: {', '.join(_TRUE)} / {', '.join(v for v in FALSE_WORDS if v)}"
    )


class Settings(BaseModel):
    """Resolved configuration of one tracing session."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    enabled: bool = False
    base_dir: Path = Path(".spanline")
    exporters: tuple[Any, ...] = ()
    service_name: str = "spanline"
    environment: str = "development"
    flush_ms: int = Field(default=250, ge=1, le=60_000)
    max_queue: int = Field(default=2_000_000, ge=1)
    capture: Literal["off", "preview", "full"] = "preview"
    preview_chars: int = Field(default=200, ge=1, le=1_000_000)
    #: A price table override: a path (JSON/YAML) or a mapping of models to prices.
    prices: Any = None
    agent_kinds: frozenset[str] = AGENT_KINDS

    @field_validator("enabled", mode="before")
    @classmethod
    def _enabled(cls, value: Any) -> Any:
        return parse_bool(value) if isinstance(value, str) else value

    @field_validator("service_name")
    @classmethod
    def _service_name(cls, value: str) -> str:
        # The service name is part of the run id and so of a directory name.
        if not _SERVICE_NAME.match(value):
            raise ValueError("must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}")
        return value

    @field_validator("exporters", mode="before")
    @classmethod
    def _exporters(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value


def _field_hint(name: str) -> str:
    if name == "enabled":
        return "accepted values: 1, true, yes, on, 0, false, no, off"
    if name == "capture":
        return "accepted values: off, preview, full"
    if name in ("flush_ms", "max_queue", "preview_chars"):
        field = Settings.model_fields[name]
        bounds = {type(m).__name__: m for m in field.metadata}
        low = getattr(bounds.get("Ge"), "ge", None)
        high = getattr(bounds.get("Le"), "le", None)
        return f"expected a whole number from {low}" + (f" to {high}" if high else " up")
    if name == "service_name":
        return "expected letters, digits, '.', '_' or '-' (at most 64)"
    return "see the configuration reference"


def _from_env(name: str, environ: Mapping[str, str]) -> Any:
    """Return the validated value of one variable, or None (with a warning) if invalid."""
    var = ENV_VARS[name]
    raw = environ.get(var)
    if raw is None:
        return None
    try:
        return getattr(Settings(**{name: raw}), name)
    except (ValidationError, ValueError):
        default = Settings.model_fields[name].default
        warnings.warn(
            f"{var}={raw!r} is invalid ({_field_hint(name)}); using {default!r}",
            SpanlineWarning,
            stacklevel=4,
        )
        return None


def resolve_settings(
    arguments: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> Settings:
    """Merge explicit arguments, environment variables and defaults.

    Args:
        arguments: explicit values; ``None`` means "not given".
        environ: the environment to read (default ``os.environ``).

    Returns:
        The validated settings.

    Raises:
        ConfigurationError: an explicit argument is invalid.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name in Settings.model_fields:
        given = arguments.get(name)
        if given is not None:
            values[name] = given
        elif name in ENV_VARS:
            from_env = _from_env(name, env)
            if from_env is not None:
                values[name] = from_env
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigurationError(
            f"invalid configure_observability() argument: {problems}"
        ) from None
