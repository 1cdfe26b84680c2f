"""Votes: raw reaction events and the persistent "Correct genre…" menu."""

from __future__ import annotations

from typing import Any

import pytest

from bot.discord_app.cogs.votes import NO_PREDICTION, ReactionMemory, VotesCog
from bot.discord_app.views import CUSTOM_ID, CorrectGenreView
from bot.replies import VoteAck
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
from training.labels import CONFIRM

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
    service.retract.assert_awaited_once_with("discord", str(payload.message_id), str(payload.user_id))


async def test_remove_after_restart_retracts(cog: VotesCog, service: Any) -> None:
    payload = MockRawReaction("✅", event_type="REACTION_REMOVE")
    await cog.on_raw_reaction_remove(payload)
    service.retract.assert_awaited_once_with("discord", str(payload.message_id), str(payload.user_id))


async def test_remove_ignores_the_bot_itself_other_bots_and_other_emoji(
    cog: VotesCog, bot: MockBot, service: Any
) -> None:
    await cog.on_raw_reaction_remove(MockRawReaction("🎸", user_id=bot.user.id))
    other_bot = MockUser(bot=True)
    bot.get_user.side_effect = lambda user_id: other_bot if user_id == other_bot.id else None
    await cog.on_raw_reaction_remove(MockRawReaction("🎸", user_id=other_bot.id))
    await cog.on_raw_reaction_remove(MockRawReaction("😀"))
    service.retract.assert_not_awaited()


async def test_removing_an_older_reaction_keeps_the_latest_vote(cog: VotesCog, service: Any) -> None:
    first = MockRawReaction("🎸", member=MockMember())
    ids = {"message_id": first.message_id, "user_id": first.user_id}
    await cog.on_raw_reaction_add(first)
    await cog.on_raw_reaction_add(MockRawReaction("🎵", member=MockMember(), **ids))
    assert service.vote.await_args.args[3] == "Pop"

    await cog.on_raw_reaction_remove(MockRawReaction("🎸", **ids))
    service.retract.assert_not_awaited()
    assert service.vote.await_count == 2

    # removing the latest one falls back to... nothing left: retract
    await cog.on_raw_reaction_remove(MockRawReaction("🎵", **ids))
    service.retract.assert_awaited_once()


async def test_removing_the_latest_reaction_falls_back_to_the_previous_one(cog: VotesCog, service: Any) -> None:
    first = MockRawReaction("🎸", member=MockMember())
    ids = {"message_id": first.message_id, "user_id": first.user_id}
    await cog.on_raw_reaction_add(first)
    await cog.on_raw_reaction_add(MockRawReaction("🎵", member=MockMember(), **ids))

    await cog.on_raw_reaction_remove(MockRawReaction("🎵", **ids))

    service.retract.assert_not_awaited()
    assert service.vote.await_args.args[3] == "Rock"


async def test_menu_vote_survives_removing_a_reaction(cog: VotesCog, service: Any) -> None:
    first = MockRawReaction("🎸", member=MockMember())
    await cog.on_raw_reaction_add(first)
    interaction = MockInteraction(message=MockMessage(id=first.message_id), user=MockMember(id=first.user_id))
    await cog.vote_from_menu(interaction, "Pop")

    await cog.on_raw_reaction_remove(MockRawReaction("🎸", message_id=first.message_id, user_id=first.user_id))

    service.retract.assert_not_awaited()


async def test_service_errors_in_reaction_handlers_are_contained(cog: VotesCog, service: Any) -> None:
    service.vote.side_effect = RuntimeError("boom")
    service.retract.side_effect = RuntimeError("boom")
    await cog.on_raw_reaction_add(MockRawReaction("🎸", member=MockMember()))
    await cog.on_raw_reaction_remove(MockRawReaction("🎸"))


async def test_select_menu_votes_and_answers_ephemerally(cog: VotesCog, service: Any) -> None:
    view = CorrectGenreView(GENRES, {}, on_vote=cog.vote_from_menu)
    assert view.timeout is None and view.is_persistent()
    select = view.select
    assert select.custom_id == CUSTOM_ID
    message = MockMessage()
    interaction = MockInteraction(message=message)
    select._values = ["Rock"]  # what discord.py sets from the interaction's data

    await select.callback(interaction)

    service.vote.assert_awaited_once_with(
        "discord", str(message.id), str(interaction.user.id), "Rock", is_admin=False
    )
    interaction.response.send_message.assert_awaited_once_with("Thanks! Noted: Rock.", ephemeral=True)


async def test_select_menu_on_a_forgotten_prediction(cog: VotesCog, service: Any) -> None:
    service.vote.side_effect = None
    service.vote.return_value = None
    interaction = MockInteraction(message=MockMessage())
    await cog.vote_from_menu(interaction, "Rock")
    interaction.response.send_message.assert_awaited_once_with(NO_PREDICTION, ephemeral=True)


def test_reaction_memory_is_bounded() -> None:
    memory = ReactionMemory(limit=3)
    for i in range(10):
        memory.added(i, 1, "🎸")
    assert memory.removed(0, 1, "🎸") == ("retract", None)  # forgotten: the simple rule
    assert memory.removed(9, 1, "🎸") == ("retract", None)
    memory.added(8, 1, "🎸")
    memory.added(8, 1, "🎵")
    assert memory.removed(8, 1, "🎸") == ("keep", None)
