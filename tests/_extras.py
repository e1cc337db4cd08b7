"""What spanline tells a user to run for a missing extra, in this installation."""

from __future__ import annotations

import os
from pathlib import Path

from spanline._capture._install import editable_checkout


def install_hint(extra: str, cwd: Path | None = None) -> str:
    """``pip install 'spanline[extra]'`` for an install from the package index; for an
    editable install (this checkout, as the test suite runs), ``pip install -e '.[extra]'``
    from the checkout's root and ``pip install -e '<checkout>[extra]'`` from elsewhere."""
    checkout = editable_checkout()
    if checkout is None:
        return f"pip install 'spanline[{extra}]'"
    here = Path(cwd or os.getcwd()).resolve() == checkout.resolve()
    return f"pip install -e '{'.' if here else checkout}[{extra}]'"
