"""The example as a live process: started with the dashboard on, its URL read from stderr."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests._helpers import BARE_PATH, EXAMPLE, default_sigint

URL = re.compile(r"spanline: dashboard at (http://\S+)")


class LiveExample:
    """``examples/eigenda_profile.py *args`` in a child process, its output read by threads.

    Its environment is a bare shell's (a PATH) with ``SPANLINE_DIR`` under ``tmp``, and
    it takes Ctrl-C (SIGINT) as from a terminal, even when this suite ignores SIGINT.
    ``command`` runs another program the same way (the printed ``spanline serve``);
    ``env`` adds variables to that environment.
    """

    def __init__(
        self,
        tmp: Path,
        *args: str,
        command: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.base = tmp / "base"
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.process = subprocess.Popen(
            command or [sys.executable, str(EXAMPLE), *args],
            env={"PATH": BARE_PATH, "SPANLINE_DIR": str(self.base), **(env or {})},
            cwd=tmp,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=default_sigint,
        )
        self._readers = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in (
                (self.process.stdout, self.stdout),
                (self.process.stderr, self.stderr),
            )
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: object, lines: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            lines.append(line)

    def wait_for(
        self, pattern: str, *, stream: str = "stderr", timeout: float = 30.0
    ) -> re.Match[str]:
        """The first match of ``pattern`` in a line of the child's stdout or stderr."""
        regex = re.compile(pattern)
        lines = self.stderr if stream == "stderr" else self.stdout
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(lines):
                found = regex.search(line)
                if found:
                    return found
            if self.process.poll() is not None and all(not r.is_alive() for r in self._readers):
                break
            time.sleep(0.02)
        raise AssertionError(
            f"no {pattern!r} on {stream}; stdout: {''.join(self.stdout)!r}; "
            f"stderr: {''.join(self.stderr)!r}"
        )

    def url(self, timeout: float = 30.0) -> str:
        """The dashboard's address, as the run prints it while it is live."""
        return self.wait_for(URL.pattern, timeout=timeout).group(1)

    def finish(self, timeout: float = 60.0) -> int:
        """Wait for the child to exit (killed past ``timeout``); its exit status."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        self._close()
        return code

    def kill(self) -> None:
        """Kill the child if it still runs, and close its pipes."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._close()

    def _close(self) -> None:
        for reader in self._readers:
            reader.join(5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    @property
    def run_dir(self) -> Path:
        return (self.base / "runs" / "latest").resolve()
