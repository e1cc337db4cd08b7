"""A missing extra names the command that installs it here: ``pip install 'spanline[x]'``
for an install from the package index, ``pip install -e '.[x]'`` in a checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

from spanline._capture._install import editable_checkout
from tests._helpers import ROOT
from tests.cli._entry import spanline

_BLOCK_DUCKDB = "raise ImportError('No module named duckdb', name='duckdb')\n"
_OTLP_RUN = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.startswith("opentelemetry.exporter.otlp"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
import spanline
spanline.configure_observability(enabled=True, run_dir=sys.argv[1], exporters=["otlp"])
spanline.shutdown()
"""

editable = pytest.mark.skipif(
    editable_checkout() is None, reason="spanline is not an editable install here"
)


def _without(tmp_path: Path, release: bool) -> dict[str, str]:
    """An environment where DuckDB cannot be imported; with ``release``, spanline's
    metadata is that of an install from the package index (no direct_url.json)."""
    path = tmp_path / "path"
    (path / "duckdb").mkdir(parents=True, exist_ok=True)
    (path / "duckdb" / "__init__.py").write_text(_BLOCK_DUCKDB)
    if release:
        info = path / "spanline-0.1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: spanline\nVersion: 0.1.0\n")
    return {"PYTHONPATH": str(path)}


def _query_error(tmp_path: Path, cwd: Path, release: bool = False) -> str:
    base = tmp_path / "base"
    (base / "runs" / "svc-20260101T000000-000001").mkdir(parents=True, exist_ok=True)
    (base / "runs" / "svc-20260101T000000-000001" / "telemetry.jsonl").write_text("{}\n")
    result = spanline(
        "--dir", str(base), "query", "SELECT 1", cwd=cwd, env=_without(tmp_path, release)
    )
    assert result.returncode == 2, result.stderr
    return result.stderr


def test_an_install_from_the_package_index_is_told_the_package_form(tmp_path: Path) -> None:
    stderr = _query_error(tmp_path, cwd=ROOT, release=True)
    assert stderr == "spanline: error: spanline query needs DuckDB: pip install 'spanline[query]'\n"


@editable
def test_a_checkout_is_told_the_editable_form(tmp_path: Path) -> None:
    checkout = editable_checkout()
    assert checkout is not None and checkout.resolve() == ROOT.resolve()
    stderr = _query_error(tmp_path, cwd=ROOT)
    assert stderr == "spanline: error: spanline query needs DuckDB: pip install -e '.[query]'\n"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    stderr = _query_error(tmp_path, cwd=elsewhere)
    assert stderr.endswith(f"needs DuckDB: pip install -e '{checkout}[query]'\n")


@pytest.mark.parametrize("release", [True, False], ids=["package index", "checkout"])
def test_the_otlp_exporter_names_the_same_form(tmp_path: Path, release: bool) -> None:
    import subprocess
    import sys

    from tests._helpers import clean_env

    if not release and editable_checkout() is None:
        pytest.skip("spanline is not an editable install here")
    env = clean_env(_without(tmp_path, release))
    result = subprocess.run(
        [sys.executable, "-c", _OTLP_RUN, str(tmp_path / "runs")],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    expected = "pip install 'spanline[otlp]'" if release else "pip install -e '.[otlp]'"
    (warning,) = [line for line in result.stderr.splitlines() if "pip install" in line]
    assert f"({expected})" in warning
