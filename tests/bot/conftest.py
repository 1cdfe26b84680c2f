"""Fixtures for the bot's network layer: a fake Spotify on 127.0.0.1 and client sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.bot.fake_spotify import FakeState, StaticResolver, create_app

# Real host names the pinned session sends to the fake server instead of the internet.
PINNED_HOSTS = ("spotify.link", "spoti.fi", "i.scdn.co", "covers.example")


@dataclass
class FakeSpotify:
    base_url: str  # http://127.0.0.1:PORT
    port: int
    state: FakeState  # fault switches (state.fail(path, ...)) and request counts (state.hits)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture
async def fake_spotify() -> AsyncIterator[FakeSpotify]:
    state = FakeState()
    server = TestServer(create_app(state), host="127.0.0.1")
    await server.start_server()
    assert server.port is not None
    try:
        yield FakeSpotify(f"http://127.0.0.1:{server.port}", server.port, state)
    finally:
        await server.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain session, as the bot would share; requests to 127.0.0.1 need allow_private."""
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def pinned_session() -> AsyncIterator[aiohttp.ClientSession]:
    """A session whose connector sends PINNED_HOSTS to 127.0.0.1 (and resolves nothing else)."""
    resolver = StaticResolver({host: "127.0.0.1" for host in PINNED_HOSTS})
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=resolver)) as client:
        yield client


@pytest.fixture(scope="session")
def predictor():
    """The shipped model, loaded once per test session (Predictor is thread-safe)."""
    from models.predictor import Predictor

    return Predictor.load()
