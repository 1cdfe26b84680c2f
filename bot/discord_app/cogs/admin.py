"""/retrain (admins only, checked in code) and the owner-only `!sleeve-sync`.

Admin: the server's Administrator permission, or a user id in ADMIN_USER_IDS. The check is in
code, not left to default_permissions, which a server can change and which does not apply to
ADMIN_USER_IDS; the command is therefore visible to everyone and refuses non-admins.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, is_dataclass
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.cogs.base import SleeveCog
from bot.discord_app.embeds import clip, retrain_embed, text_message
from bot.replies import OOPS, Reply

log = logging.getLogger(__name__)

NOT_ADMIN = "Only admins can retrain the model."
NOT_AVAILABLE = "Retraining is not available in this build."
STARTING = "⏳ Retraining… this can take a few minutes."
PROGRESS_PREFIX = "⏳ Retraining… "
PROGRESS_INTERVAL = 2.0  # seconds between progress edits (Discord rate-limits message edits)


def describe_progress(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
    """A progress callback's arguments as one short line: text as is, fractions as percentages."""
    parts: list[str] = []
    for value in [*args, *kwargs.values()]:
        if isinstance(value, float) and 0.0 <= value <= 1.0:
            parts.append(f"{value * 100:.0f}%")
        elif isinstance(value, Mapping):
            parts.append(", ".join(f"{k}: {v}" for k, v in value.items()))
        elif value is not None:
            parts.append(str(value))
    return " · ".join(parts)


class ProgressReporter:
    """The `progress` callback handed to Service.retrain: edits the deferred answer, at most every interval.

    Callable from the event loop or from a worker thread; returns None, or an already finished
    future when called on the loop, so a service may also `await` it.
    """

    def __init__(self, edit: Callable[[str], Awaitable[Any]], interval: float = PROGRESS_INTERVAL) -> None:
        self._edit = edit
        self._interval = interval
        self._loop = asyncio.get_running_loop()
        self._latest: str | None = None
        self._changed = asyncio.Event()
        self._task = self._loop.create_task(self._run())

    def __call__(self, *args: Any, **kwargs: Any) -> asyncio.Future[None] | None:
        text = describe_progress(args, kwargs)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._set(text)
            done: asyncio.Future[None] = self._loop.create_future()
            done.set_result(None)
            return done
        self._loop.call_soon_threadsafe(self._set, text)
        return None

    def _set(self, text: str) -> None:
        self._latest = text
        self._changed.set()

    async def _run(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            if self._latest:
                try:
                    await self._edit(clip(PROGRESS_PREFIX + self._latest, 2000))
                except discord.HTTPException as exc:
                    log.debug("could not show retrain progress", extra={"status": exc.status})
            await asyncio.sleep(self._interval)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def _as_mapping(result: Any) -> Mapping[str, Any] | None:
    if isinstance(result, Mapping):
        return result
    to_dict = getattr(result, "to_dict", None)
    if callable(to_dict):
        data = to_dict()
        return data if isinstance(data, Mapping) else None
    if is_dataclass(result) and not isinstance(result, type):
        return asdict(result)
    return None


def _retrain_kwargs(run: Callable[..., Any], progress: ProgressReporter) -> dict[str, Any]:
    """trigger="manual", and progress= unless the service's retrain() takes no such argument."""
    kwargs: dict[str, Any] = {"trigger": "manual", "progress": progress}
    try:
        parameters = inspect.signature(run).parameters.values()
    except (TypeError, ValueError):
        return kwargs
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return kwargs
    names = {p.name for p in parameters}
    return {key: value for key, value in kwargs.items() if key in names}


def _error_text(exc: Exception) -> str:
    """The refusal's own words when it has some (e.g. "a retrain is already running"), else an apology."""
    user_message = getattr(exc, "user_message", None)
    if isinstance(user_message, str) and user_message:
        return user_message
    if type(exc).__name__.startswith("Retrain") and str(exc):
        return f"Retraining stopped: {exc}"
    return OOPS


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
        run = getattr(self.service, "retrain", None)
        if not callable(run):
            await interaction.response.send_message(NOT_AVAILABLE, ephemeral=True)
            return
        await interaction.response.defer(thinking=True, ephemeral=True)
        log.info("retrain asked for", extra={"user_id": str(interaction.user.id)})
        progress = ProgressReporter(lambda text: interaction.edit_original_response(content=text))
        try:
            result = run(**_retrain_kwargs(run, progress))
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            log.exception("retrain failed")
            result = exc
        finally:
            await progress.close()
        await self._show_result(interaction, result)

    async def _show_result(self, interaction: discord.Interaction, result: Any) -> None:
        embed: discord.Embed | None = None
        content: str | None = None
        mapping = _as_mapping(result)
        if isinstance(result, Exception):
            content = _error_text(result)
        elif isinstance(result, Reply):
            content = text_message(result.text or result.title or OOPS)
        elif isinstance(result, str):
            content = text_message(result)
        elif mapping is not None:
            embed = retrain_embed(mapping)
        else:
            content = "Retraining finished."
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
