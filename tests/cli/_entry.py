"""The ``spanline`` console script, run as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests._helpers import clean_env

#: The console script installed beside this interpreter (``pip install -e .`` puts it there).
SPANLINE = str(Path(sys.executable).parent / "spanline")


def spanline(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``spanline *args`` through its console script, with a clean SPANLINE_* environment
    and a colourless terminal of 100 columns unless ``env`` says otherwise."""
    return subprocess.run(
        [SPANLINE, *args],
        env=clean_env(
            {"COLUMNS": "100", "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8", **(env or {})}
        ),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
