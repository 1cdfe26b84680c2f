"""Judging covers: passively from chat messages, and on request with /guess."""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.cogs.base import SleeveCog
from bot.discord_app.replying import PLATFORM, answer, publish, with_typing
from bot.replies import Incoming, IncomingImage, Requester
from bot.service.sources import may_be_image

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

ONE_OPTION = (
    "Give me exactly one thing to judge: `link` (a Spotify link), `image` (an upload) or `url` (an image link)."
)
COULD_NOT_SEND = "Sorry, I couldn't post my answer here (Discord refused it). Try again in a moment."


def incoming_image(attachment: discord.Attachment) -> IncomingImage:
    return IncomingImage(
        url=attachment.url,
        filename=attachment.filename,
        content_type=attachment.content_type,
        size=attachment.size,
    )


def to_incoming(message: discord.Message, me: discord.abc.User | None, settings: Settings) -> Incoming:
    """A discord.Message as the service's plain Incoming (no discord type crosses into the service)."""
    guild = message.guild
    channel = message.channel
    mentioned = guild is None or (me is not None and any(m.id == me.id for m in message.mentions))
    images = [incoming_image(a) for a in message.attachments]
    parent_id = getattr(channel, "parent_id", None)  # a thread inside an image channel counts too
    in_image_channel = any(
        str(place) in settings.IMAGE_CHANNEL_IDS for place in (channel.id, parent_id) if place is not None
    )
    return Incoming(
        platform=PLATFORM,
        text=message.content or "",
        attachments=[image for image in images if may_be_image(image)],
        author_id=str(message.author.id),
        author_is_bot=bool(message.author.bot),
        channel_id=str(channel.id),
        server_id=str(guild.id) if guild is not None else None,
        message_id=str(message.id),
        mentioned=mentioned,
        in_image_channel=in_image_channel,
    )


def can_reply(message: discord.Message) -> bool:
    """False where the bot may not post: no point judging (and recording) what nobody will see."""
    guild = message.guild
    if guild is None:
        return True
    channel = message.channel
    try:
        permissions = channel.permissions_for(guild.me)
    except (AttributeError, TypeError, discord.ClientException):
        return True  # can't tell: try, and let a refused send be logged
    if isinstance(channel, discord.Thread):
        return bool(permissions.send_messages_in_threads)
    return bool(permissions.send_messages)


def requester(interaction: discord.Interaction) -> Requester:
    return Requester(
        PLATFORM,
        str(interaction.user.id),
        str(interaction.channel_id) if interaction.channel_id is not None else None,
        str(interaction.guild_id) if interaction.guild_id is not None else None,
    )


class GuessCog(SleeveCog, name="Guess"):
    # Seconds an answer may take before the typing indicator shows (most messages need no answer).
    typing_delay: float = 0.3

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        try:
            await self._on_message(message)
        except Exception:
            log.exception("failed to answer a message", extra={"platform": PLATFORM})

    async def _on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if message.author.bot or message.webhook_id is not None:
            return
        if me is not None and message.author.id == me.id:
            return
        if not can_reply(message):
            return
        incoming = to_incoming(message, me, self.settings)
        replies = await with_typing(message.channel, self.service.handle_message(incoming), self.typing_delay)
        for reply in replies:
            await publish(self.bot, reply, functools.partial(message.reply, mention_author=False))

    @app_commands.command(
        name="guess", description="Judge an album by its cover: a Spotify link, an image or an image URL."
    )
    @app_commands.describe(
        link="A Spotify album, track, artist or playlist link",
        image="An image to judge",
        url="A link to an image on the web",
    )
    async def guess(
        self,
        interaction: discord.Interaction,
        link: str | None = None,
        image: discord.Attachment | None = None,
        url: str | None = None,
    ) -> None:
        link = link.strip() if link and link.strip() else None
        url = url.strip() if url and url.strip() else None
        if sum(x is not None for x in (link, image, url)) != 1:
            await answer(interaction, ONE_OPTION, ephemeral=True)
            return
        # Inference can take more than Discord's 3 s answer window under load.
        await interaction.response.defer(thinking=True)
        kwargs: dict[str, Any] = {"link": link, "url": url, "image": incoming_image(image) if image else None}
        reply = await self.service.guess(who=requester(interaction), **kwargs)
        sent = await publish(self.bot, reply, functools.partial(interaction.followup.send, wait=True))
        if sent is None:  # never leave "Sleeve is thinking…" behind
            await self._publish_failed(interaction)

    async def _publish_failed(self, interaction: discord.Interaction) -> None:
        try:
            await interaction.edit_original_response(content=COULD_NOT_SEND)
        except discord.HTTPException as exc:
            log.warning("could not replace the thinking message", extra={"status": exc.status, "code": exc.code})
