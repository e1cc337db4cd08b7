"""A run's execution metadata: git facts and ``execution_metadata.yaml``."""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from spanline._runs._store import Run
from spanline._version import __version__

__all__ = ["execution_metadata", "git_info", "load_modules", "to_yaml", "write_metadata"]


def load_modules() -> None:
    """Import what the metadata thread uses (git's ``subprocess``, ``platform``, ...) in one
    place, for the thread to hold off forks meanwhile."""
    import datetime  # noqa: F401
    import json  # noqa: F401
    import platform  # noqa: F401
    import subprocess  # noqa: F401
    import urllib.parse  # noqa: F401

    from spanline._capture import _previews  # noqa: F401  (redacting the metadata)


def _git(*args: str) -> str | None:
    import subprocess  # loads fcntl: only when a run starts, never at import

    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _strip_credentials(url: str) -> str:
    """Drop ``user:token@`` from a remote URL: it must never reach the log."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def git_info() -> dict[str, str | None]:
    """Commit, branch and remote of the working directory's repository."""
    remote = _git("config", "--get", "remote.origin.url")
    return {
        "commit": _git("rev-parse", "HEAD"),
        "branch": _git("rev-parse", "--abbrev-ref", "HEAD"),
        "remote": _strip_credentials(remote) if remote else None,
    }


def execution_metadata(
    *,
    run_id: str,
    service_name: str,
    environment: str,
    query: str | None,
    config: Any,
    config_path: str | None,
    cli_args: Any,
    git: dict[str, str | None],
    session: tuple[str | None, int | None, int | None] = (None, None, None),
) -> dict[str, Any]:
    """The fields of MassGen's execution_metadata.yaml, for spanline.

    ``session`` is the run's ``(session_id, turn, attempt)``: written under MassGen's
    names when the run is in a session.
    """
    import platform
    from datetime import datetime, timezone

    session_id, turn, attempt = session
    conversation = (
        {} if session_id is None else {"session_id": session_id, "turn": turn, "attempt": attempt}
    )
    return {
        "query": query,
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run_id": run_id,
        "service_name": service_name,
        "environment": environment,
        "config_path": config_path,
        "config": config,
        "cli_args": cli_args if cli_args is not None else list(sys.argv),
        "git": git,
        "python_version": platform.python_version(),
        "spanline_version": __version__,
        "working_directory": os.getcwd(),
        "pid": os.getpid(),
        **conversation,
    }


def _scalar(value: Any) -> str:
    # JSON scalars are valid YAML scalars (double-quoted strings use the same
    # escapes), so the file parses with any YAML 1.2 reader. (json loads here, on the
    # metadata thread, not with the session.)
    import json

    return json.dumps(value, ensure_ascii=False, default=repr)


def to_yaml(value: Any, indent: int = 0) -> str:
    """Block-style YAML for mappings/lists of JSON-like values."""
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            label = f"{pad}{_key(str(key))}:"
            if isinstance(item, (dict, list, tuple)) and item:
                lines.append(label + "\n" + to_yaml(item, indent + 1))
            else:
                lines.append(f"{label} {_empty_or_scalar(item)}")
    else:
        for item in value:
            if isinstance(item, (dict, list, tuple)) and item:
                nested = to_yaml(item, indent + 1).lstrip()
                lines.append(f"{pad}- {nested}")
            else:
                lines.append(f"{pad}- {_empty_or_scalar(item)}")
    return "\n".join(lines)


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def _key(key: str) -> str:
    return key if _PLAIN_KEY.fullmatch(key) and key.lower() not in _YAML_WORDS else _scalar(key)


# Plain keys YAML 1.1 readers would turn into booleans or null.
_YAML_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


def _empty_or_scalar(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, (list, tuple)):
        return "[]"
    return _scalar(value)


def write_metadata(run: Run, metadata: dict[str, Any]) -> None:
    """Write execution_metadata.yaml at once: it is written beside the run's other work, so a
    reader sees no file or the whole file, never a part."""
    from spanline._lines._fileio import write_atomic

    write_atomic(run.metadata_path, (to_yaml(metadata) + "\n").encode("utf-8"))
