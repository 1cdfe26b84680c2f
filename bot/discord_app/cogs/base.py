"""What every Sleeve cog shares: the bot, its service and settings, and friendly error answers."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.replying import answer_oops

if TYPE_CHECKING:
    from bot.discord_app.client import SleeveBot
    from bot.service import Service
    from bot.settings import Settings

log = logging.getLogger("bot.discord_app")


class SleeveCog(commands.Cog):
    def __init__(self, bot: SleeveBot) -> None:
        self.bot = bot

    @property
    def service(self) -> Service:
        service = self.bot.service
        if service is None:  # only `sync-commands` builds a bot without one, and it answers nothing
            raise RuntimeError("this bot was built without a service")
        return service

    @property
    def settings(self) -> Settings:
        return self.bot.settings

    async def cog_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        original: Any = getattr(error, "original", error)
        command = interaction.command.name if interaction.command is not None else "?"
        log.error("slash command failed", extra={"command": command}, exc_info=original)
        await answer_oops(interaction)
