"""Passive answers (on_message) and /guess, against a fake service and mocked discord objects."""

from __future__ import annotations

from typing import Any

import discord
import pytest

from bot.discord_app.cogs.guess import COULD_NOT_SEND, ONE_OPTION, GuessCog
from bot.discord_app.views import CUSTOM_ID
from bot.replies import Incoming, IncomingImage, Requester, busy, rate_limited
from tests.bot.discord.helpers import (
    MockAttachment,
    MockBot,
    MockInteraction,
    MockMember,
    MockMessage,
    MockThread,
    http_exception,
    make_prediction,
    make_service,
    make_settings,
    prediction_reply,
)
from tests.helpers import until

LINK = "look https://open.spotify.com/album/4aawyAB9vmqN3uQ7FjRGTy"
VOTE_EMOJIS = ["🤠", "🎛️", "🎤", "🎵", "🎸", "✅"]


@pytest.fixture
def service() -> Any:
    return make_service()


@pytest.fixture
def bot(service: Any) -> MockBot:
    return MockBot(service, make_settings(IMAGE_CHANNEL_IDS="555"))


@pytest.fixture
def cog(bot: MockBot) -> GuessCog:
    return GuessCog(bot)  # type: ignore[arg-type]


def reactions(message: Any) -> list[str]:
    return [c.args[0] for c in message.add_reaction.await_args_list]


async def test_passive_link_is_answered_with_embed_reactions_and_menu(cog: GuessCog, service: Any) -> None:
    service.handle_message.return_value = [prediction_reply(prediction_id=7)]
    message = MockMessage(content=LINK)
    sent = MockMessage()
    message.reply.side_effect = lambda *a, **kw: sent

    await cog.on_message(message)

    incoming: Incoming = service.handle_message.await_args.args[0]
    assert incoming == Incoming(
        platform="discord",
        text=LINK,
        attachments=[],
        author_id=str(message.author.id),
        author_is_bot=False,
        channel_id=str(message.channel.id),
        server_id=str(message.guild.id),
        message_id=str(message.id),
        mentioned=False,
        in_image_channel=False,
    )
    message.reply.assert_awaited_once()
    kwargs = message.reply.await_args.kwargs
    assert kwargs["mention_author"] is False
    assert isinstance(kwargs["embed"], discord.Embed) and kwargs["embed"].title.startswith("Lanterns")
    view = kwargs["view"]
    assert isinstance(view, discord.ui.View) and view.is_finished()  # display copy: the persistent view answers
    [select] = view.children
    assert isinstance(select, discord.ui.Select) and select.custom_id == CUSTOM_ID
    assert [o.value for o in select.options] == ["Rock", "Pop", "Electronic", "HipHop", "Country"]
    service.attach_message.assert_awaited_once_with(7, str(sent.id))
    assert reactions(sent) == VOTE_EMOJIS


async def test_reply_is_attached_then_gets_one_reaction_per_genre_and_confirm(
    cog: GuessCog, service: Any
) -> None:
    service.handle_message.return_value = [prediction_reply(prediction_id=7)]
    message = MockMessage(content=LINK)
    sent = MockMessage()
    order: list[str] = []
    message.reply.side_effect = lambda *a, **kw: order.append("reply") or sent
    service.attach_message.side_effect = lambda *a: order.append("attach") or True
    sent.add_reaction.side_effect = lambda emoji: order.append(f"react {emoji}")

    await cog.on_message(message)

    service.attach_message.assert_awaited_once_with(7, str(sent.id))
    assert reactions(sent) == VOTE_EMOJIS
    assert order[:2] == ["reply", "attach"]


async def test_a_genre_learnt_after_start_is_in_the_menu_with_its_reaction_emoji(cog: GuessCog, service: Any) -> None:
    scores = {"Rock": 0.5, "Jazz": 0.2, "Pop": 0.1, "Electronic": 0.1, "HipHop": 0.06, "Country": 0.04}
    service.handle_message.return_value = [prediction_reply(prediction_id=7, prediction=make_prediction(scores))]
    message = MockMessage(content=LINK)
    sent = MockMessage()
    message.reply.side_effect = lambda *a, **kw: sent

    await cog.on_message(message)

    [select] = message.reply.await_args.kwargs["view"].children
    options = {o.value: str(o.emoji) if o.emoji else None for o in select.options}
    assert list(options) == list(scores)
    assert options["Jazz"] == "🎷" and options["Rock"] == "🎸"
    assert "🎷" in reactions(sent)  # the menu and the reactions offer the new genre the same way


async def test_unrecorded_prediction_gets_no_vote_controls(cog: GuessCog, service: Any) -> None:
    service.handle_message.return_value = [prediction_reply(prediction_id=None)]
    message = MockMessage(content=LINK)
    sent = MockMessage()
    message.reply.side_effect = lambda *a, **kw: sent

    await cog.on_message(message)

    assert "view" not in message.reply.await_args.kwargs
    service.attach_message.assert_not_awaited()
    sent.add_reaction.assert_not_awaited()


async def test_errors_and_notices_are_short_text(cog: GuessCog, service: Any) -> None:
    service.handle_message.return_value = [busy(), rate_limited(12)]
    message = MockMessage(content=LINK)

    await cog.on_message(message)

    contents = [c.kwargs["content"] for c in message.reply.await_args_list]
    assert contents == [busy().text, "Slow down a little — try again in 12 s."]
    assert all("embed" not in c.kwargs and "view" not in c.kwargs for c in message.reply.await_args_list)
    service.attach_message.assert_not_awaited()


@pytest.mark.parametrize("kind", ["bot", "webhook", "own"])
async def test_bots_webhooks_and_own_messages_are_ignored(cog: GuessCog, bot: MockBot, service: Any, kind: str) -> None:
    if kind == "bot":
        message = MockMessage(content=LINK, author=MockMember(bot=True))
    elif kind == "webhook":
        message = MockMessage(content=LINK, webhook_id=1234)
    else:
        message = MockMessage(content=LINK, author=bot.user)

    await cog.on_message(message)

    service.handle_message.assert_not_awaited()
    message.reply.assert_not_awaited()


async def test_channels_where_the_bot_cannot_post_are_skipped(cog: GuessCog, service: Any) -> None:
    message = MockMessage(content=LINK)
    message.channel.permissions_for.return_value = discord.Permissions(read_messages=True)
    await cog.on_message(message)
    service.handle_message.assert_not_awaited()

    thread_message = MockMessage(content=LINK, channel=MockThread())
    thread_message.channel.permissions_for.return_value = discord.Permissions(send_messages_in_threads=True)
    await cog.on_message(thread_message)
    service.handle_message.assert_awaited_once()


async def test_image_in_ordinary_channel_without_mention(cog: GuessCog, service: Any) -> None:
    pdf = MockAttachment(filename="notes.pdf", content_type="application/pdf")
    image = MockAttachment()
    message = MockMessage(attachments=[image, pdf])

    await cog.on_message(message)

    incoming: Incoming = service.handle_message.await_args.args[0]
    assert incoming.mentioned is False and incoming.in_image_channel is False
    assert incoming.attachments == [
        IncomingImage(url=image.url, filename="cover.png", content_type="image/png", size=1234)
    ]


async def test_mention_image_channel_thread_and_dm(cog: GuessCog, bot: MockBot, service: Any) -> None:
    await cog.on_message(MockMessage(mentions=[MockMember(id=bot.user.id)]))
    assert service.handle_message.await_args.args[0].mentioned is True

    channel_message = MockMessage()
    channel_message.channel.id = 555
    await cog.on_message(channel_message)
    assert service.handle_message.await_args.args[0].in_image_channel is True

    thread_message = MockMessage(channel=MockThread(parent_id=555))
    await cog.on_message(thread_message)
    assert service.handle_message.await_args.args[0].in_image_channel is True

    dm = MockMessage(guild=None)
    await cog.on_message(dm)
    incoming = service.handle_message.await_args.args[0]
    assert incoming.mentioned is True and incoming.server_id is None


async def test_typing_shows_only_while_a_slow_answer_is_being_made(cog: GuessCog, service: Any) -> None:
    # No wall clock: the fast answer is done long before its hour is up; the slow one finishes
    # only once the typing indicator is showing, which a zero delay shows at once.
    cog.typing_delay = 3600
    fast = MockMessage(content="hello")
    await cog.on_message(fast)
    fast.channel.typing.assert_not_called()

    cog.typing_delay = 0
    message = MockMessage(content=LINK)
    typing = message.channel.typing.return_value

    async def slow(incoming: Incoming) -> list[Any]:
        await until(lambda: typing.entered == 1)
        assert typing.exited == 0  # still typing while the answer is being made
        return [prediction_reply()]

    service.handle_message.side_effect = slow
    await cog.on_message(message)
    assert (typing.entered, typing.exited) == (1, 1)
    message.reply.assert_awaited_once()


async def test_add_reaction_failure_does_not_propagate(cog: GuessCog, service: Any) -> None:
    service.handle_message.return_value = [prediction_reply()]
    message = MockMessage(content=LINK)
    sent = MockMessage()
    sent.add_reaction.side_effect = http_exception(403, discord.Forbidden)
    message.reply.side_effect = lambda *a, **kw: sent

    await cog.on_message(message)  # no exception

    assert sent.add_reaction.await_count == 1  # Forbidden: no point trying the others
    service.attach_message.assert_awaited_once()


async def test_other_http_errors_on_single_reactions_are_skipped(cog: GuessCog, service: Any) -> None:
    service.handle_message.return_value = [prediction_reply()]
    message = MockMessage(content=LINK)
    sent = MockMessage()
    sent.add_reaction.side_effect = [http_exception(400, discord.HTTPException)] + [None] * 5
    message.reply.side_effect = lambda *a, **kw: sent

    await cog.on_message(message)

    assert sent.add_reaction.await_count == 6


async def test_send_failures_and_service_crashes_are_contained(cog: GuessCog, service: Any) -> None:
    service.handle_message.return_value = [prediction_reply()]
    message = MockMessage(content=LINK)
    message.reply.side_effect = http_exception(403, discord.Forbidden)
    await cog.on_message(message)
    service.attach_message.assert_not_awaited()

    service.handle_message.side_effect = RuntimeError("boom")
    await cog.on_message(MockMessage(content=LINK))  # logged, not raised


async def test_menu_refused_by_discord_is_left_out(cog: GuessCog, service: Any) -> None:
    service.handle_message.return_value = [prediction_reply()]
    message = MockMessage(content=LINK)
    sent = MockMessage()
    calls: list[dict[str, Any]] = []

    def reply(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        if "view" in kwargs:
            raise http_exception(400, discord.HTTPException)
        return sent

    message.reply.side_effect = reply
    await cog.on_message(message)

    assert ["view" in c for c in calls] == [True, False]
    service.attach_message.assert_awaited_once_with(7, str(sent.id))
    assert reactions(sent) == VOTE_EMOJIS


# -- /guess -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [{}, {"link": LINK, "url": "https://example.com/a.png"}, {"link": "  "}, {"link": LINK, "image": "attachment"}],
)
async def test_guess_needs_exactly_one_option(cog: GuessCog, service: Any, options: dict[str, Any]) -> None:
    if options.get("image") == "attachment":
        options["image"] = MockAttachment()
    interaction = MockInteraction()

    await cog.guess.callback(cog, interaction, **options)

    interaction.response.send_message.assert_awaited_once_with(ONE_OPTION, ephemeral=True)
    interaction.response.defer.assert_not_awaited()
    service.guess.assert_not_awaited()


async def test_guess_link_defers_then_follows_up(cog: GuessCog, service: Any) -> None:
    order: list[str] = []
    interaction = MockInteraction()
    interaction.response.defer.side_effect = lambda **kw: order.append("defer")

    async def guess(**kwargs: Any) -> Any:
        order.append("guess")
        return prediction_reply(prediction_id=9)

    service.guess.side_effect = guess
    sent = MockMessage()
    interaction.followup.send.side_effect = lambda *a, **kw: order.append("followup") or sent

    await cog.guess.callback(cog, interaction, link=LINK)

    assert order == ["defer", "guess", "followup"]
    interaction.response.defer.assert_awaited_once_with(thinking=True)
    service.guess.assert_awaited_once_with(
        who=Requester("discord", str(interaction.user.id), str(interaction.channel_id), str(interaction.guild_id)),
        link=LINK,
        url=None,
        image=None,
    )
    kwargs = interaction.followup.send.await_args.kwargs
    assert kwargs["wait"] is True and isinstance(kwargs["embed"], discord.Embed) and "view" in kwargs
    service.attach_message.assert_awaited_once_with(9, str(sent.id))
    assert reactions(sent) == VOTE_EMOJIS


async def test_guess_whose_answer_cannot_be_posted_does_not_stay_thinking(cog: GuessCog, service: Any) -> None:
    service.guess.return_value = prediction_reply(prediction_id=9)
    interaction = MockInteraction()
    interaction.followup.send.side_effect = http_exception(403, discord.Forbidden)

    await cog.guess.callback(cog, interaction, link=LINK)

    interaction.edit_original_response.assert_awaited_once_with(content=COULD_NOT_SEND)
    service.attach_message.assert_not_awaited()


async def test_guess_failure_notice_that_fails_too_is_contained(cog: GuessCog, service: Any) -> None:
    service.guess.return_value = prediction_reply(prediction_id=9)
    interaction = MockInteraction()
    interaction.followup.send.side_effect = http_exception(403, discord.Forbidden)
    interaction.edit_original_response.side_effect = http_exception(404, discord.NotFound)

    await cog.guess.callback(cog, interaction, link=LINK)  # logged, not raised

    interaction.edit_original_response.assert_awaited_once()


async def test_guess_image_passes_the_attachment_as_incoming_image(cog: GuessCog, service: Any) -> None:
    service.guess.return_value = prediction_reply(cover_url="https://cdn.discordapp.com/x.png", source_kind="upload")
    attachment = MockAttachment(filename="mine.jpg", content_type="image/jpeg", size=99, url="https://cdn/x.jpg")
    interaction = MockInteraction(guild=None, guild_id=None)

    await cog.guess.callback(cog, interaction, image=attachment)

    kwargs = service.guess.await_args.kwargs
    assert kwargs["image"] == IncomingImage(
        url="https://cdn/x.jpg", filename="mine.jpg", content_type="image/jpeg", size=99
    )
    assert kwargs["who"].server_id is None


async def test_guess_error_reply_is_text(cog: GuessCog, service: Any) -> None:
    service.guess.return_value = rate_limited(3)
    interaction = MockInteraction()

    await cog.guess.callback(cog, interaction, url="https://example.com/a.png")

    interaction.followup.send.assert_awaited_once_with(content="Slow down a little — try again in 3 s.", wait=True)


async def test_command_errors_get_a_friendly_answer(cog: GuessCog) -> None:
    interaction = MockInteraction()
    error = discord.app_commands.CommandInvokeError(cog.guess, RuntimeError("boom"))
    await cog.cog_app_command_error(interaction, error)
    text = interaction.response.send_message.await_args.args[0]
    assert "went wrong" in text and interaction.response.send_message.await_args.kwargs["ephemeral"] is True

    deferred = MockInteraction()
    await deferred.response.defer()
    await cog.cog_app_command_error(deferred, error)
    deferred.followup.send.assert_awaited_once()
