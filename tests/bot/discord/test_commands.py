"""/tags, /stats, /forget, /retrain (admin check in code) and the owner-only !sleeve-sync."""

from __future__ import annotations

import unittest.mock
from typing import Any

import discord
import pytest

from bot.discord_app.cogs.admin import NOT_ADMIN, NOT_ADMIN_GENRES, AdminCog
from bot.discord_app.cogs.info import InfoCog
from bot.replies import OOPS
from bot.retraining import RetrainFailed, RetrainRefused
from bot.service.genres import GenresReport, PendingGenre
from models.distinctive import DistinctiveTag
from tests.bot.discord.helpers import (
    MockBot,
    MockContext,
    MockInteraction,
    MockMember,
    make_service,
    make_settings,
)
from tests.bot.retrain_results import PROMOTED, REJECTED

ADMIN = 4242


def make_cogs(service: Any) -> tuple[MockBot, InfoCog, AdminCog]:
    bot = MockBot(service, make_settings(ADMIN_USER_IDS=str(ADMIN)))
    return bot, InfoCog(bot), AdminCog(bot)  # type: ignore[arg-type]


# -- /tags, /stats, /forget ---------------------------------------------------------------------------


async def test_tags_for_one_genre() -> None:
    service = make_service()
    service.tags.return_value = {"Rock": [DistinctiveTag("guitar", 3.1, 0.2, 30), DistinctiveTag("dark")]}
    _, info, _ = make_cogs(service)
    interaction = MockInteraction()

    await info.tags.callback(info, interaction, genre=" rock ")

    service.tags.assert_called_once_with("rock")
    embed = interaction.response.send_message.await_args.kwargs["embed"]
    assert [(f.name, f.value) for f in embed.fields] == [("🎸 Rock", "guitar ×3.1, dark")]


async def test_tags_for_an_unknown_genre_is_an_ephemeral_hint() -> None:
    service = make_service()
    service.tags.return_value = {}
    _, info, _ = make_cogs(service)
    interaction = MockInteraction()

    await info.tags.callback(info, interaction, genre="Polka")

    text = interaction.response.send_message.await_args.args[0]
    assert "don't know" in text and "Rock" in text
    assert interaction.response.send_message.await_args.kwargs["ephemeral"] is True


async def test_tags_autocomplete_filters_genres() -> None:
    _, info, _ = make_cogs(make_service())
    choices = await info.genre_autocomplete(MockInteraction(), "o")
    assert [c.value for c in choices] == ["Country", "Electronic", "HipHop", "Pop", "Rock"]
    choices = await info.genre_autocomplete(MockInteraction(), "ROC")
    assert [c.value for c in choices] == ["Rock"]


async def test_stats_defers_and_renders() -> None:
    service = make_service()
    service.stats.return_value = {
        "model_version": "v9",
        "genres": ["Pop", "Rock"],
        "predictions": 3,
        "votes": 1,
        "voters": 1,
        "predictions_this_model": 3,
        "live_accuracy": {"n": 0, "top1": None, "per_genre": {}},
        "last_retrain": None,
        "queue": {"pending": 0, "capacity": 34},
    }
    _, info, _ = make_cogs(service)
    interaction = MockInteraction()

    await info.stats.callback(info, interaction)

    interaction.response.defer.assert_awaited_once()
    embed = interaction.followup.send.await_args.kwargs["embed"]
    assert "Model v9" in embed.description and "no votes yet" in embed.description


async def test_forget_is_ephemeral_and_reports_counts() -> None:
    service = make_service()
    service.forget.return_value = {"votes": 2, "predictions": 1}
    _, info, _ = make_cogs(service)
    interaction = MockInteraction()

    await info.forget.callback(info, interaction)

    service.forget.assert_awaited_once_with("discord", str(interaction.user.id))
    interaction.response.defer.assert_awaited_once_with(ephemeral=True, thinking=True)
    args, kwargs = interaction.followup.send.await_args
    assert args[0] == "Done: I deleted 2 votes and 1 prediction you asked for." and kwargs["ephemeral"] is True


# -- /retrain -----------------------------------------------------------------------------------------


async def test_retrain_refuses_non_admins_even_with_other_permissions() -> None:
    service = make_service()
    _, _, admin = make_cogs(service)
    # default_permissions would let a server hand the command to anyone; the check is in code.
    assert admin.retrain.default_permissions is None
    interaction = MockInteraction(permissions=discord.Permissions(manage_guild=True, manage_messages=True))

    await admin.retrain.callback(admin, interaction)

    interaction.response.send_message.assert_awaited_once_with(NOT_ADMIN, ephemeral=True)
    service.retrain.assert_not_awaited()


async def test_retrain_refuses_administrator_flag_outside_a_server() -> None:
    service = make_service()
    _, _, admin = make_cogs(service)
    interaction = MockInteraction(guild=None, guild_id=None, permissions=discord.Permissions(administrator=True))
    await admin.retrain.callback(admin, interaction)
    service.retrain.assert_not_awaited()


@pytest.mark.parametrize("who", ["admin_user_id", "guild_administrator"])
async def test_retrain_by_admins_runs_and_shows_the_typed_result(who: str) -> None:
    service = make_service(admins={str(ADMIN)})
    service.retrain.return_value = PROMOTED
    _, _, admin = make_cogs(service)
    if who == "admin_user_id":
        interaction = MockInteraction(user=MockMember(id=ADMIN))
    else:
        interaction = MockInteraction(permissions=discord.Permissions(administrator=True))

    await admin.retrain.callback(admin, interaction)

    interaction.response.defer.assert_awaited_once_with(thinking=True, ephemeral=True)
    kwargs = service.retrain.await_args.kwargs
    assert kwargs["trigger"] == "manual" and callable(kwargs["progress"])
    final = interaction.edit_original_response.await_args.kwargs
    assert final["content"] is None
    embed = final["embed"]
    assert embed.title == "Retraining: promoted" and embed.colour == discord.Colour.green()
    assert "+3.2 points (95% CI +0.9 to +5.5" in embed.description
    assert "0.650" in embed.fields[0].value  # held-out votes top-1, new


async def test_a_result_that_kept_the_model_is_grey_and_has_no_table() -> None:
    service = make_service(admins={str(ADMIN)})
    service.retrain.return_value = REJECTED
    _, _, admin = make_cogs(service)
    interaction = MockInteraction(user=MockMember(id=ADMIN))
    await admin.retrain.callback(admin, interaction)
    embed = interaction.edit_original_response.await_args.kwargs["embed"]
    assert embed.colour == discord.Colour.light_grey() and not embed.fields
    assert "no labelled feedback" in embed.description


async def test_retrain_progress_edits_the_answer() -> None:
    service = make_service(admins={str(ADMIN)})
    _, _, admin = make_cogs(service)
    interaction = MockInteraction(user=MockMember(id=ADMIN))
    edits: list[str | None] = []
    interaction.edit_original_response.side_effect = lambda **kw: edits.append(kw.get("content"))

    async def retrain(*, trigger: str, progress: Any) -> Any:
        await progress("Retraining started")
        await progress("Still training… (10 s)")  # within the interval: dropped
        return PROMOTED

    service.retrain.side_effect = retrain
    await admin.retrain.callback(admin, interaction)

    assert edits == ["⏳ Retraining started", None]  # the final edit replaces the progress text by the embed


@pytest.mark.parametrize("refusal", [RetrainRefused("A retrain is already running."),
                                     RetrainFailed("Retraining failed; the current model stays.")])
async def test_a_refused_or_failed_retrain_shows_its_message(refusal: Exception) -> None:
    service = make_service(admins={str(ADMIN)})
    service.retrain.side_effect = refusal
    _, _, admin = make_cogs(service)
    interaction = MockInteraction(user=MockMember(id=ADMIN))

    await admin.retrain.callback(admin, interaction)

    assert interaction.edit_original_response.await_args.kwargs == {"content": str(refusal), "embed": None}


async def test_an_unexpected_error_is_an_apology() -> None:
    service = make_service(admins={str(ADMIN)})
    service.retrain.side_effect = KeyError("boom")
    _, _, admin = make_cogs(service)
    interaction = MockInteraction(user=MockMember(id=ADMIN))
    await admin.retrain.callback(admin, interaction)
    assert interaction.edit_original_response.await_args.kwargs == {"content": OOPS, "embed": None}


async def test_retrain_result_goes_to_the_channel_when_the_token_expired() -> None:
    service = make_service(admins={str(ADMIN)})
    service.retrain.return_value = PROMOTED
    _, _, admin = make_cogs(service)
    channel = unittest.mock.MagicMock(spec_set=discord.TextChannel)
    interaction = MockInteraction(user=MockMember(id=ADMIN), channel=channel)
    response = unittest.mock.MagicMock(status=401, reason="expired")
    interaction.edit_original_response.side_effect = discord.HTTPException(response, "Invalid Webhook Token")

    await admin.retrain.callback(admin, interaction)

    channel.send.assert_awaited_once()
    assert channel.send.await_args.kwargs["embed"].title == "Retraining: promoted"


# -- /genres -----------------------------------------------------------------------------------------

REPORT = GenresReport(["Pop"], [PendingGenre("*Jazz*", 30, approved=True, next_retrain=True)], "admin", 25)


async def test_genres_lists_suggestions_escaped_and_without_pings() -> None:
    service = make_service()
    service.genres.return_value = REPORT
    _, _, admin = make_cogs(service)
    interaction = MockInteraction()
    await admin.genres.callback(admin, interaction)
    args, kwargs = interaction.response.send_message.await_args
    assert "- \\*Jazz\\*: 30 covers, approved, added at the next retrain" in args[0]
    assert kwargs["allowed_mentions"].everyone is False


async def test_genres_approve_is_for_admins_only() -> None:
    service = make_service(admins={str(ADMIN)})
    service.approve_genre.return_value = "Approved Jazz as a new genre."
    _, _, admin = make_cogs(service)
    stranger = MockInteraction(permissions=discord.Permissions(manage_guild=True))
    await admin.genres.callback(admin, stranger, approve="Jazz")
    stranger.response.send_message.assert_awaited_once_with(NOT_ADMIN_GENRES, ephemeral=True)
    service.approve_genre.assert_not_awaited()
    boss = MockInteraction(user=MockMember(id=ADMIN))
    await admin.genres.callback(admin, boss, approve="Jazz")
    service.approve_genre.assert_awaited_once_with("Jazz", str(ADMIN))
    boss.response.send_message.assert_awaited_once_with("Approved Jazz as a new genre.", ephemeral=True)


# -- !sleeve-sync -------------------------------------------------------------------------------------


async def test_owner_sync_command() -> None:
    bot, _, admin = make_cogs(make_service())
    bot.tree.sync = unittest.mock.AsyncMock(return_value=["guess", "tags"])
    ctx = MockContext(author=MockMember())

    bot.is_owner.return_value = False
    await admin.sync_prefix.callback(admin, ctx)
    bot.tree.sync.assert_not_awaited()
    ctx.reply.assert_not_awaited()

    bot.is_owner.return_value = True
    await admin.sync_prefix.callback(admin, ctx)
    bot.tree.sync.assert_awaited_once()
    ctx.reply.assert_awaited_once_with("Synced 2 slash commands.", mention_author=False)
