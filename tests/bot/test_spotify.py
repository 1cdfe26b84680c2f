import aiohttp
import pytest

from bot.cache import TTLCache
from bot.fetch import fetch_image
from bot.links import SpotifyRef
from bot.spotify import ArtistInfo, CoverInfo, SpotifyClient, SpotifyError
from tests.bot.conftest import FakeSpotify
from tests.bot.fake_spotify import (
    ALBUM_ID,
    ARTIST_ID,
    BARE_ALBUM_ID,
    BARE_ARTIST_ID,
    COVERS,
    IMAGELESS_ALBUM_ID,
    MISSING_ID,
    PLAYLIST_ID,
    SECOND_ALBUM_ID,
    TRACK_ID,
)

ALBUM = SpotifyRef("album", ALBUM_ID)
TRACK = SpotifyRef("track", TRACK_ID)
ARTIST = SpotifyRef("artist", ARTIST_ID)
PLAYLIST = SpotifyRef("playlist", PLAYLIST_ID)
ALBUM_PATH = f"/v1/albums/{ALBUM_ID}"


class Sleeps(list):
    """Records requested sleeps instead of sleeping."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture(params=["oembed", "web_api"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def make_client(session: aiohttp.ClientSession, fake_spotify: FakeSpotify, sleeps: Sleeps):
    def make(backend: str, **kwargs) -> SpotifyClient:
        credentials = {"client_id": "id", "client_secret": "secret"} if backend == "web_api" else {}
        return SpotifyClient(
            session,
            oembed_base=fake_spotify.base_url,
            api_base=f"{fake_spotify.base_url}/v1/",
            token_url=f"{fake_spotify.base_url}/api/token",
            sleep=sleeps,
            **credentials,
            **kwargs,
        )

    return make


def cover_url(fake: FakeSpotify, index: int, width: int | None = None) -> str:
    return fake.url(f"/image/{COVERS[index]}" + (f"?w={width}" if width else ""))


def api_path(backend: str, path: str) -> str:
    return path if backend == "web_api" else "/oembed"


# --- oEmbed -------------------------------------------------------------------------------------------


async def test_oembed_album(make_client, fake_spotify) -> None:
    info = await make_client("oembed").lookup(ALBUM)
    assert info == CoverInfo(ALBUM, "Lanterns at Dusk", None, None, cover_url(fake_spotify, 1), [], "album")


async def test_oembed_track_is_its_album_cover(make_client, fake_spotify) -> None:
    info = await make_client("oembed").lookup(TRACK)
    assert (info.title, info.image_url, info.kind) == ("Night Swim", cover_url(fake_spotify, 1), "album")


async def test_oembed_playlist(make_client, fake_spotify) -> None:
    info = await make_client("oembed").lookup(PLAYLIST)
    assert (info.title, info.image_url, info.kind) == ("Fresh Finds (fake)", cover_url(fake_spotify, 4), "playlist")


async def test_oembed_artist_is_one_photo(make_client, fake_spotify) -> None:
    info = await make_client("oembed").lookup(ARTIST)
    photo = CoverInfo(ARTIST, "The Velvet Lanterns", None, None, cover_url(fake_spotify, 0), [], "artist")
    assert info == ArtistInfo(ARTIST, "The Velvet Lanterns", [], [photo])


async def test_oembed_thumbnail_is_fetchable(make_client, session) -> None:
    info = await make_client("oembed").lookup(ALBUM)
    assert (await fetch_image(session, info.image_url, allow_private=True))[:3] == b"\xff\xd8\xff"


# --- Web API ----------------------------------------------------------------------------------------


async def test_api_album(make_client, fake_spotify) -> None:
    info = await make_client("web_api").lookup(ALBUM)
    assert info == CoverInfo(
        ALBUM,
        "Lanterns at Dusk",
        "The Velvet Lanterns",
        "2021-03-05",
        cover_url(fake_spotify, 1, 640),
        ["psychedelic rock", "indie rock"],
        "album",
    )
    assert fake_spotify.state.hits["/api/token"] == 1


async def test_api_album_without_development_mode_fields(make_client, fake_spotify) -> None:
    info = await make_client("web_api").lookup(SpotifyRef("album", BARE_ALBUM_ID))
    assert (info.title, info.artist, info.release_date, info.spotify_genres) == ("Demo Tapes", "Nobody Yet", None, [])


async def test_api_album_without_images(make_client) -> None:
    with pytest.raises(SpotifyError) as caught:
        await make_client("web_api").lookup(SpotifyRef("album", IMAGELESS_ALBUM_ID))
    assert caught.value.kind == "not_found"


async def test_api_album_survives_failing_genre_lookup(make_client, fake_spotify) -> None:
    fake_spotify.state.fail(f"/v1/artists/{ARTIST_ID}", status=500)
    info = await make_client("web_api").lookup(ALBUM)
    assert info.spotify_genres == [] and info.title == "Lanterns at Dusk"


async def test_api_track_is_its_album_cover(make_client, fake_spotify) -> None:
    info = await make_client("web_api").lookup(TRACK)
    assert info == CoverInfo(
        TRACK,
        "Night Swim",
        "The Velvet Lanterns",
        "2021-03-05",
        cover_url(fake_spotify, 1, 640),
        ["psychedelic rock", "indie rock"],
        "album",
    )


async def test_api_playlist_without_image_sizes(make_client, fake_spotify) -> None:
    info = await make_client("web_api").lookup(PLAYLIST)
    assert info == CoverInfo(PLAYLIST, "Fresh Finds (fake)", None, None, cover_url(fake_spotify, 4), [], "playlist")


async def test_api_artist_with_album_covers(make_client, fake_spotify) -> None:
    info = await make_client("web_api").lookup(ARTIST)
    assert isinstance(info, ArtistInfo)
    assert (info.name, info.genres) == ("The Velvet Lanterns", ["psychedelic rock", "indie rock"])
    assert [c.ref for c in info.album_covers] == [ALBUM, SpotifyRef("album", SECOND_ALBUM_ID)]
    assert [c.image_url for c in info.album_covers] == [cover_url(fake_spotify, i, 640) for i in (1, 2)]
    assert {c.kind for c in info.album_covers} == {"album"}


async def test_api_artist_without_albums_falls_back_to_photo(make_client, fake_spotify) -> None:
    ref = SpotifyRef("artist", BARE_ARTIST_ID)
    info = await make_client("web_api").lookup(ref)
    photo = CoverInfo(ref, "Nobody Yet", None, None, cover_url(fake_spotify, 5, 640), [], "artist")
    assert info == ArtistInfo(ref, "Nobody Yet", [], [photo])


async def test_api_artist_survives_failing_album_list(make_client, fake_spotify) -> None:
    fake_spotify.state.fail(f"/v1/artists/{ARTIST_ID}/albums", status=503)
    info = await make_client("web_api").lookup(ARTIST)
    assert [c.kind for c in info.album_covers] == ["artist"]


async def test_api_refreshes_an_expired_token_once(make_client, fake_spotify) -> None:
    client = make_client("web_api")
    await client.lookup(PLAYLIST)
    fake_spotify.state.expire_tokens()
    assert (await client.lookup(ALBUM)).title == "Lanterns at Dusk"
    assert fake_spotify.state.hits["/api/token"] == 2
    assert fake_spotify.state.hits[ALBUM_PATH] == 2


async def test_api_gives_up_after_one_refresh(make_client, fake_spotify) -> None:
    fake_spotify.state.accept_tokens = False
    with pytest.raises(SpotifyError) as caught:
        await make_client("web_api").lookup(ALBUM)
    assert caught.value.kind == "unavailable"
    assert (fake_spotify.state.hits["/api/token"], fake_spotify.state.hits[ALBUM_PATH]) == (2, 2)


async def test_api_token_endpoint_down(make_client, fake_spotify) -> None:
    fake_spotify.state.fail("/api/token", status=500)
    with pytest.raises(SpotifyError) as caught:
        await make_client("web_api").lookup(ALBUM)
    assert caught.value.kind == "unavailable"
    assert "sign in" in caught.value.user_message


# --- errors, both paths -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["album", "track", "artist", "playlist"])
async def test_not_found(make_client, backend, kind: str) -> None:
    with pytest.raises(SpotifyError) as caught:
        await make_client(backend).lookup(SpotifyRef(kind, MISSING_ID))
    assert caught.value.kind == "not_found"
    assert caught.value.user_message == "I couldn't find that on Spotify."


async def test_waits_out_a_short_retry_after(make_client, fake_spotify, sleeps, backend) -> None:
    fake_spotify.state.fail(api_path(backend, ALBUM_PATH), status=429, retry_after=2, times=1)
    assert (await make_client(backend).lookup(ALBUM)).title == "Lanterns at Dusk"
    assert sleeps == [2.0]


async def test_gives_up_on_a_long_retry_after(make_client, fake_spotify, sleeps, backend) -> None:
    fake_spotify.state.fail(api_path(backend, ALBUM_PATH), status=429, retry_after=30)
    with pytest.raises(SpotifyError) as caught:
        await make_client(backend, max_retry_after=5).lookup(ALBUM)
    assert caught.value.kind == "rate_limited"
    assert caught.value.user_message == "Spotify is busy right now — try again in a minute."
    assert sleeps == []


async def test_a_long_retry_after_is_respected_by_later_lookups(make_client, fake_spotify, sleeps, backend) -> None:
    path = api_path(backend, ALBUM_PATH)
    fake_spotify.state.fail(path, status=429, retry_after=30, times=1)
    client = make_client(backend, max_retry_after=5)
    for _ in range(3):
        with pytest.raises(SpotifyError) as caught:
            await client.lookup(ALBUM)
        assert caught.value.kind == "rate_limited"
    assert fake_spotify.state.hits[path] == 1  # the ban is remembered: no more calls for 30 s


async def test_gives_up_when_still_rate_limited(make_client, fake_spotify, sleeps, backend) -> None:
    fake_spotify.state.fail(api_path(backend, ALBUM_PATH), status=429)
    with pytest.raises(SpotifyError) as caught:
        await make_client(backend).lookup(ALBUM)
    assert caught.value.kind == "rate_limited"
    assert sleeps == [1.0]
    assert fake_spotify.state.hits[api_path(backend, ALBUM_PATH)] == 2


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ({"status": 500}, "unavailable"),
        ({"status": 503}, "unavailable"),
        ({"body": "malformed_json"}, "bad_response"),
        ({"delay": 0.5}, "unavailable"),
    ],
)
async def test_server_faults(make_client, fake_spotify, backend, fault: dict, kind: str) -> None:
    fake_spotify.state.fail(api_path(backend, ALBUM_PATH), **fault)
    with pytest.raises(SpotifyError) as caught:
        await make_client(backend, timeout=0.1).lookup(ALBUM)
    assert caught.value.kind == kind
    assert caught.value.user_message


async def test_unreachable(session, backend) -> None:
    client = SpotifyClient(
        session,
        oembed_base="http://127.0.0.1:1",
        api_base="http://127.0.0.1:1/v1/",
        token_url="http://127.0.0.1:1/api/token",
        **({"client_id": "id", "client_secret": "secret"} if backend == "web_api" else {}),
    )
    with pytest.raises(SpotifyError) as caught:
        await client.lookup(ALBUM)
    assert caught.value.kind == "unavailable"


# --- caching ------------------------------------------------------------------------------------------


async def test_second_lookup_is_cached(make_client, fake_spotify, backend) -> None:
    client = make_client(backend)
    first = await client.lookup(ALBUM)
    hits = sum(fake_spotify.state.hits.values())
    assert await client.lookup(SpotifyRef("album", ALBUM_ID)) == first
    assert sum(fake_spotify.state.hits.values()) == hits


async def test_errors_are_not_cached(make_client, fake_spotify) -> None:
    client = make_client("oembed")
    fake_spotify.state.fail("/oembed", status=500, times=1)
    with pytest.raises(SpotifyError):
        await client.lookup(ALBUM)
    assert (await client.lookup(ALBUM)).title == "Lanterns at Dusk"


async def test_oembed_401_is_a_friendly_error(make_client, fake_spotify) -> None:
    fake_spotify.state.fail("/oembed", status=401)
    with pytest.raises(SpotifyError) as caught:
        await make_client("oembed").lookup(ALBUM)
    assert caught.value.kind == "unavailable"


def test_cache_expires_entries() -> None:
    now = [0.0]
    cache: TTLCache[str, int] = TTLCache(maxsize=4, ttl=10.0, clock=lambda: now[0])
    cache.put("a", 1)
    now[0] = 9.9
    assert cache.get("a") == 1
    now[0] = 10.0
    assert cache.get("a") is None and len(cache) == 0


def test_cache_evicts_least_recently_used() -> None:
    cache: TTLCache[str, int] = TTLCache(maxsize=2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.get("a")
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
