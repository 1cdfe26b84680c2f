"""SleeveBot wiring, intents and their fallback, serve() and sync_commands(): no connection is made."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands

import bot.discord_app as discord_app
from bot.discord_app.client import (
    MODE_LIMITED,
    SleeveBot,
    make_intents,
    serve,
    sync_commands,
)
from bot.discord_app.views import CUSTOM_ID, CorrectGenreView
from tests.bot.discord.helpers import MockInteraction, MockMessage, make_service, make_settings
from tests.helpers import until

COMMANDS = ["forget", "genres", "guess", "retrain", "stats", "tags"]


def test_module_provides_the_cli_contract() -> None:
    import inspect

    assert inspect.iscoroutinefunction(discord_app.serve)
    assert inspect.iscoroutinefunction(discord_app.sync_commands)


def test_intents() -> None:
    full = make_intents(True)
    assert full.message_content and full.guild_reactions and full.dm_reactions and full.guild_messages
    assert not full.members and not full.presences
    limited = make_intents(False)
    assert not limited.message_content and limited.guild_reactions


async def test_setup_hook_adds_cogs_commands_and_the_persistent_menu() -> None:
    bot = SleeveBot(make_service(), make_settings(), message_content=False)
    async with bot:
        await bot.setup_hook()
        assert sorted(bot.cogs) == ["Admin", "Guess", "Info", "Votes"]
        # slash commands need no message content intent: /guess is there either way
        assert sorted(c.name for c in bot.tree.get_commands()) == COMMANDS
        assert [c.name for c in bot.commands] == ["sleeve-sync"]
        [view] = bot.persistent_views
        assert isinstance(view, CorrectGenreView) and view.timeout is None
        assert view.select.custom_id == CUSTOM_ID
        assert [o.value for o in view.select.options] == ["Country", "Electronic", "HipHop", "Pop", "Rock"]
        assert bot.allowed_mentions is not None and not bot.allowed_mentions.everyone


async def test_the_menu_registered_at_start_takes_a_vote_for_a_genre_learnt_later() -> None:
    """Through discord.py's own view store: a click's value is the click's, not the start-up options'."""
    service = make_service()
    service.vote.return_value = None
    bot = SleeveBot(service, make_settings(), message_content=False)
    async with bot:
        await bot.setup_hook()
        message = MockMessage()
        click = MockInteraction(message=message, data={"custom_id": CUSTOM_ID, "component_type": 3, "values": ["Jazz"]})
        bot._connection._view_store.dispatch_view(3, CUSTOM_ID, click)
        await until(lambda: service.vote.await_count == 1)
    assert service.vote.await_args.args == ("discord", str(message.id), str(click.user.id), "Jazz")


class FakeGateway(SleeveBot):
    """start() without Discord: refuses the privileged intent, or waits until cancelled."""

    attempts: list[bool] = []
    refuse_privileged = True

    async def start(self, token: str, *, reconnect: bool = True) -> None:
        type(self).attempts.append(self.intents.message_content)
        assert token == "test-token-not-real"
        if self.intents.message_content and self.refuse_privileged:
            raise discord.PrivilegedIntentsRequired(None)
        await asyncio.Event().wait()


async def test_serve_falls_back_without_message_content(caplog: pytest.LogCaptureFixture) -> None:
    FakeGateway.attempts = []
    caplog.set_level(logging.INFO, logger="bot.discord_app")
    task = asyncio.create_task(serve(make_service(), make_settings(), bot_class=FakeGateway))
    for _ in range(100):
        await asyncio.sleep(0)
        if len(FakeGateway.attempts) == 2:
            break
    assert FakeGateway.attempts == [True, False]
    text = caplog.text
    assert "passive link answering is off" in text and "/guess still works" in text
    assert MODE_LIMITED in [getattr(r, "mode", None) for r in caplog.records]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_serve_retries_while_discord_cannot_be_reached(caplog: pytest.LogCaptureFixture) -> None:
    class Offline(SleeveBot):
        attempts = 0

        async def start(self, token: str, *, reconnect: bool = True) -> None:
            type(self).attempts += 1
            if type(self).attempts < 3:
                raise aiohttp.ClientConnectionError("Cannot connect to host discord.com:443")

    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    caplog.set_level(logging.WARNING, logger="bot.discord_app")
    await serve(make_service(), make_settings(), bot_class=Offline, sleep=no_wait)
    assert Offline.attempts == 3 and waits == [1.0, 2.0]
    assert "cannot reach Discord; retrying" in caplog.text
    assert "test-token-not-real" not in caplog.text


async def test_serve_retries_on_discord_server_errors(caplog: pytest.LogCaptureFixture) -> None:
    from types import SimpleNamespace

    class Overloaded(SleeveBot):
        attempts = 0

        async def start(self, token: str, *, reconnect: bool = True) -> None:
            type(self).attempts += 1
            if type(self).attempts < 2:
                response = SimpleNamespace(status=503, reason="Service Unavailable")
                raise discord.DiscordServerError(response, "upstream connect error")  # type: ignore[arg-type]

    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    caplog.set_level(logging.WARNING, logger="bot.discord_app")
    await serve(make_service(), make_settings(), bot_class=Overloaded, sleep=no_wait)
    assert Overloaded.attempts == 2 and waits == [1.0]
    assert "cannot reach Discord; retrying" in caplog.text


async def test_serve_closes_the_bot_when_cancelled(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[SleeveBot] = []

    class Recording(FakeGateway):
        refuse_privileged = False

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    task = asyncio.create_task(serve(make_service(), make_settings(), bot_class=Recording))
    for _ in range(100):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [bot] = made
    assert bot.intents.message_content and bot.is_closed()


async def test_serve_needs_a_token() -> None:
    from bot.settings import SettingsError, load_settings

    with pytest.raises(SettingsError):
        await serve(make_service(), load_settings(_env_file=None), bot_class=FakeGateway)


async def test_a_refused_token_is_a_settings_error() -> None:
    from bot.settings import SettingsError

    class BadToken(SleeveBot):
        async def start(self, token: str, *, reconnect: bool = True) -> None:
            raise discord.LoginFailure("Improper token has been passed.")

        async def login(self, token: str) -> None:
            raise discord.LoginFailure("Improper token has been passed.")

    with pytest.raises(SettingsError, match="DISCORD_TOKEN was refused"):
        await serve(make_service(), make_settings(), bot_class=BadToken)
    with pytest.raises(SettingsError, match="DISCORD_TOKEN was refused"):
        await sync_commands(make_settings(), bot_class=BadToken)


async def test_sync_commands_logs_in_syncs_and_logs_out(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[SleeveBot] = []
    synced: list[list[str]] = []

    class OfflineLogin(SleeveBot):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

        async def login(self, token: str) -> None:
            assert token == "test-token-not-real"
            await self.setup_hook()

    async def fake_sync(tree: app_commands.CommandTree, *, guild: Any = None) -> list[Any]:
        names = sorted(c.name for c in tree.get_commands())
        synced.append(names)
        return [type("Synced", (), {"name": n})() for n in names]

    monkeypatch.setattr(app_commands.CommandTree, "sync", fake_sync)
    await sync_commands(make_settings(), bot_class=OfflineLogin)

    assert synced == [COMMANDS]
    [bot] = made
    assert bot.service is None and bot.persistent_views == [] and bot.is_closed()
