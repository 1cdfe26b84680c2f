"""Reply → Discord embed: content, vote line, unsure line, and Discord's size limits."""

from __future__ import annotations

import discord

from bot.discord_app import embeds
from bot.discord_app.embeds import (
    DESCRIPTION_LIMIT,
    FIELD_VALUE_LIMIT,
    TITLE_LIMIT,
    TOTAL_LIMIT,
    clip,
    join_clipped,
    render_reply,
    retrain_embed,
    stats_embed,
    tags_embed,
)
from bot.replies import Reply, busy, error
from bot.settings import DEFAULT_GENRE_EMOJIS
from models.distinctive import DistinctiveTag
from tests.bot.discord.helpers import make_prediction, prediction_reply
from tests.bot.retrain_results import PROMOTED

CONFIRM = "✅"


def render(reply: Reply, votable: bool = True) -> embeds.Rendered:
    return render_reply(reply, genre_emojis=DEFAULT_GENRE_EMOJIS, confirm_emoji=CONFIRM, votable=votable)


def within_limits(embed: discord.Embed) -> None:
    assert len(embed) <= TOTAL_LIMIT
    assert len(embed.title or "") <= TITLE_LIMIT
    assert len(embed.description or "") <= DESCRIPTION_LIMIT
    assert len(embed.fields) <= 25
    for field in embed.fields:
        assert len(field.name or "") <= 256
        assert 0 < len(field.value or "") <= FIELD_VALUE_LIMIT
    assert len(embed.footer.text or "") <= 2048


def field(embed: discord.Embed, name: str) -> str:
    return next(f.value for f in embed.fields if (f.name or "").startswith(name))


def test_prediction_embed_shows_everything() -> None:
    reply = prediction_reply(spotify_genres=("psychedelic rock", "indie rock"))
    rendered = render(reply)
    embed = rendered.embed
    assert embed is not None and rendered.file is None and rendered.content is None
    assert embed.title == "Lanterns at Dusk — The Velvet Lanterns"
    assert embed.url == "https://open.spotify.com/album/abc"
    assert embed.thumbnail.url == "https://i.scdn.co/image/abc"
    description = embed.description or ""
    assert "**Rock** `██████░░░░` 62%" in description
    assert "**Pop**" in description and "**Electronic**" in description and "HipHop" not in description
    assert "why: **dark**, **guitar**" in description
    assert "~31 (17–44)" in field(embed, "Popularity") and "barely predict" in field(embed, "Popularity")
    assert field(embed, "Tags") == "**dark**, **guitar**, grainy"
    assert field(embed, "Spotify says") == "psychedelic rock, indie rock"
    dated = render(prediction_reply(spotify_genres=("r&b",), release_date="2021-03-05")).embed
    assert field(dated, "Spotify says") == "r&b · released 2021-03-05"
    assert field(render(prediction_reply(release_date="2021")).embed, "Spotify says") == "released 2021"
    vote = field(embed, "Vote")
    assert "🎸" in vote and CONFIRM in vote and "menu" in vote
    assert embed.footer.text == "Model v20260101-000000"
    assert "unsure" not in description
    within_limits(embed)


def test_not_votable_has_no_vote_line() -> None:
    embed = render(prediction_reply(prediction_id=None), votable=False).embed
    assert embed is not None
    assert not any(f.name == "Vote" for f in embed.fields)


def test_unsure_line() -> None:
    prediction = make_prediction({"Rock": 0.41, "Pop": 0.39, "Electronic": 0.2})
    embed = render(prediction_reply(prediction=prediction, unsure=True)).embed
    assert embed is not None
    assert "I'm unsure between Rock and Pop — please vote!" in (embed.description or "")


def test_artist_guess_says_how_many_covers() -> None:
    embed = render(prediction_reply(is_artist_guess=True, n_covers=4, title="The Velvet Lanterns")).embed
    assert embed is not None and "from 4 covers" in (embed.description or "")
    embed = render(prediction_reply(is_artist_guess=True, n_covers=0)).embed
    assert embed is not None and "their photo" in (embed.description or "")


def test_uploaded_bytes_become_an_attached_cover() -> None:
    jpeg = b"\xff\xd8\xff\xe0" + b"0" * 100
    rendered = render(prediction_reply(cover_url=None, cover_bytes=jpeg, source_kind="upload", source_ref="x"))
    assert rendered.embed is not None and rendered.file is not None
    assert rendered.file.filename == "cover.jpg"
    assert rendered.embed.thumbnail.url == "attachment://cover.jpg"
    assert rendered.embed.url is None  # only Spotify items link out
    assert set(rendered.send_kwargs()) == {"embed", "file", "allowed_mentions"}
    assert rendered.send_kwargs()["allowed_mentions"].everyone is False
    png = render(prediction_reply(cover_url=None, cover_bytes=b"\x89PNG....")).file
    assert png is not None and png.filename == "cover.png"


def test_very_long_everything_stays_within_discord_limits() -> None:
    long_tags = [f"{'tag' * 150}{i}" for i in range(8)]
    prediction = make_prediction(
        {f"{'Genre' * 60}{i}": p for i, p in enumerate([0.3, 0.29, 0.2, 0.11, 0.1])},
        tags=long_tags,
        distinctive={f"{'Genre' * 60}{i}": long_tags[:4] for i in range(3)},
        version="v" * 3000,
    )
    reply = prediction_reply(
        prediction=prediction,
        title="T" * 1000,
        text="note " * 2000,
        spotify_genres=tuple("g" * 300 for _ in range(30)),
        unsure=True,
    )
    embed = render(reply).embed
    assert embed is not None
    within_limits(embed)
    assert (embed.title or "").endswith("…")


def test_markdown_in_titles_is_escaped() -> None:
    embed = render(prediction_reply(title="**bold** _it_")).embed
    assert embed is not None and embed.title == r"\*\*bold\*\* \_it\_"


def test_other_replies_are_short_text() -> None:
    assert render(busy()).content == busy().text
    assert render(error("x" * 5000)).content == "x" * 1999 + "…"
    assert render(Reply(kind="info", title="Hi", text="there")).content == "**Hi**\nthere"


def test_clip_helpers() -> None:
    assert clip("abcdef", 4) == "abc…"
    assert clip("abc", 3) == "abc"
    assert join_clipped(["aa", "bb", "cc"], 7) == "aa, bb…"
    assert join_clipped(["a" * 20], 5) == "aaaa…"


def test_tags_embed() -> None:
    rock = [DistinctiveTag("guitar", 3.14, 0.2), DistinctiveTag("dark")]
    embed = tags_embed({"Rock": rock, "Pop": []}, DEFAULT_GENRE_EMOJIS)
    assert [(f.name, f.value) for f in embed.fields] == [("🎸 Rock", "guitar ×3.1, dark"), ("🎵 Pop", "(none yet)")]
    many = tags_embed({f"G{i}": [DistinctiveTag("x" * 500, 2.0)] * 10 for i in range(40)}, {})
    within_limits(many)


def test_stats_embed() -> None:
    stats = {
        "model_version": "v1",
        "genres": ["Pop", "Rock"],
        "predictions": 10,
        "votes": 4,
        "voters": 2,
        "predictions_this_model": 8,
        "live_accuracy": {"n": 4, "top1": 0.75, "per_genre": {"Rock": {"correct": 3, "total": 3}}},
        "last_retrain": {"status": "promoted", "started": 1.0, "finished": 2.0},
        "queue": {"pending": 1, "capacity": 34},
    }
    embed = stats_embed(stats)
    assert "Model v1" in (embed.description or "") and "75% of 4 voted" in (embed.description or "")
    assert "Last retrain: promoted" in (embed.description or "")
    assert field(embed, "Live accuracy per genre") == "Rock: 3/3"
    assert field(embed, "Queue") == "1 of 34"


def test_suggested_genres_in_stats_are_escaped() -> None:
    stats = {"model_version": "v1", "genres": ["Rock"], "predictions": 1, "votes": 1, "voters": 1,
             "predictions_this_model": 1, "live_accuracy": {"n": 0, "top1": None, "per_genre": {}},
             "last_retrain": None, "suggestions": {"**loud** `x`": 1}}
    description = stats_embed(stats).description or ""
    assert "\\*\\*loud\\*\\* \\`x\\`" in description and "**loud**" not in description


def test_retrain_embed_renders_the_typed_result() -> None:
    embed = retrain_embed(PROMOTED)
    assert embed.title == "Retraining: promoted"
    assert "McNemar p = 0.008" in embed.description and "Decision:" in embed.description
    [table] = embed.fields
    assert table.name == "Old vs new" and "base validation top-1" in table.value


HOSTILE_TEXT = "@everyone <@123456789012345678> <@&987654321098765432> **BOLD** __x__ `code` ||spoiler|| " + "LONG " * 40


def test_read_text_is_shown_escaped_and_cut_and_never_pings() -> None:
    from dataclasses import replace

    prediction = replace(make_prediction(), text=HOSTILE_TEXT, read_words=["@here"])
    rendered = render(prediction_reply(prediction=prediction))
    assert rendered.embed is not None
    (line,) = [x for x in rendered.embed.description.split("\n") if x.startswith("reads: ")]
    assert "@everyone" not in line and "@\u200beveryone" in line  # escape_mentions breaks the mention
    assert "<@123456789012345678>" not in line and "<@&987654321098765432>" not in line
    assert "\\*\\*BOLD\\*\\*" in line and "\\`code\\`" in line and "\\_\\_x\\_\\_" in line
    assert len(line) < 200 and line.endswith("…*")
    assert "@here" not in rendered.embed.description  # the read words in "why" are escaped too
    mentions = rendered.send_kwargs()["allowed_mentions"]
    assert (mentions.everyone, mentions.users, mentions.roles, mentions.replied_user) == (False, False, False, False)


def test_no_read_text_no_reads_line() -> None:
    rendered = render(prediction_reply())
    assert rendered.embed is not None and "reads:" not in rendered.embed.description
