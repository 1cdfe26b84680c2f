from __future__ import annotations

from bot.discord_app.embeds import vote_genres
from bot.genre_emojis import SPARE, genre_emojis

CONFIGURED = {"Rock": "🎸", "Pop": "🎵"}


def test_a_genre_learnt_from_votes_gets_a_spare_emoji_and_keeps_it() -> None:
    emojis = genre_emojis(["Pop", "Rock", "Folk"], CONFIGURED)
    assert emojis == {"Rock": "🎸", "Pop": "🎵", "Folk": SPARE[0]}
    assert genre_emojis(["Pop", "Rock", "Folk", "Jazz"], CONFIGURED)["Folk"] == SPARE[0]  # stable


def test_a_spare_already_configured_is_not_given_twice() -> None:
    emojis = genre_emojis(["Rock", "Folk"], {"Rock": SPARE[0]})
    assert emojis["Folk"] == SPARE[1]


def test_discord_reactions_include_the_new_genre() -> None:
    assert vote_genres(["Rock", "Folk"], CONFIGURED) == [("Rock", "🎸"), ("Folk", SPARE[0])]
