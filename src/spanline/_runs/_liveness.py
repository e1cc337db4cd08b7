"""Whether a run's processes may still write: by pid, on the host that wrote them.

Readers call a span with a start and no end *in flight* while this holds, and
*abandoned* once it does not; the CLI, the dashboard's run list and its snapshot
all ask here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from spanline._lines._read import lines
from spanline._runs._store import Run, this_host

__all__ = [
    "WRITER_EVENTS",
    "process_alive",
    "run_is_live",
    "track_writer",
    "track_writers",
    "writers_alive",
]


def run_is_live(run: Run) -> bool:
    """True while some process of the run that wrote no ``process_end`` still runs.

    Spans with a start and no end are *in flight* while this holds, and
    *abandoned* once it does not. A process is checked by its pid, and only when
    its header names this host: one on another machine (or a header without a
    host, as in deterministic runs) cannot be seen running from here. Where the
    system tells when a process started (Linux), a pid now held by a process
    that started after the run's header and after the file's last write is a
    new process with a reused pid (a restarted container, say): the run's own
    process is gone.

    Args:
        run: the run.

    Returns:
        True if such a process is alive.
    """
    hosts: dict[int, Any] = {}
    try:
        track_writers(hosts, run.telemetry_path, final=True)
    except OSError:
        return False
    return writers_alive(hosts, run.telemetry_path)


def track_writers(
    hosts: dict[int, Any], log: str | os.PathLike[str], start: int = 0, *, final: bool = False
) -> int:
    """:func:`track_writer` over the lines of ``log`` from byte ``start`` (a line's start).

    Args:
        hosts: updated in place.
        log: the run's telemetry.jsonl.
        start: where to go on from (what an earlier call returned).
        final: the writers are done: a last line without its newline counts too.

    Returns:
        The offset just past the last line read, for the next call.
    """
    import orjson

    offset = start
    for line, past in lines(log, start, final=final):
        offset = past
        # Only header and trailer lines matter: skip the rest unparsed.
        if b'"process_' not in line and b'"run_start"' not in line:
            continue
        try:
            event = orjson.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            track_writer(hosts, event)
    return offset


#: The events that open and close a process's part of a run.
WRITER_EVENTS = frozenset({"run_start", "process_start", "process_end"})


def track_writer(hosts: dict[int, Any], event: Mapping[str, Any]) -> None:
    """Keep ``hosts`` as {pid: (host, header time)} of the processes that started and
    wrote no ``process_end`` yet, given the run's events in file order (others are
    ignored)."""
    pid = event.get("pid")
    if type(pid) is not int:
        return
    tag = event.get("event")
    if tag == "run_start" or tag == "process_start":
        hosts[pid] = (event.get("host"), event.get("ts"))
    elif tag == "process_end":
        hosts.pop(pid, None)


def writers_alive(hosts: Mapping[int, Any], log: str | os.PathLike[str] | None = None) -> bool:
    """True if a process of ``hosts`` (see :func:`track_writer`) runs on this host.

    Args:
        hosts: the processes to check.
        log: the run's telemetry.jsonl: a pid held by a process that started after
            both the header and the file's last write was reused.

    Returns:
        True if one of them still runs.
    """
    here = this_host()
    written = None
    if log is not None:
        try:
            written = os.stat(log).st_mtime
        except OSError:
            pass
    return any(host == here and _pid_alive(pid, ts, written) for pid, (host, ts) in hosts.items())


#: How much later than the run's header a process may seem to have started and still
#: be its writer: the boot time the system reports is rounded to the second.
_START_SLACK_S = 2.0


def process_alive(pid: int) -> bool:
    """True if process ``pid`` runs on this host (a file named by a pid: is its writer gone?)."""
    return _pid_alive(pid)


def _pid_alive(pid: int, header_ts: Any = None, written: float | None = None) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    except (OSError, OverflowError):  # OverflowError: no pid is that large
        return False
    if type(header_ts) is float or type(header_ts) is int:
        # The header's time is the writer's clock, which a step of the system clock
        # (or a patched time.time) can put behind; the file's last write is the
        # kernel's. A process started after both cannot be the one that wrote them.
        since = header_ts if written is None or written < header_ts else written
        started = _process_started(pid)
        if started is not None and started - _START_SLACK_S > since:
            return False  # the pid was reused: its process is newer than the run
    return True


def _process_started(pid: int) -> float | None:
    """When process ``pid`` started, in seconds since the epoch (Linux's /proc), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
        # Fields after the command name (which may hold spaces and parentheses);
        # the 22nd field, the start in clock ticks after boot, is the 20th of these.
        ticks = int(stat.rsplit(b")", 1)[1].split()[19])
        return _boot_time() + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _boot_time() -> float:
    """This machine's boot time, in seconds since the epoch (``btime`` of /proc/stat)."""
    with open("/proc/stat", "rb") as handle:
        for line in handle:
            if line.startswith(b"btime "):
                return float(line.split()[1])
    raise ValueError("no btime in /proc/stat")
