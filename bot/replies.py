"""What front ends hand the service and what they get back: plain dataclasses, no chat-library types."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from feedback.records import Platform, SourceKind
from models.prediction import Prediction

ReplyKind = Literal["prediction", "error", "busy", "rate_limited", "info"]

OOPS = "Something went wrong on my side — sorry! Try again in a moment."
BUSY = "I'm judging a lot of covers right now — try again in a moment."
NOT_A_LINK = "That doesn't look like a Spotify album, track, artist or playlist link."
NOTHING_TO_JUDGE = "Give me a Spotify link, an image, or an image URL."
PODCAST = "That's a podcast — podcasts aren't albums, so there's no album cover for me to judge."
BAD_SPOTIFY_ID = (
    "That Spotify link's ID looks wrong (an ID is 22 letters and digits): copy the link again with Share → Copy link."
)


@dataclass(frozen=True)
class IncomingImage:
    """An attached image: its bytes when the front end has them, else a URL to download."""

    data: bytes | None = field(default=None, repr=False)
    url: str | None = None
    filename: str | None = None
    content_type: str | None = None
    size: int | None = None  # declared size in bytes, checked before downloading


@dataclass(frozen=True)
class Incoming:
    """A chat message as the service sees it."""

    platform: Platform
    text: str = ""
    attachments: list[IncomingImage] = field(default_factory=list)
    author_id: str = ""
    author_is_bot: bool = False
    channel_id: str | None = None
    server_id: str | None = None
    message_id: str | None = None
    mentioned: bool = False  # the bot was mentioned / addressed directly (DMs count)
    in_image_channel: bool = False  # every image posted here is answered


@dataclass(frozen=True)
class Requester:
    """Who asked, and where: recorded with each prediction and used for rate limits."""

    platform: Platform
    user_id: str | None = None
    channel_id: str | None = None
    server_id: str | None = None

    @classmethod
    def of(cls, incoming: Incoming) -> Requester:
        return cls(incoming.platform, incoming.author_id or None, incoming.channel_id, incoming.server_id)


@dataclass(frozen=True)
class Reply:
    kind: ReplyKind
    title: str = ""  # "album — artist", the artist's name, or "your image"
    text: str | None = None  # the message for error/busy/rate_limited/info; an optional note on a prediction
    prediction: Prediction | None = None
    prediction_id: int | None = None  # store row; None when the prediction could not be recorded
    source_kind: SourceKind | None = None
    source_ref: str | None = None
    cover_url: str | None = None
    cover_bytes: bytes | None = field(default=None, repr=False)
    spotify_genres: tuple[str, ...] = ()
    release_date: str | None = None  # as Spotify gives it: "2019-04-12", "2019-04" or "2019"
    is_artist_guess: bool = False
    n_covers: int = 1  # covers behind the guess (an artist guess pools several; 0: only the artist's photo)
    unsure: bool = False  # the top two genres are close: ask people to vote


@dataclass(frozen=True)
class VoteAck:
    """A vote that landed: the label stored (CONFIRM already resolved to the top genre)."""

    prediction_id: int
    label: str
    known_genre: bool  # False: a suggestion for a genre the model does not know
    text: str


def error(message: str) -> Reply:
    return Reply(kind="error", text=message)


def busy() -> Reply:
    return Reply(kind="busy", text=BUSY)


def rate_limited(retry_after: float) -> Reply:
    seconds = max(1, round(retry_after))
    return Reply(kind="rate_limited", text=f"Slow down a little — try again in {seconds} s.")


def info(text: str, title: str = "") -> Reply:
    return Reply(kind="info", title=title, text=text)
