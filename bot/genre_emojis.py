"""The reaction emoji of every genre the model knows: GENRE_EMOJIS, and one for each genre learnt from
votes (NEW_GENRES), so people can vote for a new class as for the others."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# For genres GENRE_EMOJIS does not name, in this order: the same genres always get the same emoji.
SPARE = ("🎷", "🪕", "🎻", "🎹", "🥁", "🎺", "🪗", "🪘", "💿", "📻", "🎧", "🎼")


def genre_emojis(genres: Iterable[str], configured: Mapping[str, str]) -> dict[str, str]:
    """GENRE_EMOJIS (in its order), then a spare emoji for each other genre, in the model's order."""
    out = dict(configured)
    used = set(out.values())
    spare = (emoji for emoji in SPARE if emoji not in used)
    for genre in genres:
        if genre not in out:
            emoji = next(spare, None)
            if emoji is None:
                break
            out[genre] = emoji
    return out
