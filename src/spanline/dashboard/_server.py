"""Binding and running the dashboard's server (uvicorn), in the foreground or on a thread."""

from __future__ import annotations

import errno
import ipaddress
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from spanline.dashboard._app import DashboardConfig, create_app

__all__ = ["TOKEN_PATTERN", "DashboardServer", "is_loopback", "new_token"]

_WILDCARDS = ("0.0.0.0", "::", "")


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> tuple[socket.socket, bool]:
    """A listening socket on ``host:port``, or on a free port when that one is busy."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        fell_back = False
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            sock.bind((address[0], 0, *address[2:]))
            fell_back = True
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock, fell_back


#: A token given by the user: what a URL and a cookie carry unchanged, long enough.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9._~-]{16,256}")


def new_token() -> str:
    """A fresh random key for a dashboard served to other machines."""
    return secrets.token_urlsafe(24)


def _host_names(names: Iterable[str], port: int) -> set[str]:
    """``--allowed-host`` values as ``Host`` headers: ``name``, ``name:port``, ``[v6]``."""
    allowed = set()
    for name in names:
        name = name.strip().lower()
        if name.count(":") > 1 and not name.startswith("["):
            name = f"[{name}]"  # a bare IPv6 address
        has_port = name.rsplit("]", 1)[-1].count(":") == 1
        allowed.add(name if has_port else f"{name}:{port}")
    return allowed


def _allowed_hosts(host: str, port: int, extra: Iterable[str] = ()) -> set[str]:
    named = _host_names(extra, port)
    if not named:
        if host in _WILDCARDS:
            return {f"*:{port}"}  # any address of this machine: the name cannot be pinned
        return _bound_names(host, port)
    # Only the names given, the bound address and loopback (the printed address).
    bound = _bound_names("127.0.0.1", port)
    return named | bound | (set() if host in _WILDCARDS else _bound_names(host, port))


def _bound_names(host: str, port: int) -> set[str]:
    names = {host.lower()}
    if ":" in host and not host.startswith("["):
        names.add(f"[{host.lower()}]")
    if is_loopback(host):
        names |= {"127.0.0.1", "localhost", "[::1]"}
    return {f"{name}:{port}" for name in names}


#: Longest a stopping server waits for open pages to fetch the run's final state.
STOP_GRACE_S = 5.0
#: How long without a request counts as every page having what it needs.
QUIET_S = 1.0

#: How much nicer than the program it observes the dashboard runs.
NICENESS = 10


def yield_cpu() -> None:
    """Lower the calling thread's scheduling priority (and that of the threads it starts).

    On a busy machine the dashboard must not take CPU from the traced program: a page
    a little late costs nothing, a slower program is what spanline promises not to
    cause. On Linux the nice value is per thread, so a dashboard started inside the
    traced program lowers only its own threads. Elsewhere, or where it is refused,
    nothing changes.
    """
    try:
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, current + NICENESS))
    except (AttributeError, OSError):
        pass


class DashboardServer:
    """One bound server over a run store; runs in the foreground or on a daemon thread.

    The socket is bound when the object is made, so :attr:`port` is known (and
    the port taken) before the server runs.

    Args:
        base: the base directory holding ``runs/``.
        host: the address to bind.
        port: the port wanted (0: any free port); when it is busy a free one is used.
        default_run: the run :attr:`url` opens (None: the page's default, the latest).
        allow_remote: permit an address other than loopback; every request then
            needs the key (``token``), and :attr:`url` carries it.
        token: that key (default: a new random one); ignored without ``allow_remote``.
        allowed_hosts: the ``Host`` names accepted besides this machine's loopback
            names (``name`` or ``name:port``); default: the bound address (any name
            on a wildcard address).
        poll_s: how often streams look for new lines.
        ping_s: seconds between keep-alive comments.

    Raises:
        ValueError: a non-loopback ``host`` without ``allow_remote``.
        OSError: the address cannot be bound.
    """

    def __init__(
        self,
        base: Path,
        *,
        host: str,
        port: int,
        default_run: str | None = None,
        allow_remote: bool = False,
        token: str | None = None,
        allowed_hosts: Iterable[str] = (),
        poll_s: float = 0.1,
        ping_s: float = 15.0,
    ) -> None:
        if not allow_remote and not is_loopback(host):
            raise ValueError(
                f"refusing to bind {host!r}: the dashboard binds loopback only "
                "unless --allow-remote is given"
            )
        self.host = host
        self.requested_port = port
        self._socket, self.fell_back = _bind(host, port)
        self.port: int = self._socket.getsockname()[1]
        self.default_run = default_run
        #: Whether the page :attr:`url` opens follows the process into its next runs.
        self.follows = False
        self.pid = os.getpid()
        self.config = DashboardConfig(
            base=base,
            allowed_hosts=_allowed_hosts(host, self.port, allowed_hosts),
            poll_s=poll_s,
            ping_s=ping_s,
            token=(token or new_token()) if allow_remote else None,
            token_cookie=f"spanline_token_{self.port}",
        )
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The page's address (with ``?run=<id>`` when a run was chosen, ``follow=1``
        when the page follows the process's rotations, and ``token=<key>`` when the
        server has a key)."""
        shown = "127.0.0.1" if self.host in _WILDCARDS else self.host
        if ":" in shown and not shown.startswith("["):
            shown = f"[{shown}]"
        query = [f"run={self.default_run}"] if self.default_run else []
        if self.follows:
            query.append("follow=1")
        if self.config.token is not None:
            query.append(f"token={self.config.token}")
        return f"http://{shown}:{self.port}/" + ("?" + "&".join(query) if query else "")

    def follow(self, run_id: str) -> None:
        """The run's process went on in the next run (a rotation): serve that one as its
        own from now on (the run a page following the process opens, the one whose end
        stops the server, and the command that reopens it).

        Args:
            run_id: the run the process writes now.
        """
        from spanline.dashboard import reopen_command

        reopen = reopen_command(self.config.base / "runs" / run_id)
        with self.config.lock:
            self.default_run = run_id
            if self.config.stops_with is not None:
                self.config.stops_with, self.config.reopen = run_id, reopen

    def _make_server(self) -> Any:
        import uvicorn

        config = uvicorn.Config(
            create_app(self.config),
            log_config=None,  # never reconfigure the host program's logging
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            server_header=False,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        return self._server

    def serve_forever(self) -> None:
        """Serve on this thread until interrupted (Ctrl-C) or :meth:`stop`."""
        yield_cpu()
        server = self._make_server()
        try:
            server.run(sockets=[self._socket])
        finally:
            self.config.stopping.set()
            self._socket.close()

    def start_in_thread(self, thread_init: Callable[[], None] | None = None) -> None:
        """Serve from a daemon thread (``spanline-dashboard``); return once it accepts.

        Args:
            thread_init: called first on the new thread.
        """
        server = self._make_server()

        def run() -> None:
            yield_cpu()
            if thread_init is not None:
                thread_init()  # before the event loop: its tasks copy this context
            try:
                server.run(sockets=[self._socket])
            finally:
                self._socket.close()

        self._thread = threading.Thread(target=run, name="spanline-dashboard", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10.0
        while not server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)

    def _wait_quiet(self) -> None:
        config = self.config
        with config.lock:
            if config.stops_with is None:
                return  # not the run's own server: nothing ends with a run here
            if config.last_request is None and config.requests == 0:
                return  # no page ever asked
            following, asked = config.streams, config.snapshots
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline:
            with config.lock:
                busy, last, snapshots = config.requests, config.last_request, config.snapshots
            if following:
                if busy == 0 and snapshots - asked >= following:
                    return  # each page that followed the run has its final state
            elif busy == 0 and last is not None and time.monotonic() - last >= QUIET_S:
                return  # no page was following: only answers under way were waited for
            time.sleep(0.02)

    @property
    def running(self) -> bool:
        """True while the server thread is serving."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        """End every stream, stop the server and wait for its thread. Idempotent.

        A page that followed the run asks for its final state (a snapshot) when the
        run's last line reaches it. So the server stays up, at most
        :data:`STOP_GRACE_S`, until every stream open at the stop has ended and
        been followed by a snapshot request (with no stream open, until no
        request has come for :data:`QUIET_S`): a page shows the run's end
        truthfully. This holds for a
        run's own server (``stops_with``); any other, or one that never served a
        request, stops at once.
        In a forked child it does nothing: the server belongs to the parent.
        """
        if os.getpid() != self.pid:
            return
        self.config.stopping.set()
        self._wait_quiet()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
