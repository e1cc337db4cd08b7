"""Settings: one table of every setting, resolved as argument, then variable, then default.

The table (:data:`SETTINGS`) is the single description of configuration: the
resolver walks it, the documentation's table is generated from it, and
:func:`read_environment` reads the variables it names. What must be known
before configuration (at ``import spanline``: whether ``SPANLINE_ENABLED`` and
``SPANLINE_HANDLE_SIGNALS`` ask for signal handlers) is read through
:func:`variable_flag`; the session loads this module for it only when
``SPANLINE_ENABLED`` is set at all, so a plain import stays light.

Validation is plain functions, not pydantic: importing pydantic (and, through
its plugin hook, logfire) cost more than the whole configure call may.
"""

# No ``from __future__ import annotations`` here: a named tuple turns each annotation
# given as text into a ForwardRef, compiling it (about 1.5 ms for the two tables).
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from spanline._capture._redact import redact_text
from spanline._runs._store import run_id_prefix
from spanline._session._parse import (
    PartialValue,
    agent_kinds_value,
    budget_value,
    byte_limit,
    callable_value,
    capture_mode,
    duration,
    exporter_names,
    integration_names,
    parse_bool,
    parse_resource_attributes,
    parse_run_id,
    parse_traceparent,
    path_value,
    prices_value,
    redact_patterns_value,
    seconds,
    secret_names_value,
    service_name_value,
    session_id_value,
    text_value,
    whole_number,
)
from spanline.exceptions import ConfigurationError, SpanlineWarning
from spanline.schema import AGENT_KINDS

__all__ = [
    "ARGUMENTS",
    "ENV_VARS",
    "SETTINGS",
    "Setting",
    "Settings",
    "read_environment",
    "resolve_settings",
    "run_id_prefix",
    "script_name",
    "variable_flag",
    "variable_setting",
]

_FALLBACK_SERVICE = "spanline"


class Settings(NamedTuple):
    """Resolved configuration of one tracing session (see :data:`SETTINGS`).

    A named tuple, not a dataclass: building a dataclass of this many fields (and
    importing ``dataclasses``, with ``inspect``) cost the first configure about 7 ms.
    """

    enabled: bool = False
    base_dir: Path = Path(".spanline")
    exporters: tuple[Any, ...] = ()
    service_name: str = _FALLBACK_SERVICE
    environment: str = "development"
    flush_ms: int = 100
    max_queue: int = 2_000_000
    capture: str = "preview"
    preview_chars: int = 200
    #: In full capture, a captured value over this many bytes is stored in the run's blobs/.
    blob_threshold: int = 65_536
    #: A price table override: a path (JSON/YAML) or a mapping of models to prices.
    prices: Any = None
    agent_kinds: frozenset[str] = AGENT_KINDS
    run_id: str | None = None
    summary_interval_ms: int = 5_000
    #: Seconds without activity in a running agent's subtree before it counts as stalled.
    stall_s: float = 60.0
    resource_attributes: Mapping[str, str] = MappingProxyType({})
    #: (trace id, parent span id) handed over by a parent process, or None.
    traceparent: tuple[str, int] | None = None
    id_generator: Callable[[], int] | None = None
    clock: Callable[[], float] | None = None
    synchronous: bool = False
    handle_signals: bool = True
    dashboard: bool = False
    propagate_executors: bool = True
    #: Send to Logfire too (adds the ``logfire`` exporter); None: as the exporters say.
    logfire: bool | None = None
    #: Integrations to load when tracing starts (``spanline.instrument`` names).
    instrument: tuple[str, ...] = ()
    redact_patterns: tuple[Any, ...] = ()
    redact_exempt_keys: frozenset[str] = frozenset()
    redact_entropy: bool = False
    #: The conversation this run belongs to, and its turn and attempt (None: not given).
    session_id: str | None = None
    turn: int | None = None
    attempt: int | None = None
    #: ``configure_observability(budget=...)``, checked: limits by key, and the action.
    budget: Mapping[str, Any] | None = None
    max_usd: float | None = None
    max_tokens: int | None = None
    session_max_usd: float | None = None
    budget_action: Any = "raise"
    max_run_bytes: int | None = None  # rotation's limits (None: none)
    rotate_every: float | None = None


class Setting(NamedTuple):
    """One row of the settings table: where a setting comes from and how it is checked."""

    #: Attribute of :class:`Settings`. Several rows may fill one attribute: the
    #: first row that yields a value wins, so row order is precedence.
    name: str
    #: ``configure_observability()`` argument, or None when there is none.
    argument: str | None
    #: Environment variable, or None when there is none.
    env: str | None
    #: The value's type, as the documentation shows it.
    type: str
    default: Any
    description: str
    #: Takes an argument value or a variable's text; returns the value or raises ValueError.
    parse: Callable[[Any], Any]
    #: The default as the documentation and warnings show it (derived when empty).
    shown_default: str = ""

    @property
    def default_text(self) -> str:
        """The default as the documentation shows it."""
        if self.shown_default:
            return self.shown_default
        if isinstance(self.default, bool):
            return "on" if self.default else "off"
        return "none" if self.default in (None, (), {}) else f"`{self.default}`"


_SERVICE_FALLBACKS = "`OTEL_SERVICE_NAME`, then `service.name` of `OTEL_RESOURCE_ATTRIBUTES`"
_R = Setting
#: Every setting. Order: precedence within one attribute, and the documentation's order.
# fmt: off
SETTINGS: tuple[Setting, ...] = (
    _R("enabled", "enabled", "SPANLINE_ENABLED", "bool", False,
       "trace at all: `1/true/yes/on` or `0/false/no/off`. With the variable set, an "
       "unconfigured program turns tracing on at its first span", parse_bool),
    _R("base_dir", "run_dir", "SPANLINE_DIR", "path", Path(".spanline"),
       "base directory; each run writes `<run_dir>/runs/<run_id>/`", path_value),
    _R("service_name", "service_name", "SPANLINE_SERVICE_NAME", "text", None,
       "names the service; any non-empty text. In run ids, characters other than letters, "
       "digits, `.`, `_` and `-` become `-` (at most 64); the attribute keeps the original",
       service_name_value, f"{_SERVICE_FALLBACKS}, then the script's name (`spanline` if none)"),
    _R("service_name", None, "OTEL_SERVICE_NAME", "text", None,
       "the OpenTelemetry service name, used when `SPANLINE_SERVICE_NAME` is not set",
       service_name_value, "see `SPANLINE_SERVICE_NAME`"),
    _R("resource_attributes", None, "OTEL_RESOURCE_ATTRIBUTES", "key=value,…", {},
       "OpenTelemetry resource attributes: comma-separated `key=value` pairs, values "
       "percent-encoded; parts that are not `key=value` are ignored with a warning. Its "
       "`service.name` is the next fallback for the service name", parse_resource_attributes),
    _R("environment", "environment", "SPANLINE_ENVIRONMENT", "text", "development",
       "recorded in `run_start` and the metadata", text_value),
    _R("exporters", "exporters", "SPANLINE_EXPORTERS", "names or objects", (),
       "exporter names (`console`, `memory`, installed plugins) or exporter objects; the "
       "variable is comma-separated", exporter_names, "none (`jsonl` is always on)"),
    _R("flush_ms", "flush_ms", "SPANLINE_FLUSH_MS", "int (ms)", 100,
       "the writer's period (1 to 60000): it writes on this fixed cadence, however long a "
       "write takes. A crash loses what was still queued: with a writer that keeps up, the "
       "events of about the last period", whole_number(1, 60_000)),
    _R("max_queue", "max_queue", "SPANLINE_MAX_QUEUE", "int", 2_000_000,
       "events that may wait for the writer; past it new events are dropped and counted "
       "(`dropped_events`)", whole_number(1, None)),
    _R("capture", "capture", "SPANLINE_CAPTURE", "`off`, `preview`, `full`", "preview",
       "how much of arguments and results the decorators record", capture_mode),
    _R("preview_chars", "preview_chars", "SPANLINE_PREVIEW_CHARS", "int", 200,
       "length of the previews of arguments and results (1 to 1000000)",
       whole_number(1, 1_000_000)),
    _R("blob_threshold", "blob_threshold", "SPANLINE_BLOB_THRESHOLD", "int (bytes)", 65_536,
       "in full capture, a captured value longer than this (in UTF-8 or JSON bytes) is stored "
       "once in the run's `blobs/` directory (zstd-compressed with `spanline[blobs]`) and the "
       "line keeps its preview and a reference (1024 to 2147483647)",
       whole_number(1024, 2**31 - 1)),
    _R("prices", "prices", "SPANLINE_PRICES", "mapping or path", None,
       "price table override: `{model: {input, output, cached_input, cache_write}}` in USD "
       "per million tokens, or a JSON/YAML file (YAML needs PyYAML); merged over the shipped "
       "table. The variable is a path", prices_value, "the shipped `prices.json`"),
    _R("summary_interval_ms", "summary_interval_ms", "SPANLINE_SUMMARY_INTERVAL_MS",
       "int (ms)", 5_000, "how often the live `run_summary.json` is rewritten (0 to 86400000; "
       "0: only at shutdown); the first time one second after start, or sooner if this is "
       "shorter, so a run killed early still has one", whole_number(0, 86_400_000)),
    _R("stall_s", "stall_s", "SPANLINE_STALL_S", "float (s)", 60.0,
       "a running agent with no line in its subtree for this many seconds is stalled "
       "(`stalls` in `run_summary.json`); recorded in `run_start`, so a re-fold agrees",
       seconds, "`60`"),
    _R("run_id", "run_id", "SPANLINE_RUN_ID", "run id", None,
       "join this existing run instead of creating one (spanline sets the variable for child "
       "processes); the argument also names a new run, e.g. for byte-identical test runs. "
       "Letters, digits, `.`, `_`, `-`; no `/` or `..`", parse_run_id, "a new run"),
    _R("traceparent", None, "TRACEPARENT", "W3C traceparent", None,
       "`00-<trace id>-<parent span id>-<flags>` from a parent process: the run joins that "
       "trace and root spans get that parent. `spanline.child_env()` sets it", parse_traceparent,
       "a new trace"),
    _R("agent_kinds", "agent_kinds", None, "set of text", AGENT_KINDS,
       "span kinds counted as agents", agent_kinds_value, "`spanline.AGENT_KINDS`"),
    _R("id_generator", "id_generator", None, "() -> int", None,
       "source of span ids, for deterministic runs", callable_value, "random 64-bit ids"),
    _R("clock", "clock", None, "() -> float", None,
       "source of timestamps (Unix seconds), for deterministic runs", callable_value,
       "the system clock"),
    _R("synchronous", "synchronous", None, "bool", False,
       "write on every span end, without the writer thread (tests only)", parse_bool),
    _R("handle_signals", "handle_signals", "SPANLINE_HANDLE_SIGNALS", "bool", True,
       "on SIGTERM/SIGINT flush, then call the handler installed before; never replaces an "
       "ignored signal; installed only from the main thread", parse_bool),
    _R("dashboard", "dashboard", "SPANLINE_DASHBOARD", "bool", False,
       "serve the live dashboard of the run from a background thread (127.0.0.1, port 8765 "
       "or a free one) and print its address; stops at shutdown. Only the process that "
       "created the run serves. Needs `pip install 'spanline[dashboard]'`", parse_bool),
    _R("propagate_executors", "propagate_executors", "SPANLINE_PROPAGATE_EXECUTORS", "bool",
       True, "work handed to `ThreadPoolExecutor.submit`, `loop.run_in_executor` and "
       "`ProcessPoolExecutor.submit` keeps the current span as its parent, with its agent id. "
       "Off: such work starts parentless spans (`asyncio.to_thread` copies the context by "
       "itself either way)", parse_bool),
    _R("logfire", "logfire", None, "bool", None,
       "`True` adds the `logfire` exporter (as `SPANLINE_EXPORTERS=logfire` does), `False` "
       "removes it. Needs `pip install 'spanline[logfire]'` and a Logfire write token "
       "(`LOGFIRE_TOKEN` or `.logfire/logfire_credentials.json`)", parse_bool,
       "as `exporters` says"),
    _R("instrument", None, "SPANLINE_INSTRUMENT", "names", (),
       "comma-separated integrations to load when tracing starts, as `spanline.instrument()` "
       "takes them (`openai`, `langchain`, `openai-agents`..., or `all`: every installed one). "
       "An unknown name, or a package that is not installed, warns in one line and is skipped",
       integration_names),
    _R("redact_patterns", "redact_patterns", "SPANLINE_REDACT_PATTERNS", "regexes", (),
       "more text to redact: a regex or a list of them (a named group `secret` limits what "
       "is replaced). The variable holds one regex, or a JSON list of regexes; a bad one is "
       "skipped with a warning", redact_patterns_value),
    _R("redact_exempt_keys", "redact_exempt_keys", "SPANLINE_REDACT_EXEMPT_KEYS",
       "key names", frozenset(), "names whose values are never redacted for their name "
       "(compared like keys: case, `-`, `_`, `.` and spaces aside); the variable is "
       "comma-separated. The value's own text is still checked", secret_names_value, "none"),
    _R("redact_entropy", "redact_entropy", "SPANLINE_REDACT_ENTROPY", "bool", False,
       "also redact random-looking tokens with no name or known prefix (a bare AWS secret); "
       "its false-positive rate on ordinary text is in `docs/reliability.md`", parse_bool),
    _R("session_id", "session_id", "SPANLINE_SESSION_ID", "session id", None,
       "the conversation this run is a turn of: written as `session.id` (and "
       "`gen_ai.conversation.id`, unless a framework set its own) on every span, and in the "
       "run header. Letters, digits, `.`, `_`, `-` (at most 128, no `..`)", session_id_value,
       "no session"),
    _R("turn", "turn", "SPANLINE_TURN", "int", None,
       "the turn of the session (1 up); without it a run in a session takes the session's "
       "next turn", whole_number(1, 1_000_000_000), "the next turn"),
    _R("attempt", "attempt", "SPANLINE_ATTEMPT", "int", None,
       "the attempt of the turn (1 up), for a turn restarted; without it the next attempt of "
       "the turn", whole_number(1, 1_000_000_000), "the next attempt"),
    _R("budget", "budget", None, "`spanline.budget(...)` or mapping", None,
       "limits on spending, checked before each LLM call (see `docs/budgets.md`): "
       "`spanline.budget(max_usd=..., max_tokens=..., action=...)` for the run, or a mapping "
       "with `max_usd`, `max_tokens`, `session_max_usd`, `session_max_tokens` and `action`. "
       "When given, the budget variables below are not read", budget_value("run_budget_value")),
    _R("max_usd", None, "SPANLINE_MAX_USD", "float (USD)", None,
       "the run's spending limit in USD", budget_value("limit_usd")),
    _R("max_tokens", None, "SPANLINE_MAX_TOKENS", "int", None,
       "the run's limit in tokens (input plus output)", budget_value("limit_tokens")),
    _R("session_max_usd", None, "SPANLINE_SESSION_MAX_USD", "float (USD)", None,
       "the session's spending limit in USD, across all its runs and processes",
       budget_value("limit_usd")),
    _R("budget_action", None, "SPANLINE_BUDGET_ACTION", "`warn`, `raise`", "raise",
       "what the budgets set by the variables above do when spent: `raise` stops the "
       "next LLM call with `BudgetExceeded`, `warn` writes one event and one line",
       budget_value("action_value")),
    _R("max_run_bytes", "max_run_bytes", "SPANLINE_MAX_RUN_BYTES", "size", None,
       "rotation: once the run's log passes this size (bytes, or `500MB`, `2GiB`), new span "
       "trees go to the next run of the same session; trees still open finish in their run, "
       "which is then closed (see `docs/retention.md`). At least 1 KiB", byte_limit, "no limit"),
    _R("rotate_every", "rotate_every", "SPANLINE_ROTATE_EVERY", "duration", None,
       "rotation: once the run is this old (seconds above 0, or `30m`, `1h`, `1d`), new span "
       "trees go to the next run of the same session, as with `max_run_bytes`",
       duration, "no limit"),
)
# fmt: on

#: Every environment variable the table reads.
ENV_VARS: tuple[str, ...] = tuple(row.env for row in SETTINGS if row.env is not None)
#: Every ``configure_observability()`` argument the table reads, in the table's order.
ARGUMENTS: tuple[str, ...] = tuple(
    dict.fromkeys(row.argument for row in SETTINGS if row.argument is not None)
)
_ARGUMENTS = frozenset(ARGUMENTS)


def read_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The settings' variables that are set: the one place spanline reads its configuration.

    Args:
        environ: the environment to read (default ``os.environ``).

    Returns:
        Variable -> text, for the variables of :data:`SETTINGS` that are set and not
        blank (an empty value counts as unset, as in OpenTelemetry).
    """
    env = os.environ if environ is None else environ
    return {name: env[name] for name in ENV_VARS if env.get(name, "").strip()}


def variable_setting(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """The setting ``name`` as its variable alone sets it, read through the table.

    For readers that have no ``configure_observability()`` call: the ``spanline``
    command's ``--dir`` defaults to ``SPANLINE_DIR`` this way.

    Args:
        name: the setting (a row of :data:`SETTINGS` with a variable).
        environ: the environment to read (default ``os.environ``).

    Returns:
        The variable's parsed value, or the setting's default when it is unset or invalid.
    """
    row = next(row for row in SETTINGS if row.name == name and row.env is not None)
    raw = read_environment(environ).get(row.env or "")
    if raw is None:
        return row.default
    try:
        return row.parse(raw)
    except ValueError:
        return row.default


def variable_flag(name: str, environ: Mapping[str, str] | None = None) -> bool:
    """The boolean setting ``name`` as its variable alone sets it, read through the table.

    For what must be known before ``configure_observability()`` (whether a process
    with ``SPANLINE_ENABLED`` traces, and installs signal handlers at import). A
    value that is not a boolean gives the setting's default here; configuring warns
    about it.

    Args:
        name: the setting (a row of :data:`SETTINGS` of type bool).
        environ: the environment to read (default ``os.environ``).

    Returns:
        The variable's value, or the setting's default when it is unset or invalid.
    """
    return bool(variable_setting(name, environ))


def resolve_settings(
    arguments: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> Settings:
    """Merge explicit arguments, environment variables and defaults.

    Args:
        arguments: explicit values keyed by argument name (``run_dir``; the
            attribute name ``base_dir`` is accepted too); ``None`` means "not given".
        environ: the environment to read (default ``os.environ``).

    Returns:
        The validated settings.

    Raises:
        ConfigurationError: an explicit argument is invalid or unknown.
    """
    unknown = set(arguments) - _ARGUMENTS - {"base_dir"}
    if unknown:
        raise ConfigurationError(f"unknown configure_observability() argument {min(unknown)!r}")
    variables = read_environment(environ)
    values: dict[str, Any] = {}
    for row in SETTINGS:
        if row.name in values:
            continue  # an earlier row (higher precedence) decided it
        given = _given(row, arguments)
        if given is not None:
            values[row.name] = _from_argument(row, given)
        elif row.env is not None and row.env in variables:
            _from_variable(row, variables[row.env], values)
    if "service_name" not in values:
        # The last fallbacks: the resource attributes' service.name, then the script.
        from_resource = values.get("resource_attributes", {}).get("service.name", "")
        values["service_name"] = from_resource if from_resource.strip() else script_name()
    return Settings(**values)


def _given(row: Setting, arguments: Mapping[str, Any]) -> Any:
    if row.argument is None:
        return None
    given = arguments.get(row.argument)
    # run_dir is also accepted under its attribute name, base_dir (the one setting whose
    # argument and attribute names differ); the session passes run_dir.
    return arguments.get(row.name) if given is None else given


def _from_argument(row: Setting, given: Any) -> Any:
    try:
        return row.parse(given)
    except (ValueError, TypeError) as exc:  # TypeError: e.g. unhashable agent kinds
        raise ConfigurationError(
            f"invalid configure_observability() argument {row.argument}={_short(given)}: {exc}"
        ) from None


def _from_variable(row: Setting, raw: str, values: dict[str, Any]) -> None:
    """Store the variable's value, or warn (one line) and leave the setting to the default."""
    try:
        values[row.name] = row.parse(raw)
        return
    except PartialValue as exc:
        values[row.name] = exc.value
        message = f"{row.env}={raw!r} is partly invalid ({exc}); using {exc.kept}"
    except ValueError as exc:
        default = row.default_text.replace("`", "")
        message = f"{row.env}={raw!r} is invalid ({exc}); using the default: {default}"
    # The value is quoted back, and a variable may carry a secret (OTEL_RESOURCE_ATTRIBUTES).
    # Stack: here, resolve_settings, configure_observability, the caller.
    warnings.warn(redact_text(message), SpanlineWarning, stacklevel=4)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def script_name(argv: Sequence[str] | None = None) -> str:
    """The service name of last resort: the running script's name.

    Args:
        argv: the command line (default ``sys.argv``).

    Returns:
        The stem of ``argv[0]`` (the package for ``python -m package``), or
        "spanline" when there is no script (``python -c``, interactive).
    """
    args = (getattr(sys, "argv", None) or [""]) if argv is None else argv
    first = args[0] if args else ""
    if first in ("", "-", "-c", "-m"):
        return _FALLBACK_SERVICE
    path = Path(first)
    # ``python -m package`` runs package/__main__.py: the package names the service.
    stem = path.parent.name if path.stem == "__main__" else path.stem
    return stem or _FALLBACK_SERVICE
