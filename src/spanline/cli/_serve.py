"""``spanline serve``: the live dashboard of a run store, in the browser."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from spanline.cli._app import DIR_HELP, CliError, base_dir, cli, find_run
from spanline.dashboard import DEFAULT_HOST, DEFAULT_PORT

__all__ = ["serve"]


@cli.command()
@click.argument("run", required=False)
@click.option("--dir", "directory", type=click.Path(path_type=Path), help=DIR_HELP)
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="address to bind")
@click.option(
    "--port",
    default=DEFAULT_PORT,
    type=click.IntRange(0, 65535),
    show_default=True,
    help="port (a free one is used when it is busy)",
)
@click.option("--open", "open_browser", is_flag=True, help="open the page in a browser")
@click.option(
    "--allow-remote",
    is_flag=True,
    help="allow binding an address other than loopback; every request then needs a key",
)
@click.option(
    "--token",
    metavar="KEY",
    help="with --allow-remote: the key requests need (default: a new random one); "
    "16 to 256 of A-Z a-z 0-9 . _ ~ -",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    metavar="NAME[:PORT]",
    help="a Host name the server answers (repeatable); others get 400 "
    "(default: the bound address, any name on 0.0.0.0 or ::)",
)
def serve(
    run: str | None,
    directory: Path | None,
    host: str,
    port: int,
    open_browser: bool,
    allow_remote: bool,
    token: str | None,
    allowed_hosts: tuple[str, ...],
) -> None:
    """Serve the live dashboard of the runs under --dir until Ctrl-C (which exits 0).

    RUN (an id or a run directory's path) is the run the printed address opens;
    without it the page shows the latest run. Binds 127.0.0.1 unless --host and
    --allow-remote say otherwise; with --allow-remote every request needs the key
    the printed address carries (?token=...), else it gets 401. Nothing is
    written: every endpoint reads.
    """
    from spanline.dashboard import DashboardUnavailable, require_extra

    try:
        require_extra()
    except DashboardUnavailable as exc:
        raise CliError(str(exc)) from None
    from spanline.dashboard._server import TOKEN_PATTERN, DashboardServer, is_loopback

    if token is not None and not allow_remote:
        raise CliError("--token applies with --allow-remote only (local serving needs no key)")
    if token is not None and TOKEN_PATTERN.fullmatch(token) is None:
        raise CliError("--token must be 16 to 256 of the characters A-Z a-z 0-9 . _ ~ -")
    for name in allowed_hosts:
        if not name or any(c in name for c in " \t/\\@?#,") or not name.isascii():
            raise CliError(f"--allowed-host {name!r} is not a host name (NAME or NAME:PORT)")
    base, default_run = base_dir(directory), None
    if run is not None:
        found = find_run(run, directory)
        if found.directory.parent.name != "runs":
            raise CliError(f"{found.directory} is not inside a <base>/runs/ directory")
        base, default_run = found.base, found.run_id
    if not is_loopback(host) and not allow_remote:
        raise CliError(
            f"refusing to bind {host}: it is reachable from other machines; "
            "add --allow-remote to do it anyway"
        )
    server = DashboardServer(
        base,
        host=host,
        port=port,
        default_run=default_run,
        allow_remote=allow_remote,
        token=token,
        allowed_hosts=allowed_hosts,
    )
    try:
        _serve_until_stopped(server, port, open_browser=open_browser)
    except KeyboardInterrupt:  # Ctrl-C is how serving ends: not an error
        pass
    click.echo(f"spanline: stopped serving {server.url}")


def _serve_until_stopped(server: Any, port: int, *, open_browser: bool) -> None:
    """Say where the dashboard is, then serve until Ctrl-C."""
    from spanline.dashboard._server import is_loopback

    if server.fell_back:
        click.echo(f"spanline: port {port} is busy; using port {server.port}")
    if not is_loopback(server.host):
        click.echo(
            f"spanline: warning: serving on {server.host}: anyone who can reach this machine "
            "and has the address below (it carries the key) can read these runs",
            err=True,
        )
    click.echo(f"spanline: dashboard at {server.url} (Ctrl-C to stop)")
    sys.stdout.flush()
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    server.serve_forever()
