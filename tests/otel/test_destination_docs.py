"""The destination pages: the Collector config is complete, and every page is linked."""

from __future__ import annotations

import re

import yaml

from tests._helpers import ROOT

PAGES = ROOT / "docs" / "destinations"


def test_the_collector_config_defines_every_component_its_pipeline_uses() -> None:
    text = (PAGES / "collector.md").read_text()
    (block,) = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    config = yaml.safe_load(block)
    traces = config["service"]["pipelines"]["traces"]
    for kind in ("receivers", "processors", "exporters"):
        assert traces[kind] and set(traces[kind]) <= set(config[kind]), kind
    assert len(traces["exporters"]) == 2  # fans out to two backends
    assert config["receivers"]["otlp"]["protocols"].keys() == {"grpc", "http"}


def test_every_destination_page_is_linked_from_the_docs() -> None:
    index = (ROOT / "docs" / "index.md").read_text() + (PAGES / "otlp.md").read_text()
    for page in PAGES.glob("*.md"):
        assert f"{page.name})" in index, page.name
