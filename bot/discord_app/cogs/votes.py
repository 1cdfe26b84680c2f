"""Votes on a prediction: reactions (a genre's emoji, or the confirm emoji) and the "Correct genre…" menu.

The raw reaction events work for messages that are not in the cache (after a restart, or old
ones). One vote per user per prediction, the latest wins: the store does that.

Taking a reaction away retracts the vote only when the vote is still the one that reaction cast
(the store compares the label): removing an older reaction leaves a newer vote, by reaction or
by the menu, alone.
"""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from bot.discord_app.cogs.base import SleeveCog
from bot.discord_app.replying import PLATFORM, answer
from bot.genre_emojis import genre_emojis
from feedback.labels import CONFIRM

log = logging.getLogger(__name__)

NO_PREDICTION = "I couldn't find the prediction behind that message, so the vote wasn't recorded."


def emoji_key(emoji: str) -> str:
    """Emoji compared without variation selectors: Discord may drop or keep U+FE0F."""
    return emoji.replace("\ufe0f", "").strip()


class VotesCog(SleeveCog, name="Votes"):
    def choice_for(self, emoji: str) -> str | None:
        """The genre (or CONFIRM) an emoji stands for; None for any other emoji."""
        key = emoji_key(emoji)
        if not key:
            return None
        if key == emoji_key(self.settings.CONFIRM_EMOJI):
            return CONFIRM
        for genre, genre_emoji in genre_emojis(self.service.predictor.genres, self.settings.GENRE_EMOJIS).items():
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
        me = self.bot.user
        if me is None or payload.message_author_id != me.id:  # only our replies carry votes
            return
        if payload.user_id == me.id:
            return
        member = payload.member
        if member is not None:
            if member.bot:
                return
        else:  # DMs carry no member: ask the cache
            user = self.bot.get_user(payload.user_id)
            if user is not None and user.bot:
                return
        choice = self.choice_for(str(payload.emoji))
        if choice is None:
            return
        await self.service.vote(
            PLATFORM, str(payload.message_id), str(payload.user_id), choice, is_admin=self._is_admin(payload.user_id)
        )

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
        choice = self.choice_for(str(payload.emoji))
        if choice is None:
            return
        # Only a vote still cast by this emoji goes: removing an older reaction keeps the newer vote.
        await self.service.retract(PLATFORM, str(payload.message_id), str(payload.user_id), choice)

    async def vote_from_menu(self, interaction: discord.Interaction, choice: str) -> None:
        """The persistent menu's callback: vote for the chosen genre on the menu's message."""
        message = interaction.message
        if message is None:
            await answer(interaction, NO_PREDICTION)
            return
        # Storing a vote can outlast Discord's 3-second window for a first answer: defer first
        # (and record the vote even if that fails).
        try:
            await interaction.response.defer(ephemeral=True, thinking=True)
        except discord.HTTPException as exc:
            log.warning("could not defer a menu vote", extra={"status": exc.status, "code": exc.code})
        user_id = interaction.user.id
        ack = await self.service.vote(
            PLATFORM, str(message.id), str(user_id), choice, is_admin=self._is_admin(user_id)
        )
        await answer(interaction, NO_PREDICTION if ack is None else ack.text)
