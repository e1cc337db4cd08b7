"""A value stored out of line reaches the browser: the span details link to the blob route,
which serves the whole value; a corrupt or missing blob gets an error, not a stream."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from spanline.schema import BLOB_REF
from tests._helpers import read_lines, run_python
from tests.dashboard_page.conftest import Watched, serve

TOOL_BYTES = 50 * 1024 * 1024

PROGRAM = f"""
import spanline
run = spanline.configure_observability(enabled=True, run_dir={{base!r}}, service_name="big",
                                       capture="full")

@spanline.traced_tool(name="fetch")
def fetch():
    return "0123456789abcdef" * ({TOOL_BYTES} // 16)

@spanline.traced_agent(name="reader")
def reader():
    return fetch()

reader()
spanline.shutdown()
"""


@pytest.fixture(scope="module")
def blob_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("blob-page")
    result = run_python(PROGRAM.format(base=str(base)), timeout=600)
    assert result.returncode == 0, result.stderr
    return base


def _agent(run_dir: Path) -> tuple[str, dict[str, Any]]:
    for event in read_lines(run_dir / "telemetry.jsonl"):
        if event["event"] == "span_end" and event["attributes"].get("gen_ai.agent.name"):
            return event["span_id"], event["attributes"]["output.value"][BLOB_REF]
    for event in read_lines(run_dir / "telemetry.jsonl"):  # the name is on the start line
        if event["event"] == "span_start" and event["name"] == "reader":
            end = next(
                e
                for e in read_lines(run_dir / "telemetry.jsonl")
                if e["event"] == "span_end" and e["span_id"] == event["span_id"]
            )
            return event["span_id"], end["attributes"]["output.value"][BLOB_REF]
    raise AssertionError("no agent span")


def test_the_span_details_open_the_full_value(blob_base: Path, watched: Watched) -> None:
    (run_dir,) = (blob_base / "runs").glob("big-*")
    span_id, ref = _agent(run_dir)
    page = watched.page
    with serve(blob_base) as url:
        page.goto(url + "/")
        page.click(f'g.lane[data-span-id="{span_id}"] rect.bar')
        link = page.locator("#detail-body a.blob-link")
        expect(link).to_have_count(1)
        expect(link).to_contain_text(f"{ref['size']:,} bytes")
        href = link.get_attribute("href")
        assert href == f"/api/runs/{run_dir.name}/blobs/{ref['sha256']}"
        # The details show the value's first bytes; the whole value is a download.
        expect(page.locator("#detail-body pre.blob-head")).to_contain_text("0123456789abcdef")
        head = page.locator("#detail-body pre.blob-head").inner_text()
        assert 2048 <= len(head) <= 2049
        with page.expect_download() as downloading:
            link.click()
        data = Path(downloading.value.path()).read_bytes()
        assert len(data) == ref["size"]
        assert hashlib.sha256(data).hexdigest() == ref["sha256"]
    assert watched.errors == []


def test_the_blob_route_refuses_bad_names_and_reports_bad_files(
    blob_base: Path, tmp_path: Path
) -> None:
    base = tmp_path / "base"
    shutil.copytree(blob_base, base, symlinks=True)
    (run_dir,) = (base / "runs").glob("big-*")
    _, ref = _agent(run_dir)
    path = f"/api/runs/{run_dir.name}/blobs/"
    (run_dir / "blobs" / f"{ref['sha256']}.zst").write_bytes(b"garbage")
    with serve(base) as url:
        assert httpx.get(url + path + "../../x").status_code in (400, 404)
        assert httpx.get(url + path + "ABC").status_code == 400
        missing = httpx.get(url + path + "0" * 64)
        assert missing.status_code == 404
        assert "process ended before writing it" in json.loads(missing.text)["error"]
        corrupt = httpx.get(url + path + ref["sha256"])
        assert corrupt.status_code == 422
        assert "corrupt" in corrupt.json()["error"]


def test_the_span_details_say_a_blob_cut_short_is_corrupt(
    blob_base: Path, tmp_path: Path, watched: Watched
) -> None:
    base = tmp_path / "base"
    shutil.copytree(blob_base, base, symlinks=True)
    (run_dir,) = (base / "runs").glob("big-*")
    span_id, ref = _agent(run_dir)
    blob = run_dir / "blobs" / f"{ref['sha256']}.zst"
    blob.write_bytes(blob.read_bytes()[:100])  # a zstd stream cut short
    page = watched.page
    with serve(base) as url:
        page.goto(url + "/")
        page.click(f'g.lane[data-span-id="{span_id}"] rect.bar')
        head = page.locator("#detail-body pre.blob-head")
        expect(head).to_contain_text(f"blob {ref['sha256']}.zst is corrupt")
        expect(page.locator("#detail-body a.blob-link")).to_have_count(1)
