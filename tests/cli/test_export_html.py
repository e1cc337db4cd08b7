"""``spanline export --format html``: the dashboard page with the run embedded."""

from __future__ import annotations

import json
from pathlib import Path

from spanline.dashboard.page import build_page, report_data
from tests._helpers import run_cli
from tests.cli._runs import cli_env, make_golden_run


def embedded(html: str) -> dict:
    return json.loads(html.split('id="spanline-data">', 1)[1].split("</script>", 1)[0])


def test_export_html_writes_the_page_with_the_run(tmp_path: Path) -> None:
    run_dir = make_golden_run(tmp_path)
    result = run_cli("--dir", str(tmp_path), "export", "--format", "html", env=cli_env())
    assert result.returncode == 0, result.stderr
    written = run_dir / "report.html"
    assert result.stdout == f"{written}\n"
    html = written.read_text(encoding="utf-8")
    assert html == build_page(report_data(run_dir))
    data = embedded(html)
    assert data["snapshot"]["summary"] == json.loads((run_dir / "run_summary.json").read_text())
    lines = (run_dir / "telemetry.jsonl").read_text().splitlines()
    assert len(data["events"]) == len(lines)


def test_export_html_into_a_directory_or_stdout(tmp_path: Path) -> None:
    run_dir = make_golden_run(tmp_path / "base")
    out = tmp_path / "out"
    out.mkdir()
    args = ("--dir", str(tmp_path / "base"), "export", run_dir.name, "--format", "html")
    result = run_cli(*args, "--out", str(out), env=cli_env())
    assert result.returncode == 0, result.stderr
    assert (out / f"{run_dir.name}.html").is_file()
    piped = run_cli(*args, "--out", "-", env=cli_env())
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == (out / f"{run_dir.name}.html").read_text(encoding="utf-8")
