"""Telegram's view of a Reply: bot.render_text's text, HTML-escaped and cut to Telegram's limits.

Nothing is worded here that bot.render_text already words: a prediction is rendered by
`render_reply`, then its lines become HTML blocks (the title bold, the genre bars in <pre> so
they line up) and are packed into a photo caption (≤ 1024) and, when that is not enough, text
messages (≤ 4096 each). Lengths are measured on the HTML source in UTF-16 code units, which is
never less than what Telegram counts (the text after entity parsing), so a packed part is never
refused as too long. Parts end between lines where possible; a line too long for one part is
cut between words, each piece with its own tags, so no tag or HTML entity is ever cut.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.render_text import genre_lines, render_reply
from bot.replies import Reply
from feedback.labels import CONFIRM

CAPTION_LIMIT = 1024
TEXT_LIMIT = 4096
CALLBACK_DATA_LIMIT = 64  # bytes
ANSWER_LIMIT = 200  # callback query answers
VOTE_PREFIX = "v:"
BUTTONS_PER_ROW = 3
EXTRA_CONFIRM_REACTIONS = ("👍",)  # in Telegram's reaction set, unlike ✅: also means "the top guess is right"
VARIATION_SELECTOR = "\ufe0f"

VOTE_HINT = "Vote: tap the right genre below, or {confirm} if {{top}} is right."

HELP = """\
Send me a Spotify link (album, track, artist or playlist) or a photo of a cover and I'll judge it \
by its cover: genre, popularity, tags, and the tags that explain the genre.

In groups I answer Spotify links, and photos that mention me or reply to me. (With privacy mode on, \
Telegram only shows me commands, mentions and replies to me.)

/guess LINK or URL — judge a Spotify link or an image on the web; or reply /guess to a photo
/tags [genre] — the tags that are distinctive of each genre
/stats — model version, counts and live accuracy
/genres — genres suggested by votes (admins: /genres approve NAME)
/forget — delete your votes and the predictions you asked for
/retrain — retrain the model on people's votes (admins only)
/help — this text

Vote by tapping the right genre under my reply ({confirm} if my top guess is right)."""


def tg_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def message_key(chat_id: int | str, message_id: int | str) -> str:
    """The message id the service stores: Telegram message ids are only unique within a chat."""
    return f"{chat_id}:{message_id}"


# -- replies -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """A piece of a reply kept whole when it fits: plain text, optionally wrapped in one HTML tag."""

    plain: str
    tag: str | None = None  # "b", "pre"

    @property
    def html(self) -> str:
        text = html.escape(self.plain, quote=False)
        return f"<{self.tag}>{text}</{self.tag}>" if self.tag and self.plain else text

    def fits(self, limit: int) -> bool:
        return tg_len(self.html) <= limit

    def pieces(self, limit: int) -> list[Block]:
        """This block, or, when its HTML is longer than limit, consecutive pieces that each fit.

        Cuts after a newline, else after a space, else anywhere; nothing is lost.
        """
        if self.fits(limit):
            return [self]
        pieces, rest = [], self.plain
        while rest:
            end = self._longest_fitting_prefix(rest, limit)
            cut = max(rest.rfind("\n", 0, end), rest.rfind(" ", 0, end)) + 1 if end < len(rest) else end
            cut = cut if cut > end // 2 else end  # no tiny pieces just to end on a space
            pieces.append(Block(rest[:cut].rstrip("\n"), self.tag))
            rest = rest[cut:]
        return pieces

    def _longest_fitting_prefix(self, text: str, limit: int) -> int:
        low, high = 1, len(text)  # bisection; one character always fits a sane limit
        while low < high:
            mid = (low + high + 1) // 2
            if Block(text[:mid], self.tag).fits(limit):
                low = mid
            else:
                high = mid - 1
        return low


@dataclass(frozen=True)
class Rendered:
    """A prediction laid out for Telegram."""

    caption: str  # HTML, ≤ CAPTION_LIMIT
    overflow: list[str]  # HTML text messages that follow the photo (each ≤ TEXT_LIMIT); usually empty
    text: list[str]  # the whole reply as HTML text messages, for when no photo can be sent
    plain: list[str]  # the whole reply as plain text messages, the last resort


def vote_hint(confirm_emoji: str) -> str:
    return VOTE_HINT.format(confirm=confirm_emoji)


def reply_blocks(reply: Reply, hint: str | None) -> list[Block]:
    """render_reply's lines as blocks: the title bold, the genre lines in one <pre>, the rest as text."""
    lines = render_reply(reply, hint).split("\n")
    if reply.kind != "prediction" or reply.prediction is None:
        return [Block(line) for line in lines]
    bars = set(genre_lines(reply.prediction))
    title, *rest = lines
    blocks = [Block(title, "b")]
    pre: list[str] = []
    for line in rest:
        if line in bars:
            pre.append(line)
            continue
        if pre:
            blocks.append(Block("\n".join(pre), "pre"))
            pre = []
        blocks.append(Block(line))
    if pre:
        blocks.append(Block("\n".join(pre), "pre"))
    return blocks


def pack(blocks: Sequence[Block], limit: int) -> list[list[Block]]:
    """Blocks in order, grouped into parts whose HTML (joined by newlines) fits in limit."""
    parts: list[list[Block]] = []
    current: list[Block] = []
    size = 0
    for block in (piece for b in blocks for piece in b.pieces(limit)):
        length = tg_len(block.html)
        if current and size + 1 + length > limit:
            parts.append(current)
            current, size = [], 0
        size += length + (1 if current else 0)
        current.append(block)
    if current:
        parts.append(current)
    return parts


def join(blocks: Iterable[Block]) -> str:
    return "\n".join(block.html for block in blocks)


def text_parts(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Plain text (no parse mode) cut at line ends into messages of at most limit."""
    parts = pack([Block(line) for line in text.split("\n")], limit)
    return ["\n".join(block.plain for block in part) for part in parts] or [""]


def render_prediction(reply: Reply, confirm_emoji: str) -> Rendered:
    hint = vote_hint(confirm_emoji)
    blocks = reply_blocks(reply, hint)
    whole = join(blocks)
    if tg_len(whole) <= CAPTION_LIMIT:
        caption, overflow = whole, []
    else:
        pieces = [piece for block in blocks for piece in block.pieces(CAPTION_LIMIT)]
        first = pack(pieces, CAPTION_LIMIT)[0]  # as much as fits under the photo, the rest follows as text
        caption = join(first)
        overflow = [join(part) for part in pack(pieces[len(first) :], TEXT_LIMIT)]
    text = [join(part) for part in pack(blocks, TEXT_LIMIT)]
    return Rendered(caption, overflow, text, text_parts(render_reply(reply, hint)))


# -- votes -------------------------------------------------------------------------------------------


def vote_keyboard(
    genres: Iterable[str], emojis: Mapping[str, str], confirm_emoji: str, top: str
) -> InlineKeyboardMarkup:
    """One button per genre (emoji + name), BUTTONS_PER_ROW to a row, then "✅ <top> is right"."""
    buttons = []
    for genre in genres:
        data = VOTE_PREFIX + genre
        if len(data.encode()) > CALLBACK_DATA_LIMIT:
            continue  # cannot be a button; people can still vote with a reaction
        emoji = emojis.get(genre)
        buttons.append(InlineKeyboardButton(f"{emoji} {genre}" if emoji else genre, callback_data=data))
    rows = [buttons[i : i + BUTTONS_PER_ROW] for i in range(0, len(buttons), BUTTONS_PER_ROW)]
    rows.append([InlineKeyboardButton(f"{confirm_emoji} {top} is right", callback_data=VOTE_PREFIX + CONFIRM)])
    return InlineKeyboardMarkup(rows)


def parse_vote(data: str | None) -> str | None:
    """The choice behind a vote button ("Rock", or CONFIRM); None for anything else."""
    if not data or not data.startswith(VOTE_PREFIX):
        return None
    return data[len(VOTE_PREFIX) :].strip() or None


def _bare(emoji: str) -> str:
    return emoji.replace(VARIATION_SELECTOR, "").strip()


def reaction_choices(emojis: Mapping[str, str], confirm_emoji: str) -> dict[str, str]:
    """Reaction emoji (without variation selectors, as Telegram may send them) -> vote choice."""
    choices = {_bare(emoji): genre for genre, emoji in emojis.items()}
    for emoji in (confirm_emoji, *EXTRA_CONFIRM_REACTIONS):
        choices.setdefault(_bare(emoji), CONFIRM)
    return choices


def reaction_choice(emoji: str, choices: Mapping[str, str]) -> str | None:
    return choices.get(_bare(emoji))
