"""Votes: raw reaction events and the persistent "Correct genre…" menu."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.discord_app.cogs.votes import NO_PREDICTION, VotesCog
from bot.discord_app.views import CUSTOM_ID, CorrectGenreView
from bot.replies import VoteAck
from feedback.labels import CONFIRM
from tests.bot.discord.helpers import (
    GENRES,
    MockBot,
    MockInteraction,
    MockMember,
    MockMessage,
    MockRawReaction,
    MockUser,
    make_service,
    make_settings,
)

ADMIN = 4242


@pytest.fixture
def service() -> Any:
    service = make_service(admins={str(ADMIN)})
    service.vote.side_effect = lambda platform, message_id, user_id, choice, is_admin=False: VoteAck(
        1, choice, True, f"Thanks! Noted: {choice}."
    )
    return service


@pytest.fixture
def bot(service: Any) -> MockBot:
    return MockBot(service, make_settings())


@pytest.fixture
def cog(bot: MockBot) -> VotesCog:
    return VotesCog(bot)  # type: ignore[arg-type]


async def test_genre_reaction_votes_for_the_genre(cog: VotesCog, service: Any) -> None:
    payload = MockRawReaction("🎸", member=MockMember())
    await cog.on_raw_reaction_add(payload)
    service.vote.assert_awaited_once_with(
        "discord", str(payload.message_id), str(payload.user_id), "Rock", is_admin=False
    )


async def test_emoji_with_or_without_variation_selector(cog: VotesCog, service: Any) -> None:
    await cog.on_raw_reaction_add(MockRawReaction("🎛", member=MockMember()))  # settings say "🎛️"
    assert service.vote.await_args.args[3] == "Electronic"


async def test_confirm_reaction_votes_confirm(cog: VotesCog, service: Any) -> None:
    await cog.on_raw_reaction_add(MockRawReaction("✅", member=MockMember()))
    assert service.vote.await_args.args[3] == CONFIRM


async def test_admin_vote_is_marked(cog: VotesCog, service: Any) -> None:
    await cog.on_raw_reaction_add(MockRawReaction("🎸", user_id=ADMIN, member=MockMember(id=ADMIN)))
    assert service.vote.await_args.kwargs["is_admin"] is True


async def test_own_bot_and_unknown_reactions_are_ignored(cog: VotesCog, bot: MockBot, service: Any) -> None:
    me = bot.user.id
    await cog.on_raw_reaction_add(MockRawReaction("🎸", user_id=me, member=MockMember(id=me, bot=True)))
    await cog.on_raw_reaction_add(MockRawReaction("🎸", member=MockMember(bot=True)))
    await cog.on_raw_reaction_add(MockRawReaction("😀", member=MockMember()))
    dm_bot = MockUser(bot=True)
    bot.get_user.side_effect = lambda user_id: dm_bot if user_id == dm_bot.id else None
    await cog.on_raw_reaction_add(MockRawReaction("🎸", user_id=dm_bot.id, member=None, guild_id=None))
    service.vote.assert_not_awaited()


async def test_reaction_in_dm_from_a_person_counts(cog: VotesCog, service: Any) -> None:
    await cog.on_raw_reaction_add(MockRawReaction("🎵", member=None, guild_id=None))
    assert service.vote.await_args.args[3] == "Pop"


async def test_removing_the_vote_reaction_retracts(cog: VotesCog, service: Any) -> None:
    payload = MockRawReaction("🎸", member=MockMember())
    await cog.on_raw_reaction_add(payload)
    removed = MockRawReaction(
        "🎸", message_id=payload.message_id, user_id=payload.user_id, event_type="REACTION_REMOVE"
    )
    await cog.on_raw_reaction_remove(removed)
    service.retract.assert_awaited_once_with("discord", str(payload.message_id), str(payload.user_id), "Rock")


async def test_remove_after_restart_retracts(cog: VotesCog, service: Any) -> None:
    payload = MockRawReaction("✅", event_type="REACTION_REMOVE")
    await cog.on_raw_reaction_remove(payload)
    service.retract.assert_awaited_once_with("discord", str(payload.message_id), str(payload.user_id), CONFIRM)


async def test_remove_ignores_the_bot_itself_other_bots_and_other_emoji(
    cog: VotesCog, bot: MockBot, service: Any
) -> None:
    await cog.on_raw_reaction_remove(MockRawReaction("🎸", user_id=bot.user.id))
    other_bot = MockUser(bot=True)
    bot.get_user.side_effect = lambda user_id: other_bot if user_id == other_bot.id else None
    await cog.on_raw_reaction_remove(MockRawReaction("🎸", user_id=other_bot.id))
    await cog.on_raw_reaction_remove(MockRawReaction("😀"))
    service.retract.assert_not_awaited()


async def test_removing_a_reaction_retracts_only_the_vote_it_cast(cog: VotesCog, service: Any) -> None:
    first = MockRawReaction("🎸", member=MockMember())
    ids = {"message_id": first.message_id, "user_id": first.user_id}
    await cog.on_raw_reaction_add(first)
    await cog.on_raw_reaction_add(MockRawReaction("🎵", member=MockMember(), **ids))

    await cog.on_raw_reaction_remove(MockRawReaction("🎸", **ids))

    # the store deletes the vote only if it is still Rock, so a newer Pop vote stays
    service.retract.assert_awaited_once_with("discord", str(first.message_id), str(first.user_id), "Rock")


async def test_reactions_on_other_messages_are_ignored_without_a_lookup(cog: VotesCog, service: Any) -> None:
    await cog.on_raw_reaction_add(MockRawReaction("🎸", member=MockMember(), message_author_id=12345))
    await cog.on_raw_reaction_add(MockRawReaction("🎸", member=MockMember(), message_author_id=None))
    service.vote.assert_not_awaited()


async def test_service_errors_in_reaction_handlers_are_contained(cog: VotesCog, service: Any, caplog) -> None:
    service.vote.side_effect = RuntimeError("boom")
    service.retract.side_effect = RuntimeError("boom")
    with caplog.at_level(logging.ERROR):
        await cog.on_raw_reaction_add(MockRawReaction("🎸", member=MockMember()))  # must not raise
        await cog.on_raw_reaction_remove(MockRawReaction("🎸"))
    assert service.vote.await_count == 1 and service.retract.await_count == 1  # the errors came from the calls
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        "failed to record a reaction vote",
        "failed to retract a reaction vote",
    ]


async def test_select_menu_votes_and_answers_ephemerally(cog: VotesCog, service: Any) -> None:
    view = CorrectGenreView(GENRES, {}, on_vote=cog.vote_from_menu)
    assert view.timeout is None and view.is_persistent()
    select = view.select
    assert select.custom_id == CUSTOM_ID
    message = MockMessage()
    interaction = MockInteraction(message=message)
    select._values = ["Rock"]  # what discord.py sets from the interaction's data

    await select.callback(interaction)

    interaction.response.defer.assert_awaited_once_with(ephemeral=True, thinking=True)
    service.vote.assert_awaited_once_with(
        "discord", str(message.id), str(interaction.user.id), "Rock", is_admin=False
    )
    interaction.response.send_message.assert_not_awaited()
    interaction.followup.send.assert_awaited_once_with("Thanks! Noted: Rock.", ephemeral=True)


async def test_select_menu_defers_before_the_vote(cog: VotesCog, service: Any) -> None:
    interaction = MockInteraction(message=MockMessage())
    order: list[str] = []
    interaction.response.defer.side_effect = lambda *a, **kw: order.append("defer")
    service.vote.side_effect = lambda *a, **kw: order.append("vote")
    await cog.vote_from_menu(interaction, "Rock")
    assert order == ["defer", "vote"]


async def test_select_menu_on_a_forgotten_prediction(cog: VotesCog, service: Any) -> None:
    service.vote.side_effect = None
    service.vote.return_value = None
    interaction = MockInteraction(message=MockMessage())
    await cog.vote_from_menu(interaction, "Rock")
    interaction.followup.send.assert_awaited_once_with(NO_PREDICTION, ephemeral=True)
