"""Votes on a prediction: reactions (a genre's emoji, or the confirm emoji) and the "Correct genre…" menu.

The raw reaction events work for messages that are not in the cache (after a restart, or old
ones). One vote per user per prediction, the latest wins: the store does that.

Taking a reaction away: the vote is retracted only when the removed reaction is the one behind
the user's current vote. This process remembers, per (message, user), the vote reactions it saw
in order and whether the latest vote came from the menu: removing an older reaction changes
nothing, removing the latest falls back to the user's previous vote reaction that is still
there (re-voted), or retracts when there is none. For (message, user) pairs it has not seen
since it started (after a restart), removing any vote reaction retracts: the simple rule.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.discord_app.cogs.base import SleeveCog
from bot.discord_app.replying import PLATFORM, answer
from training.labels import CONFIRM

if TYPE_CHECKING:
    from bot.discord_app.client import SleeveBot

log = logging.getLogger(__name__)

NO_PREDICTION = "I couldn't find the prediction behind that message, so the vote wasn't recorded."
MAX_TRACKED = 10_000


def emoji_key(emoji: str) -> str:
    """Emoji compared without variation selectors: Discord may drop or keep U+FE0F."""
    return emoji.replace("\ufe0f", "").strip()


@dataclass
class _Seen:
    reactions: list[str] = field(default_factory=list)  # emoji keys, oldest first
    by_menu: bool = False  # the latest vote came from the menu


class ReactionMemory:
    """Which vote reactions each user has on each message, as far as this process has seen (bounded)."""

    def __init__(self, limit: int = MAX_TRACKED) -> None:
        self._limit = limit
        self._seen: OrderedDict[tuple[int, int], _Seen] = OrderedDict()

    def _entry(self, message_id: int, user_id: int) -> _Seen:
        key = (message_id, user_id)
        entry = self._seen.pop(key, None) or _Seen()
        self._seen[key] = entry
        while len(self._seen) > self._limit:
            self._seen.popitem(last=False)
        return entry

    def added(self, message_id: int, user_id: int, key: str) -> None:
        entry = self._entry(message_id, user_id)
        if key in entry.reactions:
            entry.reactions.remove(key)
        entry.reactions.append(key)
        entry.by_menu = False

    def menu_vote(self, message_id: int, user_id: int) -> None:
        self._entry(message_id, user_id).by_menu = True

    def removed(self, message_id: int, user_id: int, key: str) -> tuple[str, str | None]:
        """("retract", None), ("revote", emoji key) or ("keep", None) for a removed vote reaction."""
        entry = self._seen.get((message_id, user_id))
        if entry is None:
            return "retract", None
        was_latest = not entry.by_menu and bool(entry.reactions) and entry.reactions[-1] == key
        if key in entry.reactions:
            entry.reactions.remove(key)
        if not was_latest:
            return "keep", None
        if entry.reactions:
            return "revote", entry.reactions[-1]
        del self._seen[(message_id, user_id)]
        return "retract", None


class VotesCog(SleeveCog, name="Votes"):
    def __init__(self, bot: SleeveBot) -> None:
        super().__init__(bot)
        self.memory = ReactionMemory()

    def choice_for(self, emoji: str) -> str | None:
        """The genre (or CONFIRM) an emoji stands for; None for any other emoji."""
        key = emoji_key(emoji)
        if not key:
            return None
        if key == emoji_key(self.settings.CONFIRM_EMOJI):
            return CONFIRM
        for genre, genre_emoji in self.settings.GENRE_EMOJIS.items():
            if emoji_key(genre_emoji) == key:
                return genre
        return None

    def _is_admin(self, user_id: int) -> bool:
        # Vote weight follows ADMIN_USER_IDS only: the model is shared by every server, so a
        # server's own administrators get no extra weight.
        return self.service.is_admin(str(user_id))

    def _is_me(self, user_id: int) -> bool:
        me = self.bot.user
        return me is not None and user_id == me.id

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        try:
            await self._reaction_added(payload)
        except Exception:
            log.exception("failed to record a reaction vote", extra={"platform": PLATFORM})

    async def _reaction_added(self, payload: discord.RawReactionActionEvent) -> None:
        if self._is_me(payload.user_id):
            return
        member = payload.member
        if member is not None:
            if member.bot:
                return
        else:  # DMs carry no member: ask the cache
            user = self.bot.get_user(payload.user_id)
            if user is not None and user.bot:
                return
        emoji = str(payload.emoji)
        choice = self.choice_for(emoji)
        if choice is None:
            return
        ack = await self.service.vote(
            PLATFORM, str(payload.message_id), str(payload.user_id), choice, is_admin=self._is_admin(payload.user_id)
        )
        if ack is not None:
            self.memory.added(payload.message_id, payload.user_id, emoji_key(emoji))

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        try:
            await self._reaction_removed(payload)
        except Exception:
            log.exception("failed to retract a reaction vote", extra={"platform": PLATFORM})

    async def _reaction_removed(self, payload: discord.RawReactionActionEvent) -> None:
        if self._is_me(payload.user_id):
            return
        user = self.bot.get_user(payload.user_id)  # no member on remove events
        if user is not None and user.bot:
            return
        key = emoji_key(str(payload.emoji))
        if self.choice_for(key) is None:
            return
        action, other = self.memory.removed(payload.message_id, payload.user_id, key)
        message_id, user_id = str(payload.message_id), str(payload.user_id)
        if action == "retract":
            await self.service.retract(PLATFORM, message_id, user_id)
        elif action == "revote" and other is not None:
            choice = self.choice_for(other)
            if choice is not None:
                await self.service.vote(PLATFORM, message_id, user_id, choice, is_admin=self._is_admin(payload.user_id))

    async def vote_from_menu(self, interaction: discord.Interaction, choice: str) -> None:
        """The persistent menu's callback: vote for the chosen genre on the menu's message."""
        message = interaction.message
        if message is None:
            await answer(interaction, NO_PREDICTION)
            return
        user_id = interaction.user.id
        ack = await self.service.vote(
            PLATFORM, str(message.id), str(user_id), choice, is_admin=self._is_admin(user_id)
        )
        if ack is None:
            await answer(interaction, NO_PREDICTION)
            return
        self.memory.menu_vote(message.id, user_id)
        await answer(interaction, ack.text)
