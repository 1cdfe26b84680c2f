"""A fake Spotify on 127.0.0.1 for tests, speaking the real JSON shapes.

Routes: oEmbed (/oembed), the accounts token endpoint (POST /api/token), the Web API
(/v1/albums|tracks|artists|playlists/{id}, /v1/artists/{id}/albums), an image CDN (/image/{name})
serving real covers from ../shared/data, short links (/short/{code}) and redirects (/redirect,
/hops/{n}). Faults are switched on per request path with FakeState.fail().
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import re
import socket
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from PIL import Image

COVERS_DIR = Path(__file__).resolve().parents[2].parent / "shared/data/covers-spotify-fresh/images"
HUGE_BYTES = 50 * 1024 * 1024

Item = TypeVar("Item")
BodyFault = Literal["malformed_json", "not_image", "wrong_type", "huge", "huge_declared"]


@dataclass
class Fault:
    """What to do instead of answering normally. times=None: on every request."""

    status: int | None = None
    retry_after: int | None = None
    delay: float = 0.0
    body: BodyFault | None = None
    times: int | None = None


@dataclass
class FakeState:
    faults: dict[str, Fault] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    valid_tokens: set[str] = field(default_factory=set)
    tokens_issued: int = 0
    accept_tokens: bool = True

    def fail(self, path: str, **fault: Any) -> None:
        self.faults[path] = Fault(**fault)

    def expire_tokens(self) -> None:
        """Every token issued so far now gets a 401, once per client until it refreshes."""
        self.valid_tokens.clear()

    def take_fault(self, path: str) -> Fault | None:
        fault = self.faults.get(path)
        if fault is not None and fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                del self.faults[path]
        return fault


# --- the catalog --------------------------------------------------------------------------------

COVERS = (
    "0044fb265e96805e.jpg",
    "006d48f8f6398924.jpg",
    "00bfcc7c867c42df.jpg",
    "00e4020c49ddc424.jpg",
    "012f6cbb2dd42869.jpg",
    "013ed50c99d6e22d.jpg",
)

ARTIST_ID = "0k17h0D3J5VfsdmQ1iZtE9"
BARE_ARTIST_ID = "3WrFJ7ztbogyGnTHbHJFl2"
ALBUM_ID = "2noRn2Aes5aoNVsU6iWThc"
SECOND_ALBUM_ID = "6dVIqQ8qmQ5GBnJ9shOYGE"
BARE_ALBUM_ID = "1ATL5GLyefJaxhQzSPVrLX"
IMAGELESS_ALBUM_ID = "5Z9iiGl2FcIfa3BMiv6OIw"
TRACK_ID = "7ouMYWpwJ422jRcDASZB7P"
PLAYLIST_ID = "37i9dQZF1DXcBWIGoYBM5M"
MISSING_ID = "0000000000000000000000"


@dataclass(frozen=True)
class FakeArtist:
    id: str
    name: str
    genres: list[str] | None  # None: the key is missing, as for Development-Mode apps
    photo: str
    album_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class FakeAlbum:
    id: str
    name: str
    artist_id: str
    release_date: str | None
    cover: str | None
    dev_mode: bool = False  # drop the fields Spotify no longer sends to Development-Mode apps


@dataclass(frozen=True)
class FakeTrack:
    id: str
    name: str
    album_id: str


@dataclass(frozen=True)
class FakePlaylist:
    id: str
    name: str
    cover: str


ARTISTS = {
    a.id: a
    for a in (
        FakeArtist(
            ARTIST_ID, "The Velvet Lanterns", ["psychedelic rock", "indie rock"], COVERS[0], (ALBUM_ID, SECOND_ALBUM_ID)
        ),
        FakeArtist(BARE_ARTIST_ID, "Nobody Yet", None, COVERS[5]),
    )
}
ALBUMS = {
    a.id: a
    for a in (
        FakeAlbum(ALBUM_ID, "Lanterns at Dusk", ARTIST_ID, "2021-03-05", COVERS[1]),
        FakeAlbum(SECOND_ALBUM_ID, "Second Light", ARTIST_ID, "2023", COVERS[2]),
        FakeAlbum(BARE_ALBUM_ID, "Demo Tapes", BARE_ARTIST_ID, None, COVERS[3], dev_mode=True),
        FakeAlbum(IMAGELESS_ALBUM_ID, "No Artwork", BARE_ARTIST_ID, "2020-01-01", None, dev_mode=True),
    )
}
TRACKS = {t.id: t for t in (FakeTrack(TRACK_ID, "Night Swim", ALBUM_ID),)}
PLAYLISTS = {p.id: p for p in (FakePlaylist(PLAYLIST_ID, "Fresh Finds (fake)", COVERS[4]),)}


# --- JSON in the Web API's shapes -----------------------------------------------------------------


def _external(kind: str, item_id: str) -> dict[str, Any]:
    return {
        "external_urls": {"spotify": f"https://open.spotify.com/{kind}/{item_id}"},
        "href": f"https://api.spotify.com/v1/{kind}s/{item_id}",
        "id": item_id,
        "type": kind,
        "uri": f"spotify:{kind}:{item_id}",
    }


def _images(origin: str, cover: str | None) -> list[dict[str, Any]]:
    if cover is None:
        return []
    return [{"url": f"{origin}/image/{cover}?w={size}", "height": size, "width": size} for size in (640, 300, 64)]


def simplified_artist(artist: FakeArtist) -> dict[str, Any]:
    return {**_external("artist", artist.id), "name": artist.name}


def simplified_album(origin: str, album: FakeAlbum) -> dict[str, Any]:
    data = {
        **_external("album", album.id),
        "album_type": "album",
        "total_tracks": 1,
        "available_markets": ["DE", "GB", "US"],
        "images": _images(origin, album.cover),
        "name": album.name,
        "release_date": album.release_date,
        "release_date_precision": "day",
        "artists": [simplified_artist(ARTISTS[album.artist_id])],
    }
    if album.release_date is None:
        del data["release_date"], data["release_date_precision"]
    if album.dev_mode:
        del data["available_markets"]
    return data


def album_json(origin: str, album: FakeAlbum) -> dict[str, Any]:
    tracks = [t for t in TRACKS.values() if t.album_id == album.id]
    data = {
        **simplified_album(origin, album),
        "tracks": {
            "href": f"https://api.spotify.com/v1/albums/{album.id}/tracks?offset=0&limit=50",
            "limit": 50,
            "next": None,
            "offset": 0,
            "previous": None,
            "total": len(tracks),
            "items": [_simplified_track(t) for t in tracks],
        },
        "copyrights": [{"text": f"2021 {ARTISTS[album.artist_id].name}", "type": "C"}],
        "external_ids": {"upc": "0602547373810"},
        "genres": [],
        "label": "Fake Records",
        "popularity": 61,
    }
    if album.dev_mode:
        for key in ("external_ids", "genres", "label", "popularity"):
            del data[key]
    return data


def _simplified_track(track: FakeTrack) -> dict[str, Any]:
    return {
        **_external("track", track.id),
        "artists": [simplified_artist(ARTISTS[ALBUMS[track.album_id].artist_id])],
        "disc_number": 1,
        "duration_ms": 215_000,
        "explicit": False,
        "is_local": False,
        "name": track.name,
        "preview_url": None,
        "track_number": 1,
    }


def track_json(origin: str, track: FakeTrack) -> dict[str, Any]:
    return {**_simplified_track(track), "album": simplified_album(origin, ALBUMS[track.album_id]), "popularity": 48}


def artist_json(origin: str, artist: FakeArtist) -> dict[str, Any]:
    data = {
        **simplified_artist(artist),
        "followers": {"href": None, "total": 12_345},
        "genres": artist.genres,
        "images": _images(origin, artist.photo),
        "popularity": 52,
    }
    if artist.genres is None:
        for key in ("followers", "genres", "popularity"):
            del data[key]
    return data


def artist_albums_json(origin: str, artist: FakeArtist) -> dict[str, Any]:
    return {
        "href": f"https://api.spotify.com/v1/artists/{artist.id}/albums?offset=0&limit=10",
        "items": [{**simplified_album(origin, ALBUMS[i]), "album_group": "album"} for i in artist.album_ids],
        "limit": 10,
        "next": None,
        "offset": 0,
        "previous": None,
        "total": len(artist.album_ids),
    }


def playlist_json(origin: str, playlist: FakePlaylist) -> dict[str, Any]:
    return {
        **_external("playlist", playlist.id),
        "collaborative": False,
        "description": "New music from independent artists.",
        "followers": {"href": None, "total": 1_000},
        # Playlist images often come without dimensions.
        "images": [{"url": f"{origin}/image/{playlist.cover}", "height": None, "width": None}],
        "name": playlist.name,
        "owner": {**_external("user", "spotify"), "display_name": "Spotify"},
        "primary_color": None,
        "public": True,
        "snapshot_id": "MTY3ODk2NTQzMiwwMDAwMDAwMGQ0MWQ4Y2Q5OGYwMGIyMDRlOTgwMDk5OGVjZjg0Mjdl",
        "tracks": {"href": "", "items": [], "limit": 100, "next": None, "offset": 0, "previous": None, "total": 0},
    }


def oembed_json(origin: str, kind: str, item_id: str) -> dict[str, Any] | None:
    if kind == "album" and item_id in ALBUMS:
        title, cover = ALBUMS[item_id].name, ALBUMS[item_id].cover
    elif kind == "track" and item_id in TRACKS:
        title, cover = TRACKS[item_id].name, ALBUMS[TRACKS[item_id].album_id].cover
    elif kind == "artist" and item_id in ARTISTS:
        title, cover = ARTISTS[item_id].name, ARTISTS[item_id].photo
    elif kind == "playlist" and item_id in PLAYLISTS:
        title, cover = PLAYLISTS[item_id].name, PLAYLISTS[item_id].cover
    else:
        return None
    embed = f"https://open.spotify.com/embed/{kind}/{item_id}?utm_source=oembed"
    height = 152 if kind == "track" else 352
    data: dict[str, Any] = {
        "html": (
            f'<iframe style="border-radius: 12px" width="100%" height="{height}" title="Spotify Embed: {title}" '
            'frameborder="0" allowfullscreen allow="autoplay; clipboard-write; encrypted-media; fullscreen; '
            f'picture-in-picture" loading="lazy" src="{embed}"></iframe>'
        ),
        "iframe_url": embed,
        "width": 456,
        "height": height,
        "version": "1.0",
        "provider_name": "Spotify",
        "provider_url": "https://spotify.com",
        "type": "rich",
        "title": title,
    }
    if cover is not None:
        data |= {"thumbnail_url": f"{origin}/image/{cover}", "thumbnail_width": 300, "thumbnail_height": 300}
    return data


# --- images ----------------------------------------------------------------------------------------


def cover_bytes(name: str) -> bytes | None:
    """A real cover from the shared set; without the set, a generated stand-in for the catalogue's
    covers (COVERS) and None for any other name, as the real CDN answers 404 for an unknown image."""
    if COVERS_DIR.is_dir():
        path = COVERS_DIR / name
        return path.read_bytes() if path.is_file() else None
    if name not in COVERS:
        return None
    shade = hashlib.sha256(name.encode()).digest()[:3]
    buffer = io.BytesIO()
    Image.new("RGB", (300, 300), tuple(shade)).save(buffer, "JPEG")
    return buffer.getvalue()


# --- the application ---------------------------------------------------------------------------------

_OPEN_URL = re.compile(r"open\.spotify\.com/(album|track|artist|playlist)/([0-9A-Za-z]{22})")
_COVER_NAME = re.compile(r"[0-9a-f]{16}\.jpg")
STATE_KEY = web.AppKey("state", FakeState)


def create_app(state: FakeState) -> web.Application:
    app = web.Application(middlewares=[_faults])
    app[STATE_KEY] = state
    app.router.add_get("/oembed", _oembed)
    app.router.add_post("/api/token", _token)
    app.router.add_get("/v1/albums/{id}", _api(ALBUMS, album_json))
    app.router.add_get("/v1/tracks/{id}", _api(TRACKS, track_json))
    app.router.add_get("/v1/artists/{id}", _api(ARTISTS, artist_json))
    app.router.add_get("/v1/artists/{id}/albums", _api(ARTISTS, artist_albums_json))
    app.router.add_get("/v1/playlists/{id}", _api(PLAYLISTS, playlist_json))
    app.router.add_get("/image/{name}", _image)
    app.router.add_get("/short/{code}", _short_link)
    app.router.add_get("/redirect", _redirect)
    app.router.add_get("/hops/{n:\\d+}", _hops)
    return app


@web.middleware
async def _faults(request: web.Request, handler: Any) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    state.hits[request.path] += 1
    fault = state.take_fault(request.path)
    if fault is None:
        return await handler(request)
    await asyncio.sleep(fault.delay)
    if fault.status is not None:
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        return _error(fault.status, "Injected fault", headers)
    if fault.body is not None:
        return await _faulty_body(request, fault.body)
    return await handler(request)


async def _faulty_body(request: web.Request, body: BodyFault) -> web.StreamResponse:
    if body == "malformed_json":
        return web.Response(text='{"name": "Lanterns at Dusk", "images": [', content_type="application/json")
    if body == "not_image":
        return web.Response(body=b"<!doctype html><title>Not a cover</title>", content_type="image/jpeg")
    if body == "wrong_type":
        return web.Response(body=cover_bytes(COVERS[0]), content_type="text/html")
    if body == "huge":
        return await _huge(request)
    return await _huge_declared(request)


_HUGE_CHUNK = b"\xff\xd8\xff" + bytes(64 * 1024 - 3)


async def _huge(request: web.Request) -> web.StreamResponse:
    """50 MB of "JPEG" without a Content-Length, streamed, so a client that stops reading costs little."""
    response = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
    await response.prepare(request)
    try:
        for _ in range(HUGE_BYTES // len(_HUGE_CHUNK)):
            await response.write(_HUGE_CHUNK)
    except ConnectionError:
        pass
    return response


async def _huge_declared(request: web.Request) -> web.StreamResponse:
    """Content-Length: 50 MB, then the first chunk and a stall: only a client that trusts the header
    refuses at once; one that counts bytes would wait for the rest."""
    response = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
    response.content_length = HUGE_BYTES
    await response.prepare(request)
    try:
        await response.write(_HUGE_CHUNK)
        await asyncio.sleep(3600)  # cancelled when the client hangs up
    except ConnectionError:
        pass
    return response


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": {"status": status, "message": message}}, status=status, headers=headers)


def _origin(request: web.Request) -> str:
    return str(request.url.origin())


async def _oembed(request: web.Request) -> web.Response:
    match = _OPEN_URL.search(request.query.get("url", ""))
    data = oembed_json(_origin(request), match[1], match[2]) if match else None
    if data is None:
        return web.Response(status=404, text="Not Found")
    return web.json_response(data)


async def _token(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    form = await request.post()
    basic_auth = request.headers.get("Authorization", "").startswith("Basic ")
    if not basic_auth or form.get("grant_type") != "client_credentials":
        return web.json_response({"error": "invalid_client", "error_description": "Invalid client"}, status=400)
    state.tokens_issued += 1
    token = base64.urlsafe_b64encode(f"fake-token-{state.tokens_issued}".encode()).decode()
    state.valid_tokens.add(token)
    return web.json_response({"access_token": token, "token_type": "Bearer", "expires_in": 3600})


def _authorized(request: web.Request) -> web.Response | None:
    """None when the bearer token is good, else the Web API's 401."""
    state = request.app[STATE_KEY]
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return _error(401, "No token provided")
    if not state.accept_tokens or header.removeprefix("Bearer ") not in state.valid_tokens:
        return _error(401, "The access token expired")
    return None


def _api(
    catalog: dict[str, Item], build: Callable[[str, Item], dict[str, Any]]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A Web API GET handler: bearer token, then 400 for a malformed ID, 404 for an unknown one."""

    async def handler(request: web.Request) -> web.Response:
        if (denied := _authorized(request)) is not None:
            return denied
        item_id = request.match_info["id"]
        if not re.fullmatch(r"[0-9A-Za-z]{22}", item_id):
            return _error(400, "Invalid base62 id")
        if item_id not in catalog:
            return _error(404, "Resource not found")
        return web.json_response(build(_origin(request), catalog[item_id]))

    return handler


async def _image(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    data = cover_bytes(name) if _COVER_NAME.fullmatch(name) else None
    if data is None:
        return web.Response(status=404, text="Not Found")
    return web.Response(body=data, content_type="image/jpeg")


async def _short_link(request: web.Request) -> web.Response:
    """spotify.link and spoti.fi: redirect chains and a landing page, keyed by code."""
    here = request.url
    targets = {
        "chain": str(here.with_host("spoti.fi").with_path("/short/to-album")),
        "to-album": f"https://open.spotify.com/album/{ALBUM_ID}?si=Wl3vFo2sS9aCwz7b",
        "app-uri": f"spotify:track:{TRACK_ID}",
        "episode": "https://open.spotify.com/episode/4rOoJ6Egrf8K2IrywzwOMk",
        "elsewhere": str(here.with_host("covers.example").with_path("/hops/0")),
        "loop": str(here),
    }
    code = request.match_info["code"]
    if code in targets:
        raise web.HTTPTemporaryRedirect(targets[code])
    if code == "page":
        page = _landing_page(f"https://open.spotify.com/playlist/{PLAYLIST_ID}")
        return web.Response(text=page, content_type="text/html")
    return web.Response(status=404, text="Not Found")


def _landing_page(url: str) -> str:
    return (
        "<!doctype html><html><head><title>Spotify</title>"
        f'<meta property="og:url" content="{url}"><link rel="canonical" href="{url}">'
        "</head><body>Opening Spotify…</body></html>"
    )


async def _redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound(request.query["to"])


async def _hops(request: web.Request) -> web.Response:
    """/hops/N redirects N times, then serves a cover."""
    n = int(request.match_info["n"])
    if n == 0:
        return web.Response(body=cover_bytes(COVERS[1]), content_type="image/jpeg")
    raise web.HTTPFound(f"/hops/{n - 1}")


class StaticResolver(AbstractResolver):
    """Resolves a fixed set of names and nothing else, so no test ever reaches real DNS."""

    def __init__(self, addresses: dict[str, str]) -> None:
        self._addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        address = self._addresses.get(host)
        if address is None:
            raise socket.gaierror(socket.EAI_NONAME, f"{host}: name not known to the fake resolver")
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [ResolveResult(hostname=host, host=address, port=port, family=family, proto=0, flags=0)]

    async def close(self) -> None:
        pass
