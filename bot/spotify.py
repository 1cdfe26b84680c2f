"""Cover art and metadata for a SpotifyRef: oEmbed without credentials, the Web API with them.

Spotify trims fields for Development-Mode apps (popularity, genres, …), so every field of a
Web API answer is treated as optional: a missing one degrades the result, it is not an error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

import aiohttp
import requests
import spotipy
from spotipy.cache_handler import MemoryCacheHandler
from spotipy.exceptions import SpotifyException, SpotifyOauthError
from spotipy.oauth2 import SpotifyClientCredentials

from bot.cache import TTLCache
from bot.links import SpotifyRef

ErrorKind = Literal["not_found", "rate_limited", "unavailable", "bad_response"]
PictureKind = Literal["album", "playlist", "artist"]

DEFAULT_OEMBED_BASE = "https://open.spotify.com"
DEFAULT_API_BASE = "https://api.spotify.com/v1/"
DEFAULT_TOKEN_URL = "https://accounts.spotify.com/api/token"
MAX_IMAGE_WIDTH = 640
ARTIST_ALBUMS = 10
DEFAULT_RETRY_AFTER = 1.0

_MESSAGES: dict[ErrorKind, str] = {
    "not_found": "I couldn't find that on Spotify.",
    "rate_limited": "Spotify is busy right now — try again in a minute.",
    "unavailable": "Spotify isn't answering right now — try again later.",
    "bad_response": "Spotify sent me something I couldn't read — try again later.",
}

T = TypeVar("T")


@dataclass(frozen=True)
class CoverInfo:
    """One picture and what it belongs to. kind says what the picture is (an artist's photo
    is not a cover); ref is what was looked up, so for a track the picture is its album's cover."""

    ref: SpotifyRef
    title: str
    artist: str | None
    release_date: str | None
    image_url: str
    spotify_genres: list[str]
    kind: PictureKind


@dataclass(frozen=True)
class ArtistInfo:
    """An artist and up to ten of their album covers (or just their photo, without the Web API)."""

    ref: SpotifyRef
    name: str
    genres: list[str]
    album_covers: list[CoverInfo]


class SpotifyError(Exception):
    """A lookup failed; user_message is fit to show a person."""

    def __init__(self, kind: ErrorKind, user_message: str | None = None) -> None:
        self.kind = kind
        self.user_message = user_message or _MESSAGES[kind]
        super().__init__(self.user_message)


class SpotifyClient:
    """Looks up covers, with results cached by ref (TTL + LRU)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        oembed_base: str = DEFAULT_OEMBED_BASE,
        api_base: str = DEFAULT_API_BASE,
        token_url: str = DEFAULT_TOKEN_URL,
        timeout: float = 10.0,
        max_retry_after: float = 5.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        cache_ttl: float = 3600.0,
        cache_size: int = 512,
    ) -> None:
        retry = _RateLimitRetry(max_retry_after, sleep)
        self._backend: _Backend
        if client_id and client_secret:
            self._backend = _WebApi(client_id, client_secret, api_base, token_url, timeout, retry)
        else:
            self._backend = _OEmbed(session, oembed_base, timeout, retry)
        self._cache: TTLCache[SpotifyRef, CoverInfo | ArtistInfo] = TTLCache(cache_size, cache_ttl)

    async def lookup(self, ref: SpotifyRef) -> CoverInfo | ArtistInfo:
        """CoverInfo for albums, tracks and playlists, ArtistInfo for artists; or SpotifyError."""
        result = self._cache.get(ref)
        if result is None:
            result = await self._backend.lookup(ref)
            self._cache.put(ref, result)
        return result


class _Backend(Protocol):
    async def lookup(self, ref: SpotifyRef) -> CoverInfo | ArtistInfo: ...


class _RateLimited(Exception):
    def __init__(self, retry_after: float | None) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class _Unauthorized(Exception):
    pass


class _RateLimitRetry:
    """On a 429, wait Retry-After once when it is short enough, then give up.

    A longer Retry-After is remembered: until it has passed, every lookup fails fast instead of
    asking Spotify again (which would only extend the ban).
    """

    def __init__(self, max_wait: float, sleep: Callable[[float], Awaitable[None]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._max_wait = max_wait
        self._sleep = sleep
        self._clock = clock
        self._blocked_until = 0.0

    async def call(self, request: Callable[[], Awaitable[T]]) -> T:
        if self._clock() < self._blocked_until:
            raise SpotifyError("rate_limited")
        try:
            return await request()
        except _RateLimited as exc:
            wait = DEFAULT_RETRY_AFTER if exc.retry_after is None else exc.retry_after
            if wait > self._max_wait:
                self._blocked_until = self._clock() + wait
                raise SpotifyError("rate_limited") from exc
            await self._sleep(wait)
        try:
            return await request()
        except _RateLimited as exc:
            wait = DEFAULT_RETRY_AFTER if exc.retry_after is None else exc.retry_after
            self._blocked_until = self._clock() + wait
            raise SpotifyError("rate_limited") from exc


class _OEmbed:
    """GET {base}/oembed?url=…: the title and a 300 px thumbnail, no credentials needed."""

    def __init__(self, session: aiohttp.ClientSession, base: str, timeout: float, retry: _RateLimitRetry) -> None:
        self._session = session
        self._url = base.rstrip("/") + "/oembed"
        self._timeout = timeout
        self._retry = retry

    async def lookup(self, ref: SpotifyRef) -> CoverInfo | ArtistInfo:
        data = await self._retry.call(lambda: self._get(ref))
        return _from_oembed(ref, data)

    async def _get(self, ref: SpotifyRef) -> dict[str, Any]:
        try:
            async with asyncio.timeout(self._timeout):
                async with self._session.get(self._url, params={"url": ref.url}) as response:
                    if response.status == 401:  # oEmbed needs no token, so there is nothing to refresh
                        raise SpotifyError("unavailable")
                    if response.status != 200:
                        raise _error_for_status(response.status, response.headers.get("Retry-After"))
                    data = await response.json(content_type=None)
        except TimeoutError as exc:
            raise SpotifyError("unavailable", "Spotify took too long to answer — try again later.") from exc
        except aiohttp.ClientError as exc:
            raise SpotifyError("unavailable") from exc
        except ValueError as exc:
            raise SpotifyError("bad_response") from exc
        return _require_dict(data)


class _ClientCredentials(SpotifyClientCredentials):
    """Client-credentials flow against a configurable token URL, token kept in memory."""

    def __init__(
        self, client_id: str, client_secret: str, token_url: str, session: requests.Session, timeout: float
    ) -> None:
        super().__init__(
            client_id,
            client_secret,
            requests_session=session,
            requests_timeout=timeout,
            cache_handler=MemoryCacheHandler(),
        )
        self.OAUTH_TOKEN_URL = token_url

    def refresh(self) -> None:
        self.get_access_token(as_dict=False, check_cache=False)


class _WebApi:
    """spotipy in worker threads (it is synchronous), one token refresh on a 401."""

    def __init__(
        self, client_id: str, client_secret: str, api_base: str, token_url: str, timeout: float, retry: _RateLimitRetry
    ) -> None:
        # A plain requests.Session, not spotipy's: its urllib3 retry adapter would sleep on
        # 429/5xx by itself and then report "Max Retries" without the Retry-After header.
        http = requests.Session()
        self._auth = _ClientCredentials(client_id, client_secret, token_url, http, timeout)
        self._sp = spotipy.Spotify(auth_manager=self._auth, requests_session=http, requests_timeout=timeout)
        self._sp.prefix = api_base if api_base.endswith("/") else api_base + "/"
        self._retry = retry

    async def lookup(self, ref: SpotifyRef) -> CoverInfo | ArtistInfo:
        if ref.kind == "album":
            return await self._album(ref)
        if ref.kind == "track":
            return await self._track(ref)
        if ref.kind == "playlist":
            return await self._playlist(ref)
        return await self._artist(ref)

    async def _album(self, ref: SpotifyRef) -> CoverInfo:
        album = await self._call(self._sp.album, ref.id)
        genres = _genres(album) or await self._artist_genres(album)
        return _cover(ref, album, album, genres, "album")

    async def _track(self, ref: SpotifyRef) -> CoverInfo:
        track = await self._call(self._sp.track, ref.id)
        album = _dict(track, "album")
        return _cover(ref, track, album, await self._artist_genres(track), "album")

    async def _playlist(self, ref: SpotifyRef) -> CoverInfo:
        playlist = await self._call(self._sp.playlist, ref.id, fields="name,images")
        return _cover(ref, playlist, playlist, [], "playlist")

    async def _artist(self, ref: SpotifyRef) -> ArtistInfo:
        artist = await self._call(self._sp.artist, ref.id)
        name = _text(artist, "name") or ""
        genres = _genres(artist)
        albums = await self._artist_albums(ref)
        covers = [cover for item in albums if (cover := _artist_album_cover(item, genres)) is not None]
        if not covers:
            covers = [_cover(ref, artist, artist, genres, "artist")]
        return ArtistInfo(ref, name, genres, covers)

    async def _artist_genres(self, item: dict[str, Any]) -> list[str]:
        """The first artist's genres; optional, so any failure just means no genres."""
        artists = item.get("artists")
        first = artists[0] if isinstance(artists, list) and artists and isinstance(artists[0], dict) else {}
        artist_id = _text(first, "id")
        if artist_id is None:
            return []
        try:
            return _genres(await self._call(self._sp.artist, artist_id))
        except SpotifyError:
            return []

    async def _artist_albums(self, ref: SpotifyRef) -> list[Any]:
        """Optional too: without albums the artist's own photo stands in."""
        try:
            page = await self._call(self._sp.artist_albums, ref.id, include_groups="album,single", limit=ARTIST_ALBUMS)
        except SpotifyError:
            return []
        items = page.get("items")
        return items[:ARTIST_ALBUMS] if isinstance(items, list) else []

    async def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        return await self._retry.call(lambda: self._call_refreshing(lambda: method(*args, **kwargs)))

    async def _call_refreshing(self, call: Callable[[], Any]) -> dict[str, Any]:
        try:
            return _require_dict(await _in_thread(call))
        except _Unauthorized:
            await _in_thread(self._auth.refresh)
        try:
            return _require_dict(await _in_thread(call))
        except _Unauthorized as exc:
            raise SpotifyError("unavailable", "Spotify turned down the bot's credentials.") from exc


async def _in_thread(call: Callable[[], T]) -> T:
    """Run a spotipy call off the event loop, translating its exceptions."""
    try:
        return await asyncio.to_thread(call)
    except SpotifyException as exc:
        raise _error_for_status(exc.http_status, exc.headers.get("Retry-After")) from exc
    except SpotifyOauthError as exc:
        raise SpotifyError("unavailable", "I couldn't sign in to Spotify — try again later.") from exc
    except requests.Timeout as exc:
        raise SpotifyError("unavailable", "Spotify took too long to answer — try again later.") from exc
    except requests.RequestException as exc:
        raise SpotifyError("unavailable") from exc
    except (ValueError, KeyError, TypeError) as exc:  # spotipy choking on a malformed token answer
        raise SpotifyError("bad_response") from exc


def _error_for_status(status: int, retry_after: str | None) -> Exception:
    if status in (400, 404):  # Spotify answers 400 "invalid id" for IDs that never existed
        return SpotifyError("not_found")
    if status == 401:
        return _Unauthorized()
    if status == 429:
        return _RateLimited(_parse_retry_after(retry_after))
    return SpotifyError("unavailable")


def _parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header; the HTTP-date form is rare enough to treat as unknown."""
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _from_oembed(ref: SpotifyRef, data: dict[str, Any]) -> CoverInfo | ArtistInfo:
    title = _text(data, "title") or ""
    image_url = _text(data, "thumbnail_url")
    if image_url is None:
        raise _no_picture()
    if ref.kind == "artist":
        photo = CoverInfo(ref, title, None, None, image_url, [], "artist")
        return ArtistInfo(ref, title, [], [photo])
    kind: PictureKind = "playlist" if ref.kind == "playlist" else "album"
    return CoverInfo(ref, title, None, None, image_url, [], kind)


def _cover(
    ref: SpotifyRef, item: dict[str, Any], pictured: dict[str, Any], genres: list[str], kind: PictureKind
) -> CoverInfo:
    """CoverInfo named after item, with the picture and release date of pictured."""
    image_url = _pick_image(pictured.get("images"))
    if image_url is None:
        raise _no_picture()
    return CoverInfo(
        ref=ref,
        title=_text(item, "name") or "",
        artist=_artist_names(item),
        release_date=_text(pictured, "release_date"),
        image_url=image_url,
        spotify_genres=genres,
        kind=kind,
    )


def _artist_album_cover(item: Any, genres: list[str]) -> CoverInfo | None:
    if not isinstance(item, dict):
        return None
    try:
        ref = SpotifyRef("album", _text(item, "id") or "")
        return _cover(ref, item, item, genres, "album")
    except (ValueError, SpotifyError):
        return None


def _pick_image(images: Any) -> str | None:
    """The largest image no wider than 640 px, else the first one."""
    if not isinstance(images, list):
        return None
    usable = [image for image in images if isinstance(image, dict) and _text(image, "url")]
    sized = [image for image in usable if isinstance(image.get("width"), int) and image["width"] <= MAX_IMAGE_WIDTH]
    if sized:
        return _text(max(sized, key=lambda image: image["width"]), "url")
    return _text(usable[0], "url") if usable else None


def _artist_names(item: dict[str, Any]) -> str | None:
    artists = item.get("artists")
    if not isinstance(artists, list):
        return None
    names = [name for artist in artists if isinstance(artist, dict) and (name := _text(artist, "name"))]
    return ", ".join(names) or None


def _genres(item: dict[str, Any]) -> list[str]:
    genres = item.get("genres")
    return [genre for genre in genres if isinstance(genre, str) and genre] if isinstance(genres, list) else []


def _text(item: dict[str, Any], key: str) -> str | None:
    value = item.get(key)
    return value if isinstance(value, str) and value else None


def _dict(item: dict[str, Any], key: str) -> dict[str, Any]:
    value = item.get(key)
    return value if isinstance(value, dict) else {}


def _require_dict(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):  # spotipy returns None for a body that is not JSON
        raise SpotifyError("bad_response")
    return data


def _no_picture() -> SpotifyError:
    return SpotifyError("not_found", "Spotify has no picture for that.")
