"""Mocks of discord.py objects, in the style of python-discord/bot's tests/helpers.py.

Every mock has `spec_set` of the real discord class (a typo'd attribute fails the test instead of
passing silently); coroutine methods of the spec come back as AsyncMock automatically. Nothing
here opens a connection.
"""

from __future__ import annotations

import inspect
import itertools
import unittest.mock
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

import discord
import numpy as np

from bot.discord_app.client import SleeveBot
from bot.replies import Reply
from bot.service import Service
from bot.settings import Settings, load_settings
from models.prediction import GenreScore, Popularity, Prediction, Tag

GENRES = ["Country", "Electronic", "HipHop", "Pop", "Rock"]
_ids = itertools.count(100_000_000_000_000_000)
BOT_USER_ID = 99_999_999_999_999_999  # MockBot's own user, and the author MockRawReaction's message has


def next_id() -> int:
    return next(_ids)


class CustomMockMixin:
    """spec_set from the class attribute; children are plain MagicMocks, AsyncMocks for coroutine methods."""

    spec_set: Any = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(spec_set=self.spec_set)  # type: ignore[call-arg]
        for key, value in kwargs.items():
            setattr(self, key, value)

    def _get_child_mock(self, **kw: Any) -> unittest.mock.Mock:
        name = kw.get("_new_name")
        spec = self.__dict__.get("_spec_class")
        if name and spec is not None and inspect.iscoroutinefunction(getattr(spec, name, None)):
            return unittest.mock.AsyncMock(**kw)
        return unittest.mock.MagicMock(**kw)


class MockUser(CustomMockMixin, unittest.mock.MagicMock):
    spec_set = discord.User

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**({"id": next_id(), "bot": False, "name": "alice"} | kwargs))


class MockMember(CustomMockMixin, unittest.mock.MagicMock):
    spec_set = discord.Member

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**({"id": next_id(), "bot": False, "name": "alice"} | kwargs))


class MockClientUser(CustomMockMixin, unittest.mock.MagicMock):
    spec_set = discord.ClientUser

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**({"id": next_id(), "bot": True, "name": "Sleeve"} | kwargs))


class MockGuild(CustomMockMixin, unittest.mock.MagicMock):
    spec_set = discord.Guild

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**({"id": next_id(), "name": "guild"} | kwargs))


class MockTextChannel(CustomMockMixin, unittest.mock.MagicMock):
    spec_set = discord.TextChannel

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**({"id": next_id(), "name": "general"} | kwargs))
        self.typing = unittest.mock.MagicMock(return_value=MockTyping())


class MockThread(CustomMockMixin, unittest.mock.MagicMock):
    spec_set = discord.Thread

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**({"id": next_id(), "name": "thread", "parent_id": next_id()} | kwargs))
        self.typing = unittest.mock.MagicMock(return_value=MockTyping())


class MockDMChannel(CustomMockMixin, unittest.mock.MagicMock):
    spec_set = discord.DMChannel

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**({"id": next_id()} | kwargs))
        self.typing = unittest.mock.MagicMock(return_value=MockTyping())


class MockTyping:
    """What channel.typing() returns: an async context manager that counts its uses."""

    def __init__(self) -> None:
        self.entered = 0
        self.exited = 0

    async def __aenter__(self) -> None:
        self.entered += 1

    async def __aexit__(self, *exc: Any) -> None:
        self.exited += 1


class MockAttachment(CustomMockMixin, unittest.mock.MagicMock):
    spec_set = discord.Attachment

    def __init__(self, **kwargs: Any) -> None:
        defaults = {
            "id": next_id(),
            "filename": "cover.png",
            "content_type": "image/png",
            "size": 1234,
            "url": "https://cdn.discordapp.com/attachments/1/2/cover.png",
        }
        super().__init__(**(defaults | kwargs))


class MockMessage(CustomMockMixin, unittest.mock.MagicMock):
    spec_set = discord.Message

    def __init__(self, **kwargs: Any) -> None:
        guild = kwargs.pop("guild", MockGuild())
        channel = kwargs.pop("channel", MockTextChannel(guild=guild) if guild is not None else MockDMChannel())
        defaults = {
            "id": next_id(),
            "content": "",
            "author": MockMember(),
            "guild": guild,
            "channel": channel,
            "attachments": [],
            "mentions": [],
            "webhook_id": None,
        }
        super().__init__(**(defaults | kwargs))
        self.reply.side_effect = lambda *a, **kw: MockMessage(guild=self.guild, channel=self.channel)
        self.add_reaction.return_value = None


class MockInteractionResponse(CustomMockMixin, unittest.mock.MagicMock):
    """interaction.response: is_done() turns True once it has answered or deferred."""

    spec_set = discord.InteractionResponse

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        state = {"done": False}

        async def answered(*args: Any, **kwargs: Any) -> None:
            state["done"] = True

        self.is_done.side_effect = lambda: state["done"]
        for name in ("defer", "send_message"):
            getattr(self, name).side_effect = answered


class MockWebhook(CustomMockMixin, unittest.mock.MagicMock):
    """interaction.followup: send(wait=True) returns a message that can take reactions."""

    spec_set = discord.Webhook

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.send.side_effect = lambda *args, **kwargs: MockMessage()


class MockInteraction(CustomMockMixin, unittest.mock.MagicMock):
    spec_set = discord.Interaction

    def __init__(self, **kwargs: Any) -> None:
        guild = kwargs.pop("guild", MockGuild())
        user = kwargs.pop("user", MockMember())
        defaults = {
            "id": next_id(),
            "user": user,
            "guild": guild,
            "guild_id": guild.id if guild is not None else None,
            "channel_id": next_id(),
            "permissions": discord.Permissions.none(),
            "response": MockInteractionResponse(),
            "followup": MockWebhook(),
            "message": None,
            "command": None,
        }
        super().__init__(**(defaults | kwargs))


class MockRawReaction(CustomMockMixin, unittest.mock.MagicMock):
    spec_set = discord.RawReactionActionEvent

    def __init__(self, emoji: str, **kwargs: Any) -> None:
        defaults = {
            "message_id": next_id(),
            "user_id": next_id(),
            "channel_id": next_id(),
            "guild_id": next_id(),
            "member": None,
            "emoji": discord.PartialEmoji(name=emoji),
            "event_type": "REACTION_ADD",
            "message_author_id": BOT_USER_ID,  # a reaction on one of our replies
        }
        super().__init__(**(defaults | kwargs))


class MockContext(CustomMockMixin, unittest.mock.MagicMock):
    spec_set = discord.ext.commands.Context


def make_settings(**overrides: Any) -> Settings:
    return load_settings(_env_file=None, DISCORD_TOKEN="test-token-not-real", **overrides)


# A real SleeveBot instance as the spec, so attributes set in __init__ (service, settings) exist.
_BOT_SPEC = SleeveBot(None, make_settings())


class MockBot(CustomMockMixin, unittest.mock.MagicMock):
    spec_set = _BOT_SPEC

    def __init__(self, service: Any, settings: Settings | None = None, **kwargs: Any) -> None:
        defaults = {"service": service, "settings": settings or make_settings(), "user": MockClientUser(id=BOT_USER_ID)}
        super().__init__(**(defaults | kwargs))
        self.get_user.return_value = None

    def _get_child_mock(self, **kw: Any) -> unittest.mock.Mock:
        name = kw.get("_new_name")
        if name and inspect.iscoroutinefunction(getattr(SleeveBot, name, None)):
            return unittest.mock.AsyncMock(**kw)
        return unittest.mock.MagicMock(**kw)


# -- the service side ----------------------------------------------------------------------------------


def make_service(*, admins: Iterable[str] = (), genres: list[str] | None = None) -> Any:
    """A fake Service: the real class's method names, AsyncMock for the coroutines."""
    service = unittest.mock.MagicMock(spec_set=Service)
    admin_ids = set(admins)
    service.is_admin.side_effect = lambda user_id: user_id in admin_ids
    service.predictor = SimpleNamespace(genres=list(genres or GENRES), version="v-test")
    service.handle_message.return_value = []
    service.attach_message.return_value = True
    service.vote.return_value = None
    service.retract.return_value = True
    return service


def make_prediction(
    scores: dict[str, float] | None = None,
    *,
    tags: list[str] | None = None,
    distinctive: dict[str, list[str]] | None = None,
    version: str = "v20260101-000000",
) -> Prediction:
    scores = scores or {"Rock": 0.62, "Pop": 0.19, "Electronic": 0.1, "HipHop": 0.06, "Country": 0.03}
    genres = sorted((GenreScore(g, p) for g, p in scores.items()), key=lambda g: -g.probability)
    return Prediction(
        genres=genres,
        popularity=Popularity(31.0, 17.0, 44.0, 0.05, "covers barely predict popularity"),
        tags=[Tag(t, 0.9 - i * 0.05) for i, t in enumerate(tags or ["dark", "guitar", "grainy"])],
        distinctive_tags=distinctive if distinctive is not None else {"Rock": ["dark", "guitar"]},
        model_version=version,
        features=np.zeros(4, dtype=np.float32),
    )


def prediction_reply(prediction_id: int | None = 7, **fields: Any) -> Reply:
    values: dict[str, Any] = {
        "kind": "prediction",
        "title": "Lanterns at Dusk — The Velvet Lanterns",
        "prediction": make_prediction(),
        "prediction_id": prediction_id,
        "source_kind": "spotify",
        "source_ref": "https://open.spotify.com/album/abc",
        "cover_url": "https://i.scdn.co/image/abc",
    }
    return Reply(**(values | fields))


def http_exception(status: int = 403, cls: type[discord.HTTPException] = discord.Forbidden) -> discord.HTTPException:
    response = SimpleNamespace(status=status, reason="nope")
    return cls(response, {"code": 50013, "message": "Missing Permissions"})  # type: ignore[arg-type]
