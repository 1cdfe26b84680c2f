"""From what people post to image bytes worth judging: Spotify items, attachments and image URLs.

Every failure is a FetchError or SpotifyError whose user_message can be shown as is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp

from bot.fetch import FetchError, fetch_image
from bot.links import ShortLink, SpotifyRef
from bot.replies import IncomingImage
from bot.service.config import ServiceConfig
from bot.spotify import ArtistInfo, CoverInfo, SpotifyClient
from feedback.records import SourceKind
from models.image import too_large_message

ARTIST_COVERS = 10
YOUR_IMAGE = "your image"
ARTIST_PHOTO_NOTE = "Spotify only showed me the artist's photo, so this guess is from that, not from album covers."
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".jfif")

ShortLinkResolver = Callable[[str], Awaitable[SpotifyRef | None]]


@dataclass(frozen=True)
class Subject:
    """Images to judge (several for an artist) and how to describe the result."""

    images: list[bytes]
    source_kind: SourceKind
    source_ref: str
    title: str
    cover_url: str | None = None
    spotify_genres: tuple[str, ...] = ()
    release_date: str | None = None
    is_artist: bool = False
    photo_only: bool = False  # an artist guess from their photo: no album covers to go on
    note: str | None = None


def may_be_image(image: IncomingImage) -> bool:
    """False only for attachments that declare themselves something else (a PDF, a text file)."""
    if image.content_type:
        return image.content_type.lower().startswith("image/")
    name = (image.filename or "").lower()
    return not name or "." not in name or name.endswith(IMAGE_EXTENSIONS)


class Sources:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        spotify: SpotifyClient,
        config: ServiceConfig,
        resolve_short: ShortLinkResolver,
    ) -> None:
        self._session = session
        self._spotify = spotify
        self._config = config
        self._resolve_short = resolve_short

    async def resolve(self, item: SpotifyRef | ShortLink) -> SpotifyRef | None:
        """The item a short link points to (None: nothing we can judge, e.g. a podcast)."""
        if isinstance(item, SpotifyRef):
            return item
        return await self._resolve_short(item.url)

    async def spotify(self, ref: SpotifyRef) -> Subject:
        info = await self._spotify.lookup(ref)
        if isinstance(info, ArtistInfo):
            return await self._artist(info)
        return _cover_subject(info, await self.download(info.image_url))

    async def attachment(self, image: IncomingImage, source_kind: SourceKind) -> Subject:
        self._check_size(image.size)
        if image.data is not None:
            data = image.data
            self._check_size(len(data))
        elif image.url:
            data = await self.download(image.url)
        else:
            raise FetchError("no_data", "I couldn't get that image.")
        title = (image.filename or YOUR_IMAGE) if source_kind == "console" else YOUR_IMAGE
        source_ref = image.url or image.filename or "upload"
        return Subject([data], source_kind, source_ref, title, cover_url=image.url)

    async def url(self, url: str, source_kind: SourceKind) -> Subject:
        return Subject([await self.download(url)], source_kind, url, YOUR_IMAGE, cover_url=url)

    async def download(self, url: str) -> bytes:
        return await fetch_image(
            self._session,
            url,
            allow_private=self._config.allow_private,
            max_bytes=self._config.image_max_bytes,
            timeout=self._config.fetch_timeout,
        )

    async def _artist(self, info: ArtistInfo) -> Subject:
        covers = info.album_covers[:ARTIST_COVERS]
        results = await asyncio.gather(*(self.download(c.image_url) for c in covers), return_exceptions=True)
        images = [r for r in results if isinstance(r, bytes)]
        if not images:
            raise next(r for r in results if isinstance(r, BaseException))
        only_photo = all(c.kind == "artist" for c in covers)
        return Subject(
            images,
            "spotify",
            info.ref.url,
            info.name or "this artist",
            cover_url=covers[0].image_url,
            spotify_genres=tuple(info.genres),
            is_artist=True,
            photo_only=only_photo,
            note=ARTIST_PHOTO_NOTE if only_photo else None,
        )

    def _check_size(self, size: int | None) -> None:
        limit = self._config.image_max_bytes
        if size is not None and size > limit:
            raise FetchError("too_large", too_large_message(limit))


def _cover_subject(info: CoverInfo, data: bytes) -> Subject:
    title = " — ".join(part for part in (info.title, info.artist) if part) or f"this {info.ref.kind}"
    return Subject(
        [data],
        "spotify",
        info.ref.url,
        title,
        cover_url=info.image_url,
        spotify_genres=tuple(info.spotify_genres),
        release_date=info.release_date,
    )
