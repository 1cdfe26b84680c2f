"""Sending a Reply to Discord, shared by passive answers and /guess.

send → attach the message to the prediction (so votes on it count) → the vote reactions. Discord
errors are logged and swallowed: a missing permission must never crash a handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import discord

from bot.discord_app.embeds import render_reply, vote_genres
from bot.discord_app.views import display_view
from bot.replies import OOPS, Platform, Reply

if TYPE_CHECKING:
    from bot.discord_app.client import SleeveBot

log = logging.getLogger(__name__)

PLATFORM: Platform = "discord"
Send = Callable[..., Awaitable[Any]]


def is_votable(reply: Reply) -> bool:
    return reply.kind == "prediction" and reply.prediction is not None and reply.prediction_id is not None


async def publish(bot: SleeveBot, reply: Reply, send: Send) -> discord.Message | None:
    """Send reply with send(**kwargs); for a recorded prediction also attach it and add the vote controls."""
    settings = bot.settings
    votable = is_votable(reply)
    genres = [g.genre for g in reply.prediction.genres] if votable and reply.prediction else []

    def kwargs(with_menu: bool) -> dict[str, Any]:
        rendered = render_reply(
            reply, genre_emojis=settings.GENRE_EMOJIS, confirm_emoji=settings.CONFIRM_EMOJI, votable=votable
        )
        out = rendered.send_kwargs()
        if with_menu:
            out["view"] = display_view(genres, settings.GENRE_EMOJIS)
        return out

    try:
        sent = await send(**kwargs(votable))
    except discord.HTTPException as exc:
        if not votable or exc.status != 400:
            log.warning("could not send a reply", extra={"status": exc.status, "code": exc.code})
            return None
        # A 400 with the menu attached is most likely a GENRE_EMOJIS entry Discord does not accept.
        log.warning("Discord refused the reply with the genre menu; sending it without", extra={"code": exc.code})
        try:
            sent = await send(**kwargs(False))
        except discord.HTTPException as retry_exc:
            log.warning("could not send a reply", extra={"status": retry_exc.status, "code": retry_exc.code})
            return None
    if votable and sent is not None and reply.prediction_id is not None and bot.service is not None:
        await bot.service.attach_message(reply.prediction_id, str(sent.id))
        await add_vote_reactions(sent, vote_emojis(bot, genres))
    return sent


def vote_emojis(bot: SleeveBot, genres: Sequence[str]) -> list[str]:
    """One reaction per genre the model knows that has an emoji, then CONFIRM_EMOJI."""
    settings = bot.settings
    return [emoji for _, emoji in vote_genres(genres, settings.GENRE_EMOJIS)] + [settings.CONFIRM_EMOJI]


async def add_vote_reactions(message: discord.Message, emojis: Sequence[str]) -> None:
    for emoji in emojis:
        try:
            await message.add_reaction(emoji)
        except discord.Forbidden:
            log.warning("no permission to add reactions here; people can still vote with the menu")
            return
        except (discord.HTTPException, TypeError, ValueError) as exc:
            log.warning("could not add a vote reaction", extra={"emoji": emoji, "error": str(exc)})


async def answer(interaction: discord.Interaction, text: str, *, ephemeral: bool = True) -> None:
    """A short text answer, whether or not the interaction was already answered or deferred."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=ephemeral)
        else:
            await interaction.response.send_message(text, ephemeral=ephemeral)
    except discord.HTTPException as exc:
        log.warning("could not answer an interaction", extra={"status": exc.status, "code": exc.code})


async def answer_oops(interaction: discord.Interaction) -> None:
    await answer(interaction, OOPS, ephemeral=True)


@contextlib.asynccontextmanager
async def typing(channel: Any) -> AsyncIterator[None]:
    """channel.typing(), except that a refused typing indicator is no reason to fail."""
    manager = None
    try:
        manager = channel.typing()
        await manager.__aenter__()
    except (discord.HTTPException, AttributeError, TypeError) as exc:
        log.debug("no typing indicator", extra={"error": str(exc)})
        manager = None
    try:
        yield
    finally:
        if manager is not None:
            with contextlib.suppress(Exception):
                await manager.__aexit__(None, None, None)


async def with_typing(channel: Any, work: Awaitable[Any], delay: float) -> Any:
    """await work, showing the typing indicator only if it takes longer than delay seconds.

    Most messages need no answer and come back at once; typing on every message would flash
    the indicator for everyone and spend an API call per message.
    """
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=delay)
        if task in done:
            return task.result()
        async with typing(channel):
            return await task
    finally:
        if not task.done():
            task.cancel()
