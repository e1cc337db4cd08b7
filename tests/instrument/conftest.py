"""Fixtures: the loopback provider server and real SDK clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import spanline
from tests.instrument._providers import ProviderServer, provider_server

#: Sync clients made by the helpers below; each test closes its own at teardown.
_OPEN: list[Any] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


@pytest.fixture(scope="module")
def server() -> Iterator[ProviderServer]:
    with provider_server() as running:
        yield running


@pytest.fixture
def instrumented() -> Iterator[Any]:
    """Instrument all three SDKs for one test; the originals are back after it."""
    names = ("openai", "anthropic", "google-genai")
    for name in names:
        spanline.instrument(name)
    try:
        yield spanline
    finally:
        for name in names:
            spanline.uninstrument(name)


def openai_client(server: ProviderServer, *, sync: bool = True) -> Any:
    import openai

    if not sync:  # async clients are closed by the test's own `async with`
        return openai.AsyncOpenAI(api_key="sk-test", base_url=f"{server.url}/v1", max_retries=0)
    client = openai.OpenAI(api_key="sk-test", base_url=f"{server.url}/v1", max_retries=0)
    _OPEN.append(client)
    return client


def anthropic_client(server: ProviderServer, *, sync: bool = True) -> Any:
    import anthropic

    if not sync:
        return anthropic.AsyncAnthropic(api_key="sk-ant-test", base_url=server.url, max_retries=0)
    client = anthropic.Anthropic(api_key="sk-ant-test", base_url=server.url, max_retries=0)
    _OPEN.append(client)
    return client


def genai_client(server: ProviderServer) -> Any:
    from google import genai

    options = genai.types.HttpOptions(base_url=server.url)
    return genai.Client(api_key="gm-test", http_options=options)


@pytest.fixture
def reports() -> Iterator[list[str]]:
    """spanline's own warnings during the test; each function's first warning is fresh."""
    from loguru import logger

    from spanline._decorators import _traced as _decorators

    _decorators._WARNED.clear()
    messages: list[str] = []
    handler = logger.add(messages.append, level="WARNING", format="{message}")
    try:
        yield messages
    finally:
        logger.remove(handler)
        _decorators._WARNED.clear()
