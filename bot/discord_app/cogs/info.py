"""/tags, /stats and /forget."""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from bot.discord_app.cogs.base import SleeveCog
from bot.discord_app.embeds import stats_embed, tags_embed
from bot.discord_app.replying import PLATFORM, answer

log = logging.getLogger(__name__)

MAX_CHOICES = 25  # Discord's limit for autocomplete


class InfoCog(SleeveCog, name="Info"):
    @app_commands.command(name="tags", description="The tags that set each genre's covers apart.")
    @app_commands.describe(genre="Only this genre")
    async def tags(self, interaction: discord.Interaction, genre: str | None = None) -> None:
        tags = self.service.tags(genre.strip() if genre and genre.strip() else None)
        if not tags:
            known = ", ".join(self.service.predictor.genres)
            await answer(interaction, f"I don't know that genre. I know: {known}.", ephemeral=True)
            return
        await interaction.response.send_message(embed=tags_embed(tags, self.settings.GENRE_EMOJIS))

    @tags.autocomplete("genre")
    async def genre_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        wanted = current.strip().casefold()
        genres = [g for g in self.service.predictor.genres if wanted in g.casefold()]
        return [app_commands.Choice(name=g, value=g) for g in genres[:MAX_CHOICES]]

    @app_commands.command(name="stats", description="Model version, counts and live accuracy.")
    async def stats(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        stats = await self.service.stats()
        await interaction.followup.send(embed=stats_embed(stats))

    @app_commands.command(name="forget", description="Delete your votes and the predictions you asked for.")
    async def forget(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        counts = await self.service.forget(PLATFORM, str(interaction.user.id))
        votes, predictions = counts.get("votes", 0), counts.get("predictions", 0)
        await interaction.followup.send(
            f"Done: I deleted {votes} vote{'s' * (votes != 1)} and "
            f"{predictions} prediction{'s' * (predictions != 1)} you asked for.",
            ephemeral=True,
        )
