"""The package's layers hold: `lint-imports` keeps them, and catches a forbidden import."""

from __future__ import annotations

import os
import re
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


#: A forbidden import for each contract (and a few more for the layers), and the
#: contract it breaks, by the start of its name.
FORBIDDEN = [
    ("_runs/_store.py", "import spanline._session", "Layers"),
    ("_hotpath/_tracer.py", "import spanline._session._configure", "Layers"),
    ("_hotpath/_tracer.py", "from spanline._writer import _pipeline", "Layers"),
    ("_decorators/_traced.py", "import spanline.exporters", "Layers"),
    ("_lines/_encode.py", "import spanline._hotpath", "Layers"),
    ("exporters/_worker.py", "import spanline._writer._pipeline", "Layers"),
    ("folds/summary.py", "from spanline._writer import _pipeline", "Layers"),
    ("dashboard/_app.py", "import spanline._session", "Layers"),
    ("dashboard/_app.py", "import spanline.cli", "Layers"),
    (
        "folds/events.py",
        "from spanline._hotpath._tracer import RUNTIME",
        "Folds never import the tracer",
    ),
    ("folds/summary.py", "import spanline._writer", "Folds never import the tracer"),
    (
        "exporters/console.py",
        "from spanline._hotpath import _tracer",
        "Exporters never import the tracer",
    ),
    ("cli/__init__.py", "import spanline._writer._pipeline", "The CLI never imports"),
    ("cli/_emit.py", "from spanline._writer import _convert", "The CLI never imports"),
    ("dashboard/_data.py", "import spanline._writer", "The CLI never imports"),
    ("dashboard/_data.py", "import spanline._hotpath._tracer", "The CLI never imports"),
]


def test_every_contract_has_a_forbidden_import() -> None:
    """The contracts are package-level, few, and each one is shown to catch an import."""
    text = (ROOT / "pyproject.toml").read_text().split("[tool.importlinter]", 1)[1]
    names = re.findall(r'^name = "(.*)"$', text, flags=re.MULTILINE)
    assert len(names) == 4
    for name in names:
        assert any(name.startswith(broken) for _, _, broken in FORBIDDEN), name
    # Every entry of the layers stack is a package or a public module, not a private module.
    layers = text[text.index("layers = [") : text.index("]", text.index("layers = ["))]
    stack = [row for row in layers.splitlines()[1:] if not row.lstrip().startswith("#")]
    entries = re.findall(r"spanline[.\w]*", "\n".join(stack))
    assert entries and all(entry.count(".") == 1 for entry in entries), entries
    assert len(entries) <= 20


@pytest.mark.parametrize(("module", "line", "broken"), FORBIDDEN)
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


def test_the_package_root_holds_only_public_modules_data_and_folders() -> None:
    root = ROOT / "src" / "spanline"
    files = sorted(path.name for path in root.iterdir() if path.is_file())
    assert files == [
        "__init__.py",
        "__main__.py",
        "_version.py",
        "coordination.py",
        "exceptions.py",
        "prices.json",
        "py.typed",
        "pytest_plugin.py",
        "schema.py",
        "telemetry.schema.json",
        "testing.py",
    ]
    folders = {path.name for path in root.iterdir() if path.is_dir() and path.name != "__pycache__"}
    layers = {"_lines", "_hotpath", "_capture", "_decorators", "_writer", "_runs", "_session"}
    assert layers <= folders
