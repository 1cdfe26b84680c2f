"""Telegram rendering: HTML escaping, Telegram's length limits, the vote keyboard, retrain results."""

from __future__ import annotations

import html
import random
import re

from bot.render_text import render_reply
from bot.telegram_app import render
from bot.telegram_app.render import (
    CAPTION_LIMIT,
    TEXT_LIMIT,
    Block,
    pack,
    render_prediction,
    tg_len,
)
from feedback.labels import CONFIRM
from tests.bot.telegram.conftest import prediction_reply

TAG = re.compile(r"</?(b|pre)>")


def visible(parts: list[str]) -> str:
    return html.unescape(TAG.sub("", "\n".join(parts)))


def test_tg_len_counts_utf16_units() -> None:
    assert tg_len("abc") == 3 and tg_len("é") == 1 and tg_len("🎸") == 2 and tg_len("🎛️") == 3


def test_short_prediction_is_one_caption_with_the_shared_wording() -> None:
    reply = prediction_reply()
    rendered = render_prediction(reply, "✅")
    assert rendered.overflow == [] and rendered.text == [rendered.caption]
    hint = render.vote_hint("✅")
    assert visible([rendered.caption]) == render_reply(reply, hint)  # same words as the console's text
    assert rendered.plain == [render_reply(reply, hint)]


def test_pieces_and_parts_respect_the_limits_and_lose_nothing() -> None:
    rng = random.Random(7)
    alphabet = "ab <>&é🎸 \n"
    for _ in range(200):
        blocks = [
            Block("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300))), rng.choice([None, "b", "pre"]))
            for _ in range(rng.randint(1, 6))
        ]
        limit = rng.randint(40, 200)
        parts = pack(blocks, limit)
        assert all(tg_len(render.join(part)) <= limit for part in parts)
        assert "".join(b.plain for part in parts for b in part).replace("\n", "") == "".join(
            b.plain for b in blocks
        ).replace("\n", "")


def test_long_single_line_is_cut_between_words() -> None:
    pieces = Block("word " * 50, "b").pieces(60)
    assert len(pieces) > 1 and all(p.fits(60) and p.html.startswith("<b>") for p in pieces)
    assert all(p.plain.endswith(" ") for p in pieces[:-1])


def test_long_reply_overflows_into_text_messages() -> None:
    genres = tuple("g" * 300 + f" {i}" for i in range(40))
    rendered = render_prediction(prediction_reply(spotify_genres=genres, title="<&>" * 100), "✅")
    assert tg_len(rendered.caption) <= CAPTION_LIMIT and rendered.caption.startswith("<b>&lt;&amp;&gt;")
    assert rendered.overflow and all(tg_len(part) <= TEXT_LIMIT for part in rendered.overflow)
    assert all(tg_len(part) <= TEXT_LIMIT for part in rendered.text + rendered.plain)
    photo_and_text = visible([rendered.caption, *rendered.overflow]).replace("\n", "")
    assert photo_and_text == visible(rendered.text).replace("\n", "")  # only cut in other places


def test_keyboard_skips_genres_too_long_for_callback_data() -> None:
    keyboard = render.vote_keyboard(["Rock", "X" * 63], {"Rock": "🎸"}, "✅", "Rock")
    data = [b.callback_data for row in keyboard.inline_keyboard for b in row]
    assert data == ["v:Rock", "v:" + CONFIRM]
    assert render.parse_vote("v:Rock") == "Rock" and render.parse_vote("x:Rock") is None
    assert render.parse_vote("v:") is None and render.parse_vote(None) is None


def test_read_text_is_html_escaped_and_cut() -> None:
    from dataclasses import replace

    from tests.bot.telegram.conftest import make_prediction, prediction_reply

    text = "<b>FAKE</b> <a href='http://x'>link</a> & @everyone " + "LONG " * 40
    reply = prediction_reply(prediction=replace(make_prediction(), text=text, read_words=["<i>"]))
    rendered = render.render_prediction(reply, "👍")
    for message in [rendered.caption, *rendered.text]:
        assert "<b>FAKE</b>" not in message and "<a href" not in message and "<i>" not in message
    whole = "\n".join(rendered.text)
    (line,) = [x for x in whole.split("\n") if x.startswith("reads: ")]
    assert line.startswith("reads: &lt;b&gt;FAKE&lt;/b&gt; &lt;a href='http://x'&gt;link&lt;/a&gt; &amp; @everyone")
    assert html.unescape(line).endswith("…") and len(html.unescape(line)) <= len("reads: ") + 80
