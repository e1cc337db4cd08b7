"""The run directory: ids, ``latest``, execution metadata."""

from __future__ import annotations

import json
import os
import platform
import re
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from spanline._version import __version__

__all__ = ["RUN_ID_PATTERN", "Run", "create_run", "find_run", "new_run_id", "read_latest"]

#: ``<service_name>-<UTC YYYYMMDDTHHMMSS>-<6 hex>`` (contract 2).
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}-\d{8}T\d{6}-[0-9a-f]{6}$")


@dataclass(frozen=True)
class Run:
    """Where one run's files live."""

    run_id: str
    directory: Path

    @property
    def base(self) -> Path:
        """The base directory (``<base>/runs/<run_id>``)."""
        return self.directory.parent.parent

    @property
    def telemetry_path(self) -> Path:
        """The event log, the source of truth."""
        return self.directory / "telemetry.jsonl"

    @property
    def summary_path(self) -> Path:
        """The run summary, written at shutdown."""
        return self.directory / "run_summary.json"

    @property
    def metadata_path(self) -> Path:
        """Query, config, cli args, git, versions."""
        return self.directory / "execution_metadata.yaml"

    @property
    def log_path(self) -> Path:
        """spanline's own human-readable log."""
        return self.directory / "spanline.log"


def new_run_id(service_name: str, now: float | None = None) -> str:
    """A fresh run id: ``<service>-<UTC YYYYMMDDTHHMMSS>-<6 hex>``."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(time.time() if now is None else now))
    return f"{service_name}-{stamp}-{secrets.token_hex(3)}"


def create_run(base: Path, service_name: str) -> Run:
    """Create ``<base>/runs/<new id>/`` and point ``latest`` at it."""
    runs = base / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    while True:
        run_id = new_run_id(service_name)
        try:
            (runs / run_id).mkdir()
            break
        except FileExistsError:  # same second, same 6 hex: draw again
            continue
    _point_latest(runs, run_id)
    return Run(run_id, (runs / run_id).resolve())


def find_run(base: Path, run_id: str) -> Run | None:
    """The existing run ``run_id`` under ``base``, or None."""
    if not RUN_ID_PATTERN.match(run_id):
        return None
    directory = base / "runs" / run_id
    return Run(run_id, directory.resolve()) if directory.is_dir() else None


def _point_latest(runs: Path, run_id: str) -> None:
    """Atomically repoint ``latest``: a symlink, or a file holding the id."""
    latest = runs / "latest"
    temp = runs / f".latest-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        os.symlink(run_id, temp)
    except OSError:
        temp.write_text(run_id + "\n")
    os.replace(temp, latest)


def read_latest(base: Path) -> str | None:
    """The id ``latest`` points at (symlink or plain file), or None."""
    latest = base / "runs" / "latest"
    if latest.is_symlink():
        return os.readlink(latest).rstrip("/").split("/")[-1]
    if latest.is_file():
        return latest.read_text().strip() or None
    return None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _strip_credentials(url: str) -> str:
    """Drop ``user:token@`` from a remote URL: it must never reach the log."""
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
) -> dict[str, Any]:
    """The fields of MassGen's execution_metadata.yaml, for spanline."""
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
    }


def _scalar(value: Any) -> str:
    # JSON scalars are valid YAML scalars (double-quoted strings use the same
    # escapes), so the file parses with any YAML 1.2 reader.
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
    return key if _PLAIN_KEY.match(key) and key.lower() not in _YAML_WORDS else _scalar(key)


# Plain keys YAML 1.1 readers would turn into booleans or null.
_YAML_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


def _empty_or_scalar(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, (list, tuple)):
        return "[]"
    return _scalar(value)


def write_metadata(run: Run, metadata: dict[str, Any]) -> None:
    """Write execution_metadata.yaml."""
    run.metadata_path.write_text(to_yaml(metadata) + "\n", encoding="utf-8")
