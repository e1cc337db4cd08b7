"""The live dashboard: a local web server over a run store, with a single static page.

It reads runs only through the run store and the folds, never the tracer or
the writer, and no endpoint writes. Starlette, sse-starlette and uvicorn come
with the ``[dashboard]`` extra; importing this package needs none of them, so a
missing extra is reported as one line (:data:`INSTALL_HINT`) when a server is
started.

Start it with ``spanline serve`` or ``configure_observability(dashboard=True)``
(which calls :func:`start_in_thread`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spanline.dashboard._server import DashboardServer

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "INSTALL_HINT",
    "DashboardUnavailable",
    "reopen_command",
    "start_in_thread",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
#: What to run when the extra is missing, for an install from the package index (an
#: editable install from a checkout is told its own form: see ``require_extra``).
INSTALL_HINT = "pip install 'spanline[dashboard]'"


class DashboardUnavailable(ImportError):
    """The ``[dashboard]`` extra is not installed; the message names the install command."""


def require_extra() -> None:
    """Import the server's libraries, or raise :class:`DashboardUnavailable` (one line).

    Raises:
        DashboardUnavailable: starlette, sse-starlette or uvicorn is missing.
    """
    try:
        import sse_starlette  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        from spanline._capture._install import install_command

        raise DashboardUnavailable(
            f"the dashboard needs {exc.name or 'its libraries'}: {install_command('dashboard')}"
        ) from None


def reopen_command(run_directory: Path) -> str:
    """The ``spanline serve`` command that serves a run again, as typed from here.

    Args:
        run_directory: the run's directory (``<base>/runs/<run_id>``).

    Returns:
        ``spanline serve <run directory>``, the directory relative to the current
        one when it is below it; ``spanline`` is the path of the one installed
        beside this Python when the ``PATH`` finds another or none (a virtual
        environment not activated).
    """
    import shutil
    import sys

    command = "spanline"
    beside = Path(sys.executable).parent / "spanline"
    found = shutil.which("spanline")
    if beside.is_file() and (found is None or Path(found).resolve() != beside.resolve()):
        command = str(_from_here(beside))
    return f"{command} serve {_from_here(run_directory)}"


def _from_here(path: Path) -> Path:
    """``path`` relative to the current directory when it is below it."""
    try:
        if path.is_absolute():
            return path.relative_to(Path.cwd())
    except ValueError:
        pass
    return path


def start_in_thread(
    base: Path,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    default_run: str | None = None,
    allow_remote: bool = False,
    thread_init: Callable[[], None] | None = None,
    stops_with_run: bool = False,
    follows: bool = False,
) -> DashboardServer:
    """Serve the runs under ``base`` from a daemon thread until ``stop()`` is called.

    Args:
        base: the base directory holding ``runs/``.
        host: the address to bind (loopback unless ``allow_remote``).
        port: the port; when it is busy a free one is used (see ``fell_back``).
        default_run: the run the printed URL opens (None: the latest).
        allow_remote: permit a non-loopback address; requests then need the key
            the returned server's ``url`` carries.
        thread_init: called first on the server's thread (the session passes
            the tracer's "this is spanline's own thread" marker, so nothing
            traced there is recorded; this package never imports the tracer).
        stops_with_run: the server is ``default_run``'s own: it stops when that run
            ends, and says how to serve it again.
        follows: the run's process rotates: the printed page follows it into its
            next runs (``follow=1``), as :meth:`DashboardServer.follow` moves on.

    Returns:
        The running server: ``url``, ``port``, ``fell_back``, ``stop()``.

    Raises:
        DashboardUnavailable: the extra is missing.
        ValueError: a non-loopback ``host`` without ``allow_remote``.
        OSError: the address cannot be bound at all.
    """
    require_extra()
    from spanline.dashboard._server import DashboardServer

    server = DashboardServer(
        base, host=host, port=port, default_run=default_run, allow_remote=allow_remote
    )
    if stops_with_run and default_run is not None:
        server.config.stops_with = default_run
        server.config.reopen = reopen_command(base / "runs" / default_run)
        server.follows = follows
    server.start_in_thread(thread_init)
    return server
