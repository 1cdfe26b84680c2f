"""Replies and command results as Discord messages: embeds within Discord's limits, or short text.

Pure functions of plain data (Reply, dicts): no network, no bot state, easy to test.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import discord
from discord.utils import escape_markdown, escape_mentions

from bot.genre_emojis import genre_emojis as with_spares
from bot.render_retrain import STATUS_WORDS, difference_line, headline, metrics_table, new_genre_lines
from bot.render_text import MAX_TAGS, TOP_GENRES, bar, cover_text, distinctive_label, popularity_line, render_stats, why
from bot.replies import Reply
from models.distinctive import DistinctiveTag
from training.result import RetrainResult

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
TOTAL_LIMIT = 6000
MAX_FIELDS = 25
CONTENT_LIMIT = 2000
FILE_LIMIT = 8 * 1024 * 1024  # a thumbnail file above this is left out (uploads beyond 8-10 MB fail)

ELLIPSIS = "…"
COLOUR = discord.Colour.blurple()
UNSURE_COLOUR = discord.Colour.orange()
COVER_FILE_STEM = "cover"


@dataclass
class Rendered:
    """What to pass to send()/reply(): an embed, or text, plus the cover file an embed may refer to."""

    embed: discord.Embed | None = None
    content: str | None = None
    file: discord.File | None = None

    def send_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if self.content is not None:
            kwargs["content"] = self.content
        if self.embed is not None:
            kwargs["embed"] = self.embed
        if self.file is not None:
            kwargs["file"] = self.file
        if self.embed is not None:  # a prediction shows a cover's text: never ping, even if the client default changes
            kwargs["allowed_mentions"] = discord.AllowedMentions.none()
        return kwargs


# -- text helpers -------------------------------------------------------------------------------------


def clip(text: str, limit: int) -> str:
    """text cut to at most limit characters, ending in "…" when cut."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(ELLIPSIS))].rstrip() + ELLIPSIS


def join_clipped(items: Iterable[str], limit: int, sep: str = ", ") -> str:
    """Whole items joined by sep while they fit in limit, then "…"; a first item too long is clipped."""
    out = ""
    for item in items:
        candidate = item if not out else out + sep + item
        if len(candidate) <= limit:
            out = candidate
            continue
        if not out:
            return clip(item, limit)
        return out + ELLIPSIS if len(out) + len(ELLIPSIS) <= limit else clip(out, limit)
    return out


def join_lines_clipped(lines: Iterable[str], limit: int) -> str:
    return join_clipped(lines, limit, sep="\n")


def text_message(text: str) -> str:
    return clip(text, CONTENT_LIMIT)


def fit_total(embed: discord.Embed, limit: int = TOTAL_LIMIT) -> discord.Embed:
    """Shrink the longest parts (description, then field values) until the whole embed fits."""
    while len(embed) > limit:
        over = len(embed) - limit
        fields = embed.fields
        candidates: list[tuple[int, int]] = [(len(embed.description or ""), -1)]
        candidates += [(len(f.value or ""), i) for i, f in enumerate(fields)]
        size, index = max(candidates)
        if size <= len(ELLIPSIS):  # nothing left to shrink: drop the last field
            if not fields:
                embed.title = clip(embed.title or "", max(0, len(embed.title or "") - over))
                break
            embed.remove_field(len(fields) - 1)
            continue
        new_size = max(len(ELLIPSIS), size - over)
        if index == -1:
            embed.description = clip(embed.description or "", new_size)
        else:
            field = fields[index]
            embed.set_field_at(index, name=field.name or "\u200b", value=clip(field.value or "", new_size),
                               inline=bool(field.inline))
    return embed


def _add_field(embed: discord.Embed, name: str, value: str, *, inline: bool = False) -> None:
    if len(embed.fields) >= MAX_FIELDS or not value:
        return
    embed.add_field(name=clip(name, FIELD_NAME_LIMIT) or "\u200b", value=clip(value, FIELD_VALUE_LIMIT), inline=inline)


def _md(text: str) -> str:
    return escape_markdown(text)


def _stranger(text: str) -> str:
    """Text from a cover or a stranger: markdown escaped, and mentions broken even where one would ping."""
    return escape_mentions(escape_markdown(text))


# -- predictions --------------------------------------------------------------------------------------


def render_reply(
    reply: Reply,
    *,
    genre_emojis: Mapping[str, str],
    confirm_emoji: str,
    votable: bool,
) -> Rendered:
    """A prediction as an embed (with the vote line when votable); anything else as short text."""
    if reply.kind != "prediction" or reply.prediction is None:
        parts = [f"**{_md(reply.title)}**" if reply.title else "", reply.text or ""]
        return Rendered(content=text_message("\n".join(p for p in parts if p) or "…"))
    return _prediction(reply, genre_emojis, confirm_emoji, votable)


def vote_genres(genres: Iterable[str], genre_emojis: Mapping[str, str]) -> list[tuple[str, str]]:
    """(genre, emoji) for the given genres, in GENRE_EMOJIS order, then genres learnt from votes."""
    genres = list(genres)
    known = set(genres)
    return [(genre, emoji) for genre, emoji in with_spares(genres, genre_emojis).items() if genre in known]


def unsure_text(first: str, second: str) -> str:
    return f"I'm unsure between {first} and {second} — please vote!"


def _prediction(reply: Reply, genre_emojis: Mapping[str, str], confirm_emoji: str, votable: bool) -> Rendered:
    prediction = reply.prediction
    assert prediction is not None
    distinctive = {tag for tags in prediction.distinctive_tags.values() for tag in tags}

    embed = discord.Embed(
        title=clip(_md(reply.title) or "Your cover", TITLE_LIMIT),
        colour=UNSURE_COLOUR if reply.unsure else COLOUR,
    )
    if reply.source_kind == "spotify" and (reply.source_ref or "").startswith("https://"):
        embed.url = reply.source_ref

    lines: list[str] = []
    if reply.is_artist_guess:
        if reply.n_covers == 0:
            lines.append("*Artist guess — judged from their photo*")
        else:
            covers = "cover" if reply.n_covers == 1 else "covers"
            lines.append(f"*Artist guess — from {reply.n_covers} {covers}*")
    for score in prediction.top(TOP_GENRES):
        emoji = genre_emojis.get(score.genre)
        prefix = f"{emoji} " if emoji else ""
        lines.append(f"{prefix}**{_md(score.genre)}** `{bar(score.probability)}` {score.probability * 100:.0f}%")
        reasons = why(prediction, score.genre)
        if reasons:
            lines.append("↳ why: " + join_clipped((f"**{_stranger(t)}**" for t in reasons), 400))
    if reply.unsure and len(prediction.genres) >= 2:
        lines.append("🤔 **" + unsure_text(prediction.genres[0].genre, prediction.genres[1].genre) + "**")
    if reply.text:
        lines.append(f"*{_md(reply.text)}*")
    reads = cover_text(prediction.text)
    if reads:
        lines.append(f"reads: *{_stranger(reads)}*")
    embed.description = join_lines_clipped(lines, DESCRIPTION_LIMIT)

    _add_field(embed, "Popularity", popularity_line(prediction).removeprefix("Popularity: "))
    tags = [f"**{_md(t.tag)}**" if t.tag in distinctive else _md(t.tag) for t in prediction.tags[:MAX_TAGS]]
    _add_field(embed, "Tags (bold: distinctive)" if distinctive & {t.tag for t in prediction.tags[:MAX_TAGS]}
               else "Tags", join_clipped(tags, FIELD_VALUE_LIMIT))
    if reply.spotify_genres or reply.release_date:
        released = f" · released {_md(reply.release_date)}" if reply.release_date else ""
        genres = join_clipped((_md(g) for g in reply.spotify_genres), FIELD_VALUE_LIMIT - len(released))
        _add_field(embed, "Spotify says", (genres + released).removeprefix(" · "))
    if votable:
        _add_field(embed, "Vote", vote_hint([g.genre for g in prediction.genres], prediction.top_genre,
                                            genre_emojis, confirm_emoji))
    embed.set_footer(text=clip(f"Model {prediction.model_version}", FOOTER_LIMIT))

    file = None
    if reply.cover_url and reply.cover_url.startswith(("https://", "http://")):
        embed.set_thumbnail(url=reply.cover_url)
    elif reply.cover_bytes and len(reply.cover_bytes) <= FILE_LIMIT:
        name = f"{COVER_FILE_STEM}.{_image_extension(reply.cover_bytes)}"
        file = discord.File(io.BytesIO(reply.cover_bytes), filename=name)
        embed.set_thumbnail(url=f"attachment://{name}")
    return Rendered(embed=fit_total(embed), file=file)


def vote_hint(genres: Sequence[str], top: str, genre_emojis: Mapping[str, str], confirm_emoji: str) -> str:
    emojis = " ".join(emoji for _, emoji in vote_genres(genres, genre_emojis))
    react = f"React with the right genre ({emojis})" if emojis else "Pick the right genre in the menu"
    return f"{react} or {confirm_emoji} if **{_md(top)}** is right — or use the *Correct genre…* menu."


def _image_extension(data: bytes) -> str:
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"GIF8"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return "png"


# -- commands -----------------------------------------------------------------------------------------


def tags_embed(tags: Mapping[str, Sequence[DistinctiveTag]], genre_emojis: Mapping[str, str]) -> discord.Embed:
    embed = discord.Embed(title="Distinctive tags", colour=COLOUR)
    embed.description = "Tags that set a genre's covers apart from the others (×N: that many times more common there)."
    for genre, found in tags.items():
        emoji = genre_emojis.get(genre)
        name = f"{emoji} {genre}" if emoji else genre
        labels = (_md(distinctive_label(t)) for t in found)
        _add_field(embed, name, join_clipped(labels, FIELD_VALUE_LIMIT) or "(none yet)")
    return fit_total(embed)


def stats_embed(stats: Mapping[str, Any]) -> discord.Embed:
    """The numbers from Service.stats(): the shared text summary, plus per-genre accuracy and the queue."""
    embed = discord.Embed(title="Sleeve stats", colour=COLOUR)
    # Suggested genre names are people's free text: escaped like any other user text.
    shown = {**stats, "suggestions": {_md(name): n for name, n in (stats.get("suggestions") or {}).items()}}
    embed.description = clip(render_stats(shown), DESCRIPTION_LIMIT)
    per_genre = (stats.get("live_accuracy") or {}).get("per_genre") or {}
    rows = [
        f"{_md(genre)}: {c['correct']}/{c['total']}" for genre, c in per_genre.items() if c.get("total")
    ]
    _add_field(embed, "Live accuracy per genre", join_lines_clipped(rows, FIELD_VALUE_LIMIT), inline=True)
    queue = stats.get("queue")
    if queue:
        _add_field(embed, "Queue", f"{queue.get('pending', 0)} of {queue.get('capacity', '?')}", inline=True)
    return fit_total(embed)


def retrain_embed(result: RetrainResult) -> discord.Embed:
    """The decision, the top-1 difference with its interval, and old vs new metrics as a table."""
    embed = discord.Embed(
        title=clip(f"Retraining: {STATUS_WORDS[result.status]}", TITLE_LIMIT),
        colour=discord.Colour.green() if result.status == "promoted" else discord.Colour.light_grey(),
    )
    lines = [headline(result)]
    if result.paired is not None:
        lines.append(difference_line(result.paired))
    lines += new_genre_lines(result)
    lines.append(f"Decision: {result.reason}")
    embed.description = join_lines_clipped([escape_markdown(line) for line in lines], DESCRIPTION_LIMIT)
    table = metrics_table(result)
    if table:
        _add_field(embed, "Old vs new", f"```\n{clip(table, FIELD_VALUE_LIMIT - 8)}\n```")
    return fit_total(embed)
