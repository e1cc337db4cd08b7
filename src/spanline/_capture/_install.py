"""The command that installs one of spanline's extras, in the form this installation needs.

Every message about a missing extra (``query``, ``dashboard``, ``otlp``,
``logfire``...) names its command through :func:`install_command`. An install
from the package index takes ``pip install 'spanline[query]'``; an editable
install from a checkout (``pip install -e .``) would get the released package
from that command instead of the checkout's extra, so it is told
``pip install -e '.[query]'`` (or the checkout's path, from elsewhere). An
editable install is known by its ``direct_url.json`` (PEP 610).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

__all__ = ["install_command"]


def install_command(extra: str) -> str:
    """The ``pip install`` command that adds ``extra`` to this installation of spanline.

    Args:
        extra: the extra's name, e.g. ``"query"``.

    Returns:
        ``pip install 'spanline[query]'``, or for an editable install from a checkout
        ``pip install -e '.[query]'`` (from the checkout's root) or
        ``pip install -e '/path/to/checkout[query]'`` (from anywhere else).
    """
    checkout = editable_checkout()
    if checkout is None:
        return f"pip install 'spanline[{extra}]'"
    try:
        here = Path.cwd().resolve() == checkout.resolve()
    except OSError:  # the current directory was removed
        here = False
    return f"pip install -e '{'.' if here else checkout}[{extra}]'"


@cache
def editable_checkout() -> Path | None:
    """The checkout spanline is installed from in editable mode, or None.

    Returns:
        The directory named by the distribution's ``direct_url.json`` when it says
        ``dir_info.editable``; None for any other install (or unreadable metadata).
    """
    from importlib import metadata

    try:
        text = metadata.distribution("spanline").read_text("direct_url.json")
    except (metadata.PackageNotFoundError, OSError, ValueError):
        return None
    try:
        data = json.loads(text or "")
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    dir_info, url = data.get("dir_info"), data.get("url")
    if not isinstance(dir_info, dict) or dir_info.get("editable") is not True:
        return None
    if not isinstance(url, str) or not url.startswith("file://"):
        return None
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    return Path(url2pathname(urlparse(url).path))
