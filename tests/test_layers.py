"""The package's layers hold: `lint-imports` keeps them, and catches a forbidden import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests._helpers import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "src", copy / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def test_the_layers_hold() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        (
            "folds/events.py",
            "from spanline._hotpath._tracer import RUNTIME",
            "Folds never import the tracer",
        ),
        ("folds/summary.py", "import spanline._writer._pipeline", "Folds never import the tracer"),
        (
            "exporters/console.py",
            "from spanline._hotpath import _tracer",
            "Exporters never import the tracer",
        ),
        (
            "_hotpath/_tracer.py",
            "import spanline._session._configure",
            "The hot path never imports",
        ),
        (
            "cli/__init__.py",
            "import spanline._writer._pipeline",
            "The CLI never imports the writer",
        ),
        ("_runs/_store.py", "import spanline._session._configure", "Layers"),
        (
            "dashboard/_data.py",
            "import spanline._writer._pipeline",
            "The CLI never imports the writer",
        ),
        (
            "dashboard/_data.py",
            "import spanline._hotpath._tracer",
            "The CLI never imports the writer",
        ),
        ("dashboard/_app.py", "import spanline._session._configure", "Layers"),
        ("dashboard/_app.py", "import spanline.cli", "Layers"),
    ],
)
def test_a_forbidden_import_breaks_the_contracts(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    copy = _copy(tmp_path)
    target = copy / "src" / "spanline" / module
    text = target.read_text()
    # After the module docstring and `from __future__`, where an import may stand.
    anchor = "from __future__ import annotations\n"
    target.write_text(text.replace(anchor, f"{anchor}{line}  # noqa\n", 1))
    result = _lint(copy)
    assert result.returncode != 0, result.stdout
    contract = next(row for row in result.stdout.splitlines() if row.startswith(broken))
    assert contract.endswith("BROKEN")
