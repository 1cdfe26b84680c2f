"""/retrain and /genres approve (admins only, checked in code), /genres, and the owner-only `!sleeve-sync`.

Admin: the server's Administrator permission, or a user id in ADMIN_USER_IDS. The check is in
code, not left to default_permissions, which a server can change and which does not apply to
ADMIN_USER_IDS; the command is therefore visible to everyone and refuses non-admins.
"""

from __future__ import annotations

import contextlib
import logging

import discord
from discord import app_commands
from discord.ext import commands
from discord.utils import escape_markdown

from bot.discord_app.cogs.base import SleeveCog
from bot.discord_app.embeds import clip, retrain_embed
from bot.progress import ProgressThrottle
from bot.render_genres import genre_lines
from bot.replies import OOPS
from bot.retraining import RetrainFailed, RetrainRefused

log = logging.getLogger(__name__)

NOT_ADMIN = "Only admins can retrain the model."
NOT_ADMIN_GENRES = "Only admins can approve new genres."
PROGRESS_PREFIX = "⏳ "
PROGRESS_INTERVAL = 2.0  # seconds between progress edits (Discord rate-limits message edits)


class AdminCog(SleeveCog, name="Admin"):
    def is_admin(self, interaction: discord.Interaction) -> bool:
        in_guild = interaction.guild_id is not None
        if in_guild and interaction.permissions.administrator:
            return True
        return self.service.is_admin(str(interaction.user.id))

    @app_commands.command(name="retrain", description="Admins: retrain the genre model on people's votes now.")
    async def retrain(self, interaction: discord.Interaction) -> None:
        if not self.is_admin(interaction):
            await interaction.response.send_message(NOT_ADMIN, ephemeral=True)
            return
        await interaction.response.defer(thinking=True, ephemeral=True)
        log.info("retrain asked for", extra={"user_id": str(interaction.user.id)})

        async def show(text: str) -> None:
            await interaction.edit_original_response(content=clip(PROGRESS_PREFIX + text, 2000))

        embed: discord.Embed | None = None
        content: str | None = None
        try:
            result = await self.service.retrain(trigger="manual", progress=ProgressThrottle(show, PROGRESS_INTERVAL))
            embed = retrain_embed(result)
        except (RetrainRefused, RetrainFailed) as exc:
            content = exc.user_message
        except Exception:
            log.exception("retrain failed")
            content = OOPS
        await self._show_result(interaction, content, embed)

    async def _show_result(self, interaction: discord.Interaction, content: str | None,
                           embed: discord.Embed | None) -> None:
        try:
            await interaction.edit_original_response(content=content, embed=embed)
        except discord.HTTPException:
            # The interaction token lasts 15 minutes; a long run reports in the channel instead.
            log.warning("could not edit the /retrain answer; posting the result in the channel")
            channel = interaction.channel
            if channel is not None and hasattr(channel, "send"):
                with contextlib.suppress(discord.HTTPException):
                    # discord.py's overloads omit None, which send() itself takes (and defaults to).
                    await channel.send(content=content, embed=embed)  # type: ignore[arg-type]

    @app_commands.command(name="genres", description="Genres suggested by votes; admins can approve one.")
    @app_commands.describe(approve="Admins: approve this genre as a new class for the next retrain")
    async def genres(self, interaction: discord.Interaction, approve: str | None = None) -> None:
        if approve is not None:
            if not self.is_admin(interaction):
                await interaction.response.send_message(NOT_ADMIN_GENRES, ephemeral=True)
                return
            text = await self.service.approve_genre(approve, str(interaction.user.id))
            await interaction.response.send_message(clip(escape_markdown(text), 2000), ephemeral=True)
            return
        report = await self.service.genres()
        lines = [escape_markdown(line) for line in genre_lines(report)]
        await interaction.response.send_message(clip("\n".join(lines), 2000),
                                                allowed_mentions=discord.AllowedMentions.none())

    @commands.command(name="sleeve-sync", hidden=True)
    async def sync_prefix(self, ctx: commands.Context) -> None:
        """Register the slash commands with Discord (the bot's owner only)."""
        if not await self.bot.is_owner(ctx.author):
            return
        try:
            synced = await self.bot.tree.sync()
        except discord.HTTPException as exc:
            log.warning("command sync failed", extra={"status": exc.status})
            await ctx.reply("Syncing the commands failed; see the log.", mention_author=False)
            return
        log.info("slash commands synced", extra={"count": len(synced)})
        await ctx.reply(f"Synced {len(synced)} slash commands.", mention_author=False)
