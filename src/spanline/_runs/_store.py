"""The run store: create a run, validate ids, resolve and list runs, read their header and summary.

The session, the CLI and the dashboard find runs only through this package: this
module, whether a run still runs (:mod:`spanline._runs._liveness`) and its
execution metadata (:mod:`spanline._runs._metadata`).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spanline.exceptions import InvalidRunIdError, RunNotFoundError

__all__ = [
    "RUN_ID_PATTERN",
    "Run",
    "create_run",
    "find_run",
    "latest_run",
    "list_runs",
    "new_run_id",
    "read_latest",
    "read_run_start",
    "read_stored_summary",
    "read_summary_if_current",
    "resolve_run",
    "run_created",
    "run_id_prefix",
    "summary_or_fold",
    "this_host",
    "validate_run_id",
]

#: ``<service name>-<UTC YYYYMMDDTHHMMSS>-<6 hex>``: the ids spanline creates.
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}-\d{8}T\d{6}-[0-9a-f]{6}$")
#: Any id a run may be given explicitly (deterministic runs): one safe path segment.
_GIVEN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_STAMP = re.compile(r"-(\d{8}T\d{6})-[0-9a-f]{6}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class Run:
    """Where one run's files live (immutable; equal when both fields are).

    A plain class, not a dataclass: ``import spanline`` loads this module, and
    ``dataclasses`` brings ``inspect``.
    """

    __slots__ = ("directory", "run_id")
    __match_args__ = ("run_id", "directory")
    run_id: str
    directory: Path

    def __init__(self, run_id: str, directory: Path) -> None:
        object.__setattr__(self, "run_id", run_id)
        object.__setattr__(self, "directory", directory)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: a Run is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: a Run is immutable")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.run_id, self.directory) == (other.run_id, other.directory)

    def __hash__(self) -> int:
        return hash((self.run_id, self.directory))

    def __repr__(self) -> str:
        return f"Run(run_id={self.run_id!r}, directory={self.directory!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Run, (self.run_id, self.directory))

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
        """The run summary, rewritten while the run is live and at shutdown."""
        return self.directory / "run_summary.json"

    @property
    def metadata_path(self) -> Path:
        """Query, config, cli args, git, versions."""
        return self.directory / "execution_metadata.yaml"

    @property
    def log_path(self) -> Path:
        """spanline's own human-readable log."""
        return self.directory / "spanline.log"

    @property
    def report_path(self) -> Path:
        """The analysis ``spanline analyze`` writes (MassGen marks analysed logs so too)."""
        return self.directory / "ANALYSIS_REPORT.md"


def validate_run_id(run_id: object) -> str:
    """Check a run id before it touches the filesystem.

    Accepts ids spanline creates and any single safe path segment
    (letters, digits, ``.``, ``_``, ``-``; not ``..``).

    Returns:
        The id.

    Raises:
        InvalidRunIdError: a path (``a/b``, ``../x``, an absolute path), an empty
            string, or characters a run id never has.
    """
    if not isinstance(run_id, str) or not _GIVEN_ID.fullmatch(run_id) or ".." in run_id:
        raise InvalidRunIdError(
            f"invalid run id {run_id!r}: expected <service>-<YYYYMMDDTHHMMSS>-<6 hex> "
            "(letters, digits, '.', '_', '-')"
        )
    return run_id


def run_id_prefix(service_name: str) -> str:
    """The part of a run id that names the service: safe as a directory name.

    Args:
        service_name: any text.

    Returns:
        ``service_name`` with characters other than ``[A-Za-z0-9._-]`` replaced by
        ``-``, leading ``.``, ``_`` and ``-`` dropped, at most 64 characters
        ("spanline" when nothing is left).
    """
    return _UNSAFE.sub("-", service_name).lstrip("._-")[:64] or "spanline"


def new_run_id(service_name: str, now: float | None = None) -> str:
    """A fresh run id: ``<service>-<UTC YYYYMMDDTHHMMSS>-<6 hex>``."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(time.time() if now is None else now))
    return f"{run_id_prefix(service_name)}-{stamp}-{os.urandom(3).hex()}"


def create_run(base: Path, service_name: str, run_id: str | None = None) -> Run:
    """Create ``<base>/runs/<id>/`` and point ``latest`` at it.

    Args:
        base: the base directory.
        service_name: prefix of a new id.
        run_id: use this id instead of a new one (it must not exist yet).

    Raises:
        InvalidRunIdError: ``run_id`` is malformed.
        FileExistsError: a run ``run_id`` exists already.
    """
    runs = base / "runs"
    if run_id is not None:
        validate_run_id(run_id)
    runs.mkdir(parents=True, exist_ok=True)
    while True:
        chosen = run_id or new_run_id(service_name)
        try:
            (runs / chosen).mkdir()
            break
        except FileExistsError:
            if run_id is not None:
                raise FileExistsError(f"run {run_id!r} already exists under {runs}") from None
            continue  # same second, same 6 hex: draw again
    _point_latest(runs, chosen)
    return Run(chosen, (runs / chosen).resolve())


def find_run(base: Path, run_id: str) -> Run | None:
    """The existing run ``run_id`` under ``base``, or None (also for malformed ids)."""
    try:
        validate_run_id(run_id)
    except InvalidRunIdError:
        return None
    directory = base / "runs" / run_id
    return Run(run_id, directory.resolve()) if directory.is_dir() else None


def _point_latest(runs: Path, run_id: str) -> None:
    """Atomically repoint ``latest``: a symlink, or a file holding the id."""
    latest = runs / "latest"
    temp = runs / f".latest-{os.getpid()}-{os.urandom(4).hex()}"
    try:
        try:
            os.symlink(run_id, temp)
        except OSError:
            temp.write_text(run_id + "\n")  # no symlinks here: may fail too (disk full)
        os.replace(temp, latest)
    except OSError:
        temp.unlink(missing_ok=True)  # leave no stray link or file behind
        raise


def read_latest(base: Path) -> str | None:
    """The id ``latest`` points at (symlink or plain file), or None."""
    latest = base / "runs" / "latest"
    if latest.is_symlink():
        return os.readlink(latest).rstrip("/").split("/")[-1]
    if latest.is_file():
        return latest.read_text().strip() or None
    return None


def _run_in(directory: Path) -> Run:
    return Run(directory.name, directory.resolve())


def latest_run(base: str | os.PathLike[str]) -> Run:
    """The most recently created run under ``<base>/runs``: the one ``latest`` points
    at, else the newest listed (resolved on every call).

    Raises:
        RunNotFoundError: there is no run.
    """
    base = Path(base)
    latest = read_latest(base)
    if latest is not None and _GIVEN_ID.fullmatch(latest) and (base / "runs" / latest).is_dir():
        return Run(latest, (base / "runs" / latest).resolve())
    runs = list_runs(base)
    if not runs:
        raise RunNotFoundError(f"no runs under {base / 'runs'}")
    return runs[0]


def _latest_in(base: Path) -> Run:
    if (base / "telemetry.jsonl").is_file():
        return _run_in(base)  # the base itself is a run directory
    return latest_run(base)


def resolve_run(target: str | os.PathLike[str] | None, base: str | os.PathLike[str]) -> Run:
    """Find a run from what a user typed.

    Args:
        target: a run id, ``latest`` (also None), or a path (anything with a
            ``/``): a run directory, a ``telemetry.jsonl`` file, or a base
            directory holding ``runs/``.
        base: the base directory ids are looked up in.

    Returns:
        The run.

    Raises:
        InvalidRunIdError: ``target`` is neither a path, ``latest`` nor a well-formed
            id (checked before any filesystem access).
        RunNotFoundError: nothing matches.
    """
    base_path = Path(base)
    if target is None or str(target) == "latest":
        return _latest_in(base_path)
    text = os.fspath(target)
    if "/" in text or os.sep in text:
        path = Path(text)
        if path.is_file() and path.name == "telemetry.jsonl":
            return _run_in(path.parent)
        if (path / "telemetry.jsonl").is_file():
            return _run_in(path)
        if (path / "runs").is_dir():
            return _latest_in(path)
        raise RunNotFoundError(f"no run at {text} (no telemetry.jsonl, no runs/ directory)")
    run_id = validate_run_id(text)
    directory = base_path / "runs" / run_id
    if not directory.is_dir():
        raise RunNotFoundError(f"no run {run_id!r} under {base_path / 'runs'}")
    return Run(run_id, directory.resolve())


def _stamp_seconds(stamp: str) -> int | None:
    """The UTC second a run id's stamp (``YYYYMMDDTHHMMSS``) names, or None (no date)."""
    import calendar

    try:
        return calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%S"))
    except ValueError:
        return None


#: How long after the second in a run's id its ``run_start`` may be dated and still be
#: taken as when the run was created (the header's time is read just after the id's).
_START_SLACK_S = 60.0


def _directory_mtime_ns(run: Run) -> int:
    """When the run's directory last changed (0: gone)."""
    try:
        return run.directory.stat().st_mtime_ns
    except OSError:
        return 0


def _started(run: Run, stamp: str) -> float:
    """When a run whose id has ``stamp`` was created, to the microsecond: its
    ``run_start`` time when that falls in the id's second or just after (an injected
    clock's does not), else its directory's last change."""
    second = _stamp_seconds(stamp)
    header = read_run_start(run) if second is not None else None
    ts = header.get("ts") if header is not None else None
    number = float(ts) if type(ts) is int or type(ts) is float else None
    if second is not None and number is not None and second <= number < second + _START_SLACK_S:
        return number
    return _directory_mtime_ns(run) / 1e9


def _creation_order(runs: list[Run]) -> dict[Run, tuple[str, float, int, str]]:
    """Sort keys for "most recently created": the UTC second in the id; among runs of
    the same second (a server rotating fast makes several), when their ``run_start``
    says they started; then the directory's last change (which writing a summary moves,
    so it only settles what nothing else does), then the id.

    Only runs that share their second with another have their first lines read.
    """
    stamps = {}
    for run in runs:
        match = _STAMP.search(run.run_id)
        stamps[run] = match.group(1) if match else ""
    shared: dict[str, int] = {}
    for stamp in stamps.values():
        shared[stamp] = shared.get(stamp, 0) + 1
    keys = {}
    for run, stamp in stamps.items():
        started = _started(run, stamp) if stamp and shared[stamp] > 1 else 0.0
        keys[run] = (stamp, started, _directory_mtime_ns(run), run.run_id)
    return keys


def run_created(run: Run) -> float:
    """When the run was created (epoch seconds): the UTC stamp in its id, else its
    directory's mtime."""
    match = _STAMP.search(run.run_id)
    second = _stamp_seconds(match.group(1)) if match else None
    if second is not None:
        return float(second)
    try:
        return run.directory.stat().st_mtime
    except OSError:
        return 0.0


def list_runs(base: str | os.PathLike[str]) -> list[Run]:
    """Every run under ``<base>/runs``, newest first (by creation: the second in the id,
    then, within one second, the time the run's ``run_start`` line records)."""
    runs_dir = Path(base) / "runs"
    try:
        entries = list(runs_dir.iterdir())
    except OSError:
        return []
    runs = [
        Run(entry.name, entry.resolve())
        for entry in entries
        if _GIVEN_ID.fullmatch(entry.name)
        and entry.name != "latest"
        and entry.is_dir()
        and not entry.is_symlink()
    ]
    keys = _creation_order(runs)
    return sorted(runs, key=keys.__getitem__, reverse=True)


def read_run_start(run: Run) -> dict[str, Any] | None:
    """The run's ``run_start`` line (service, source, versions), or None."""
    import json

    from spanline._lines._read import first_lines  # the reader loads when a run is read

    try:
        for raw in first_lines(run.telemetry_path, 50):  # the owner writes it first
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("event") == "run_start":
                return event
    except OSError:
        return None
    return None


#: Bytes read from the end of telemetry.jsonl to find its last line.
_TAIL_BYTES = 1 << 16


def read_summary_if_current(run: Run) -> dict[str, Any] | None:
    """The run's ``run_summary.json`` when it provably covers the whole log, else None.

    The summary written at shutdown *is* the fold of the log, so readers may use
    it instead of folding again, but only when nothing can be missing from it:

    - its ``status`` is not ``incomplete``: every process wrote its process_end;
    - it is not older than telemetry.jsonl (an ``emit`` after shutdown makes the
      log newer);
    - the log's last line is a ``process_end``: a line appended after the
      summary, within the same tick of the file system's clock, is caught too;
    - its ``log_offset`` (the bytes of the log it folded), when it has one, is the
      log's size: a summary written before a later line is folded again.

    Args:
        run: the run.

    Returns:
        The summary as a dict, or None when the log must be folded.
    """

    try:
        summary_mtime = run.summary_path.stat().st_mtime_ns
        log = run.telemetry_path.stat()
        if summary_mtime < log.st_mtime_ns or not _ends_with_process_end(run.telemetry_path):
            return None
        summary = read_stored_summary(run)
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict) or summary.get("status") in (None, "incomplete"):
        return None
    covered = summary.get("log_offset")
    if covered is not None and covered != log.st_size:
        return None
    return summary


def read_stored_summary(run: Run) -> Any:
    """The run's ``run_summary.json``, decoded, whatever it covers.

    Raises:
        OSError: it cannot be read.
        ValueError: it is not JSON.
    """
    import orjson

    return orjson.loads(run.summary_path.read_bytes())


def summary_or_fold(
    run: Run, fold: Callable[[Run], dict[str, Any]], *, refold: bool = False
) -> dict[str, Any]:
    """The run's summary: ``run_summary.json`` when it covers the whole log (see
    :func:`read_summary_if_current`) and lists no skipped line, else ``fold(run)``.

    A stored summary that lists skipped lines is folded again, so the reader that
    folds reports them as it reads.

    Args:
        run: the run.
        fold: folds the run's log into a summary dict (the reader's own way: with
            its progress, its reports and its errors).
        refold: fold even when the stored summary is current.

    Returns:
        The summary dict (the keys of ``run_summary.json``).
    """
    stored = None if refold else read_summary_if_current(run)
    if stored is not None and not stored.get("skipped_line_count"):
        return stored
    return fold(run)


def _ends_with_process_end(path: Path) -> bool:
    """Whether the file's last line is a whole ``process_end`` event."""
    import orjson

    from spanline._lines._read import last_bytes

    tail, size = last_bytes(path, _TAIL_BYTES)
    if not tail.endswith(b"\n"):
        return False  # empty, or a torn last line
    start = tail.rfind(b"\n", 0, len(tail) - 1) + 1
    if start == 0 and size > len(tail):
        return False  # a last line longer than the tail read
    try:
        event = orjson.loads(tail[start:])
    except orjson.JSONDecodeError:
        return False
    return isinstance(event, dict) and event.get("event") == "process_end"


def this_host() -> str:
    """The name of this machine, as written in the run's process headers."""
    from spanline._lines._encode import THREAD_IMPORTS

    with THREAD_IMPORTS:  # the writer thread's first import of it: a fork waits for it
        import socket

    return socket.gethostname()
