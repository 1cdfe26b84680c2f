"""The persistent "Correct genre…" menu under every prediction.

One instance is registered with `bot.add_view` in setup_hook and answers every click, on every
message, also after a restart (its custom_id is fixed and it never times out). The copies sent
with each reply are display-only: they are stopped before sending, so discord.py does not keep a
view per message in memory forever, and clicks fall through to the registered instance.

The options shown are the copy's: each reply's copy lists the genres of the model that made its
prediction, so a genre learnt from votes appears as soon as a retrain is promoted, with the same
emoji as its reaction (bot.genre_emojis). The registered instance's options, built at start, do not
limit what it accepts: discord.py takes the chosen value from the click, and the service checks it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import discord

from bot.genre_emojis import genre_emojis as with_spares
from bot.replies import OOPS

log = logging.getLogger(__name__)

CUSTOM_ID = "sleeve:correct-genre"
PLACEHOLDER = "Correct genre…"
MAX_OPTIONS = 25  # Discord's limit per select menu

MenuVote = Callable[[discord.Interaction, str], Awaitable[None]]


def _option_emoji(emoji: str | None) -> str | None:
    """An emoji fit for a select option (Discord rejects the whole message for a bad one), else None."""
    if not emoji or not emoji.strip():
        return None
    emoji = emoji.strip()
    if emoji.startswith("<") and emoji.endswith(">"):  # custom emoji <:name:id>
        return emoji
    return emoji if not emoji.isascii() and len(emoji) <= 8 else None


class GenreSelect(discord.ui.Select):
    def __init__(self, genres: Iterable[str], genre_emojis: Mapping[str, str], on_vote: MenuVote | None) -> None:
        known = list(dict.fromkeys(genres))[:MAX_OPTIONS]
        emojis = with_spares(known, genre_emojis)  # the reactions' emojis, new genres' included
        names = known or ["?"]
        options = [
            discord.SelectOption(label=name[:100], value=name[:100], emoji=_option_emoji(emojis.get(name)))
            for name in names
        ]
        super().__init__(custom_id=CUSTOM_ID, placeholder=PLACEHOLDER, min_values=1, max_values=1, options=options)
        self._on_vote = on_vote

    async def callback(self, interaction: discord.Interaction) -> None:
        if self._on_vote is None or not self.values:
            await interaction.response.send_message(OOPS, ephemeral=True)
            return
        await self._on_vote(interaction, self.values[0])


class CorrectGenreView(discord.ui.View):
    def __init__(
        self, genres: Iterable[str], genre_emojis: Mapping[str, str], on_vote: MenuVote | None = None
    ) -> None:
        super().__init__(timeout=None)
        self.select = GenreSelect(genres, genre_emojis, on_vote)
        self.add_item(self.select)

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: Any, /) -> None:
        log.error("the genre menu failed", exc_info=error)
        try:
            if interaction.response.is_done():
                await interaction.followup.send(OOPS, ephemeral=True)
            else:
                await interaction.response.send_message(OOPS, ephemeral=True)
        except discord.HTTPException:
            log.warning("could not tell the user the menu failed")


def display_view(genres: Iterable[str], genre_emojis: Mapping[str, str]) -> CorrectGenreView:
    """A copy of the menu to send with a reply; the registered persistent view handles its clicks."""
    view = CorrectGenreView(genres, genre_emojis)
    view.stop()
    return view
