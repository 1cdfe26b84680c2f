"""The Discord bot: SleeveBot, its intents, `serve` and `sync_commands`.

Started with `await bot.start(token)` inside `async with bot`, never `bot.run()`: run() installs
discord.py's own log handler, which would bypass the token redaction of bot.logging_setup.
Slash commands are not synced on start (that is rate-limited and rarely needed): run
`python -m bot sync-commands` once after changing them, or send `!sleeve-sync` as the bot's owner.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
from discord.ext import commands

from bot.discord_app.cogs import AdminCog, GuessCog, InfoCog, VotesCog
from bot.discord_app.views import CorrectGenreView
from bot.settings import SettingsError

if TYPE_CHECKING:
    from bot.service import Service
    from bot.settings import Settings

log = logging.getLogger("bot.discord_app")

COMMAND_PREFIX = "!"
MODE_FULL = "message content intent on: links and images in messages are answered"
MODE_LIMITED = (
    "message content intent off: passive link answering is off (only messages that mention the bot, "
    "and DMs, are read); /guess still works"
)
START_RETRY_CAP_S = 300.0
TOKEN_REFUSED = "DISCORD_TOKEN was refused by Discord: check that it is the bot's current token"
PRIVILEGED_REFUSED = (
    "Discord refused the privileged message content intent (enable it under Bot → Privileged Gateway "
    "Intents in the Developer Portal). Running without it: passive link answering is off; /guess still works."
)


def make_intents(message_content: bool = True) -> discord.Intents:
    intents = discord.Intents.default()
    intents.guild_reactions = True
    intents.dm_reactions = True
    intents.message_content = message_content
    return intents


class SleeveBot(commands.Bot):
    def __init__(self, service: Service | None, settings: Settings, *, message_content: bool = True) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned_or(COMMAND_PREFIX),
            intents=make_intents(message_content),
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),  # titles come from strangers: never ping
        )
        self.service = service
        self.settings = settings
        self.message_content = message_content
        self.menu_view: CorrectGenreView | None = None

    @property
    def mode(self) -> str:
        return MODE_FULL if self.message_content else MODE_LIMITED

    async def setup_hook(self) -> None:
        votes = VotesCog(self)
        for cog in (GuessCog(self), votes, InfoCog(self), AdminCog(self)):
            await self.add_cog(cog)
        if self.service is not None:
            genres = list(self.service.predictor.genres)
            self.menu_view = CorrectGenreView(genres, self.settings.GENRE_EMOJIS, on_vote=votes.vote_from_menu)
            self.add_view(self.menu_view)

    async def on_ready(self) -> None:
        user = self.user
        log.info(
            "connected to Discord",
            extra={"user": str(user) if user else "?", "servers": len(self.guilds), "mode": self.mode},
        )

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        log.exception("unhandled error in a Discord event", extra={"event": event_method})

    async def on_command_error(self, context: commands.Context, exception: commands.CommandError, /) -> None:
        if isinstance(exception, commands.CommandNotFound | commands.CheckFailure | commands.UserInputError):
            return  # "!anything" is common in servers with other bots: not ours to answer
        log.error("prefix command failed", exc_info=getattr(exception, "original", exception))


def _token(settings: Settings) -> str:
    settings.require("DISCORD_TOKEN")
    assert settings.DISCORD_TOKEN is not None
    return settings.DISCORD_TOKEN.get_secret_value()


async def serve(service: Service, settings: Settings, *, bot_class: type[SleeveBot] = SleeveBot,
                sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
    """Run the Discord bot until cancelled.

    Without the message content intent if Discord refuses it; while Discord cannot be reached at
    start (or answers with a 5xx), retry with a capped backoff (once logged in, discord.py reconnects by itself).
    """
    token = _token(settings)
    message_content = True
    delay = 1.0
    while True:
        bot = bot_class(service, settings, message_content=message_content)
        log.info("starting the Discord bot", extra={"mode": bot.mode})
        try:
            async with bot:
                await bot.start(token)
            return
        except discord.LoginFailure:
            raise SettingsError(TOKEN_REFUSED) from None  # bot.cli prints it and exits 2
        except discord.PrivilegedIntentsRequired:
            if not message_content:
                raise
            log.warning(PRIVILEGED_REFUSED)
            message_content = False
        except (aiohttp.ClientConnectionError, discord.GatewayNotFound, discord.DiscordServerError, OSError) as exc:
            log.warning("cannot reach Discord; retrying", extra={"error": str(exc), "retry_in": delay})
            await sleep(delay)
            delay = min(delay * 2, START_RETRY_CAP_S)


async def sync_commands(settings: Settings, *, bot_class: type[SleeveBot] = SleeveBot) -> None:
    """Log in, register the slash commands with Discord, log out (`python -m bot sync-commands`)."""
    token = _token(settings)
    bot = bot_class(None, settings, message_content=False)
    try:
        async with bot:
            await bot.login(token)  # also runs setup_hook, which fills the command tree
            synced = await bot.tree.sync()
    except discord.LoginFailure:
        raise SettingsError(TOKEN_REFUSED) from None
    names = ", ".join(sorted(f"/{command.name}" for command in synced))
    log.info("slash commands synced", extra={"count": len(synced), "commands": names})
