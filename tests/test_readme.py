"""The README opens with the two commands, and CI runs exactly the second."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests._helpers import ROOT


def test_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.DOTALL)
    assert len(blocks) >= 2
    run_main, run_tests = (block.strip() for block in blocks[:2])
    # Nothing but the title comes before the first command.
    assert text.index("```bash") < text.index("\n", text.index("# spanline")) + 3
    assert "examples/eigenda_profile.py" in run_main and "pip install" in run_main
    # It installs every extra that the main job and the README's next steps need.
    installed = re.search(r"-e '\.\[([a-z,]+)\]'", run_main)
    assert installed is not None, run_main
    needed = {"dashboard"}  # the example serves its dashboard
    needed |= {"query" for _ in re.finditer(r"spanline query ", text)}
    needed |= {"dashboard" for _ in re.finditer(r"spanline serve", text)}
    assert needed == {"dashboard", "query"}
    assert needed <= set(installed.group(1).split(","))
    assert run_tests == "bash scripts/test.sh"
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^exec bash scripts/test\.sh\s*$", ci, re.MULTILINE)


@pytest.mark.parametrize(("pytest_status", "expected"), [(5, 1), (0, 0), (1, 1)])
def test_test_script_treats_no_tests_collected_as_failure(
    tmp_path: Path, pytest_status: int, expected: int
) -> None:
    """Run the real script against stand-ins for the venv's python and linters."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "test.sh", tmp_path / "scripts" / "test.sh")
    # The framework venvs' maker, stood in for too: the real one installs packages.
    (tmp_path / "scripts" / "test-venv.sh").write_text("#!/bin/sh\necho /nowhere\n")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    fake_python = f"""#!/bin/sh
if [ "$2" = "pytest" ]; then exit {pytest_status}; fi
exit 0
"""
    tools = {"python": fake_python} | dict.fromkeys(
        ("ruff", "lint-imports", "mypy"), "#!/bin/sh\nexit 0\n"
    )
    for name, body in tools.items():
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    result = subprocess.run(
        ["bash", str(tmp_path / "scripts" / "test.sh")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == expected, result.stderr
    assert ("collected no tests" in result.stderr) == (pytest_status == 5)
