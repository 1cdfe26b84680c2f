"""The Discord cogs on the real Service and store (a stub model, an image server on 127.0.0.1)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from PIL import Image

from bot.discord_app.cogs.guess import GuessCog
from bot.discord_app.cogs.info import InfoCog
from bot.discord_app.cogs.votes import VotesCog
from bot.service import Service, open_service
from models.distinctive import DistinctiveTag
from models.prediction import Prediction
from tests.bot.discord.helpers import (
    GENRES,
    MockAttachment,
    MockBot,
    MockInteraction,
    MockMember,
    MockMessage,
    MockRawReaction,
    make_prediction,
    make_settings,
)
from tests.feedback.helpers import votes_for


class StubPredictor:
    version = "v20260101-000000"
    genres = GENRES

    def distinctive(self, genre: str) -> list[DistinctiveTag]:
        return [DistinctiveTag("dark", 2.0)] if genre == "Rock" else []

    def predict_images(self, images: Sequence[Any]) -> list[Prediction]:
        return [make_prediction() for _ in images]

    def aggregate(self, predictions: Sequence[Prediction]) -> Prediction:
        return predictions[0]


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
async def image_url() -> AsyncIterator[str]:
    data = png()

    async def cover(request: web.Request) -> web.Response:
        return web.Response(body=data, content_type="image/png")

    app = web.Application()
    app.router.add_get("/cover.png", cover)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield f"http://127.0.0.1:{server.port}/cover.png"
    finally:
        await server.close()


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    settings = make_settings(DATA_DIR=str(tmp_path / "data"))
    async with open_service(
        settings, predictor=StubPredictor(), allow_private=True, user_rate=0, channel_rate=0
    ) as service:
        yield service


async def test_guess_then_votes_then_forget(service: Service, image_url: str) -> None:
    bot = MockBot(service, make_settings())
    guess, votes, info = GuessCog(bot), VotesCog(bot), InfoCog(bot)  # type: ignore[arg-type]
    alice, bob, carol = MockMember(), MockMember(), MockMember()

    interaction = MockInteraction(user=alice)
    sent = MockMessage()
    interaction.followup.send.side_effect = lambda *a, **kw: sent
    await guess.guess.callback(guess, interaction, image=MockAttachment(url=image_url, size=len(png())))

    embed = interaction.followup.send.await_args.kwargs["embed"]
    assert "Rock" in embed.description and embed.thumbnail.url == image_url
    assert (await service.stats())["predictions"] == 1
    assert len(sent.add_reaction.await_args_list) == 6

    # Bob votes Pop by reaction, then takes it back; Carol confirms the top guess.
    ids = {"message_id": sent.id}
    await votes.on_raw_reaction_add(MockRawReaction("🎵", user_id=bob.id, member=bob, **ids))
    await votes.on_raw_reaction_add(MockRawReaction("✅", user_id=carol.id, member=carol, **ids))
    assert (await service.stats())["votes"] == 2
    await votes.on_raw_reaction_remove(MockRawReaction("🎵", user_id=bob.id, **ids))
    assert (await service.stats())["votes"] == 1

    # Alice uses the menu; a vote on a message with no prediction is not recorded.
    menu = MockInteraction(user=alice, message=sent)
    await votes.vote_from_menu(menu, "pop")
    menu.followup.send.assert_awaited_once_with("Thanks! Noted: Pop.", ephemeral=True)
    stray = MockInteraction(user=alice, message=MockMessage())
    await votes.vote_from_menu(stray, "Rock")
    assert "couldn't find" in stray.followup.send.await_args.args[0]
    assert (await service.stats())["votes"] == 2

    # /forget: Alice's vote and the prediction she asked for go.
    forget = MockInteraction(user=alice)
    await info.forget.callback(info, forget)
    assert forget.followup.send.await_args.args[0] == "Done: I deleted 1 vote and 1 prediction you asked for."
    assert (await service.stats())["predictions"] == 0


async def test_removing_an_older_reaction_keeps_the_newer_vote(service: Service, image_url: str) -> None:
    bot = MockBot(service, make_settings())
    guess, votes = GuessCog(bot), VotesCog(bot)  # type: ignore[arg-type]
    bob = MockMember()
    interaction = MockInteraction(user=MockMember())
    sent = MockMessage()
    interaction.followup.send.side_effect = lambda *a, **kw: sent
    await guess.guess.callback(guess, interaction, image=MockAttachment(url=image_url, size=len(png())))
    prediction = await service._store.prediction_by_message("discord", str(sent.id))
    assert prediction is not None

    ids = {"message_id": sent.id, "user_id": bob.id}
    await votes.on_raw_reaction_add(MockRawReaction("🎸", member=bob, **ids))
    await votes.on_raw_reaction_add(MockRawReaction("🎵", member=bob, **ids))
    await votes.on_raw_reaction_remove(MockRawReaction("🎸", **ids))
    assert [v.label for v in await votes_for(service._store, prediction.id)] == ["Pop"]

    await votes.on_raw_reaction_remove(MockRawReaction("🎵", **ids))
    assert await votes_for(service._store, prediction.id) == []


async def test_passive_message_in_image_channel(service: Service, image_url: str) -> None:
    settings = make_settings(IMAGE_CHANNEL_IDS="777")
    bot = MockBot(service, settings)
    guess = GuessCog(bot)  # type: ignore[arg-type]
    message = MockMessage(attachments=[MockAttachment(url=image_url, size=len(png()))])
    message.channel.id = 777
    sent = MockMessage()
    message.reply.side_effect = lambda *a, **kw: sent

    await guess.on_message(message)

    message.reply.assert_awaited_once()
    assert (await service.stats())["predictions"] == 1

    ignored = MockMessage(attachments=[MockAttachment(url=image_url)])  # not an image channel, no mention
    await guess.on_message(ignored)
    ignored.reply.assert_not_awaited()
