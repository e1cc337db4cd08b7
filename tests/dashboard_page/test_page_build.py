"""build_page(): D3 vendored as recorded, one inline script, embedded data escaped."""

from __future__ import annotations

import hashlib
import json
import re

from spanline.dashboard.page import D3_SHA256, STATIC, build_page, script_hash, style_hash


def test_vendored_d3_matches_its_recorded_checksum() -> None:
    d3 = (STATIC / "vendor" / "d3-7.9.2.min.js").read_bytes()
    assert hashlib.sha256(d3).hexdigest() == D3_SHA256
    assert D3_SHA256 in (STATIC / "vendor" / "VENDOR.md").read_text()


def test_the_page_has_one_inline_script_and_no_network_or_handlers() -> None:
    html = build_page()
    assert html.count("<script>") == 1
    assert "<script src" not in html and "http://" not in html.split("<script>")[0]
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", html.split("<script>")[0])  # no onclick=
    assert "innerHTML" not in (STATIC / "app.js").read_text()
    assert f"script-src {script_hash(html)};" in html
    assert f"style-src {style_hash(html)};" in html


def test_embedded_data_cannot_close_its_script_element() -> None:
    name = "</script><script>alert(1)</script><!--"
    html = build_page({"snapshot": {"run_id": "r", "summary": None, "lanes": []},
                       "events": [{"event": "span_start", "name": name}]})  # fmt: skip
    assert "alert(1)" in html and name not in html
    block = html.split('id="spanline-data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(block)["events"][0]["name"] == name
    assert html.count("<script>") == 1
