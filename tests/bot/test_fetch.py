from pathlib import Path

import aiohttp
import pytest

from bot.fetch import (
    FetchError,
    create_session,
    fetch_image,
    is_public_address,
    is_trusted_host,
    looks_like_image,
    resolve_short_link,
)
from bot.links import SpotifyRef
from models.image import load_image
from tests.bot.conftest import FakeSpotify
from tests.bot.fake_spotify import (
    ALBUM_ID,
    COVERS,
    PLAYLIST_ID,
    TRACK_ID,
    StaticResolver,
)

COVER = f"/image/{COVERS[1]}"
PUBLIC_IP = "93.184.216.34"
# For the SSRF pre-check covers.example is public; the pinned session still connects to 127.0.0.1.
PUBLIC_DNS = StaticResolver({"covers.example": PUBLIC_IP})


async def fetch_local(session: aiohttp.ClientSession, fake: FakeSpotify, path: str, **kwargs) -> bytes:
    return await fetch_image(session, fake.url(path), allow_private=True, **kwargs)


async def expect_error(reason: str, call) -> FetchError:
    with pytest.raises(FetchError) as caught:
        await call
    assert caught.value.reason == reason
    assert caught.value.user_message
    return caught.value


# --- happy paths ------------------------------------------------------------------------------------


async def test_fetches_a_real_cover(session, fake_spotify, spotify_dir: Path) -> None:
    data = await fetch_local(session, fake_spotify, COVER)
    assert data == (spotify_dir / "images" / COVERS[1]).read_bytes()
    assert load_image(data).size == (300, 300)


async def test_follows_redirects_up_to_the_limit(session, fake_spotify) -> None:
    assert looks_like_image(await fetch_local(session, fake_spotify, "/hops/3"))
    await expect_error("redirects", fetch_local(session, fake_spotify, "/hops/4"))


async def test_public_name_passes_the_check(pinned_session, fake_spotify) -> None:
    url = fake_spotify.url(COVER, host="covers.example")
    assert looks_like_image(await fetch_image(pinned_session, url, resolver=PUBLIC_DNS))


async def test_trusted_cdn_skips_the_precheck(pinned_session, fake_spotify) -> None:
    url = fake_spotify.url(COVER, host="i.scdn.co")
    assert looks_like_image(await fetch_image(pinned_session, url, resolver=StaticResolver({})))


# --- SSRF -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/cover.jpg",
        "http://192.168.1.1/cover.jpg",
        "http://172.16.5.4/cover.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:8080/cover.jpg",
        "http://0.0.0.0/cover.jpg",
        "http://100.64.0.1/cover.jpg",
        "http://224.0.0.1/cover.jpg",
        "http://[::1]/cover.jpg",
        "http://[::ffff:127.0.0.1]/cover.jpg",
        "http://[::ffff:a9fe:a9fe]/cover.jpg",
        "http://[fe80::1]/cover.jpg",
        "http://[fd00::1]/cover.jpg",
        "http://localhost/cover.jpg",
        "http://intranet.example/cover.jpg",
    ],
)
async def test_refuses_private_addresses(session, url: str) -> None:
    dns = StaticResolver({"localhost": "127.0.0.1", "intranet.example": "10.0.0.5"})
    error = await expect_error("private", fetch_image(session, url, resolver=dns))
    assert error.user_message == "That link points to a private address, so I won't fetch it."


async def test_refuses_a_name_with_any_private_address(session) -> None:
    class Mixed(StaticResolver):
        async def resolve(self, host, port=0, family=0):
            public = await super().resolve(host, port, family)
            return [*public, {**public[0], "host": "10.1.2.3"}]

    dns = Mixed({"covers.example": PUBLIC_IP})
    await expect_error("private", fetch_image(session, "http://covers.example/a.jpg", resolver=dns))


async def test_refuses_a_redirect_to_a_private_address(pinned_session, fake_spotify) -> None:
    url = fake_spotify.url(f"/redirect?to={fake_spotify.url(COVER)}", host="covers.example")
    await expect_error("private", fetch_image(pinned_session, url, resolver=PUBLIC_DNS))
    assert fake_spotify.state.hits[COVER] == 0


async def test_refuses_a_redirect_from_a_trusted_host_to_a_private_address(pinned_session, fake_spotify) -> None:
    url = fake_spotify.url(f"/redirect?to={fake_spotify.url(COVER)}", host="i.scdn.co")
    await expect_error("private", fetch_image(pinned_session, url, resolver=PUBLIC_DNS))


@pytest.mark.parametrize("host", ["covers.example", "i.scdn.co"])
async def test_guarded_session_catches_dns_rebinding(fake_spotify, host: str) -> None:
    """The pre-check sees a public address, the connection would go to 127.0.0.1."""
    async with create_session(resolver=StaticResolver({host: "127.0.0.1"})) as guarded:
        url = fake_spotify.url(COVER, host=host)
        await expect_error("private", fetch_image(guarded, url, resolver=StaticResolver({host: PUBLIC_IP})))
    assert fake_spotify.state.hits[COVER] == 0


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/a.jpg", "gopher://example.com/", "javascript:alert(1)"]
)
async def test_refuses_other_schemes(session, url: str) -> None:
    await expect_error("scheme", fetch_image(session, url))


async def test_refuses_a_redirect_to_another_scheme(session, fake_spotify) -> None:
    await expect_error("scheme", fetch_local(session, fake_spotify, "/redirect?to=file:///etc/passwd"))


@pytest.mark.parametrize(
    ("address", "public"),
    [
        (PUBLIC_IP, True),
        ("2606:4700:4700::1111", True),
        ("::ffff:93.184.216.34", True),
        ("10.0.0.1", False),
        ("198.18.0.1", False),
        ("255.255.255.255", False),
        ("ff02::1", False),
        ("::", False),
        ("2001:db8::1", False),
        ("2002:7f00:1::", False),  # 6to4 wrapping 127.0.0.1
        ("2002:a00:1::", False),  # 6to4 wrapping 10.0.0.1
        ("::ffff:127.0.0.1", False),
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(address) is public


@pytest.mark.parametrize(
    ("host", "trusted"),
    [
        ("i.scdn.co", True),
        ("mosaic.scdn.co", True),
        ("image-cdn-ak.spotifycdn.com", True),
        ("cdn.discordapp.com", True),
        ("media.discordapp.net", True),
        ("spotifycdn.com.evil.com", False),
        ("evilspotifycdn.com", False),
        ("scdn.co", False),
    ],
)
def test_is_trusted_host(host: str, trusted: bool) -> None:
    assert is_trusted_host(host) is trusted


# --- faults -----------------------------------------------------------------------------------------


async def test_http_error(session, fake_spotify) -> None:
    fake_spotify.state.fail(COVER, status=500)
    error = await expect_error("http_status", fetch_local(session, fake_spotify, COVER))
    assert "500" in error.user_message


async def test_missing_image(session, fake_spotify) -> None:
    await expect_error("http_status", fetch_local(session, fake_spotify, "/image/ffffffffffffffff.jpg"))


async def test_missing_image_without_the_shared_covers(session, fake_spotify, tmp_path, monkeypatch) -> None:
    """Without ../shared the fake CDN makes stand-ins for its own catalogue only: other names are 404."""
    from tests.bot import fake_spotify as fake_module

    monkeypatch.setattr(fake_module, "COVERS_DIR", tmp_path / "no-shared-here")
    assert all(fake_module.cover_bytes(name) for name in COVERS)
    assert fake_module.cover_bytes("ffffffffffffffff.jpg") is None
    assert looks_like_image(await fetch_local(session, fake_spotify, COVER))
    await expect_error("http_status", fetch_local(session, fake_spotify, "/image/ffffffffffffffff.jpg"))


async def test_timeout(session, fake_spotify) -> None:
    fake_spotify.state.fail(COVER, delay=0.5)
    await expect_error("timeout", fetch_local(session, fake_spotify, COVER, timeout=0.1))


async def test_not_an_image(session, fake_spotify) -> None:
    fake_spotify.state.fail(COVER, body="not_image")
    error = await expect_error("not_image", fetch_local(session, fake_spotify, COVER))
    assert error.user_message == "That doesn't look like an image."


async def test_wrong_content_type(session, fake_spotify) -> None:
    fake_spotify.state.fail(COVER, body="wrong_type")
    await expect_error("not_image", fetch_local(session, fake_spotify, COVER))


async def test_50_mb_body(session, fake_spotify) -> None:
    fake_spotify.state.fail(COVER, body="huge")
    error = await expect_error("too_large", fetch_local(session, fake_spotify, COVER))
    assert error.user_message == "That image is bigger than 15 MB."


async def test_content_length_too_large(session, fake_spotify) -> None:
    fake_spotify.state.fail(COVER, body="huge_declared")
    await expect_error("too_large", fetch_local(session, fake_spotify, COVER, timeout=0.5))


async def test_content_length_over_a_small_cap(session, fake_spotify) -> None:
    await expect_error("too_large", fetch_local(session, fake_spotify, COVER, max_bytes=1000))


async def test_trusted_hosts_keep_the_cap(pinned_session, fake_spotify) -> None:
    fake_spotify.state.fail(COVER, body="huge")
    await expect_error("too_large", fetch_image(pinned_session, fake_spotify.url(COVER, host="i.scdn.co")))


async def test_unknown_host(session) -> None:
    await expect_error("unreachable", fetch_image(session, "http://nowhere.example/a.jpg", resolver=StaticResolver({})))


async def test_connection_refused(session) -> None:
    await expect_error("unreachable", fetch_image(session, "http://127.0.0.1:1/a.jpg", allow_private=True))


# --- short links ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "code", "expected"),
    [
        ("spotify.link", "chain", SpotifyRef("album", ALBUM_ID)),
        ("spoti.fi", "to-album", SpotifyRef("album", ALBUM_ID)),
        ("spotify.link", "app-uri", SpotifyRef("track", TRACK_ID)),
        ("spotify.link", "page", SpotifyRef("playlist", PLAYLIST_ID)),
        ("spotify.link", "episode", None),
        ("spotify.link", "elsewhere", None),
        ("spotify.link", "loop", None),
        ("spotify.link", "unknown", None),
    ],
)
async def test_resolve_short_link(pinned_session, fake_spotify, host: str, code: str, expected) -> None:
    assert await resolve_short_link(pinned_session, fake_spotify.url(f"/short/{code}", host=host)) == expected


@pytest.mark.parametrize(
    ("code", "hits"),
    [
        ("chain", {"/short/chain": 1, "/short/to-album": 1}),  # open.spotify.com itself is never fetched
        ("elsewhere", {"/short/elsewhere": 1}),  # nor is a host that is not Spotify's
        ("loop", {"/short/loop": 6}),  # the first request and five redirects
    ],
)
async def test_short_link_requests(pinned_session, fake_spotify, code: str, hits: dict[str, int]) -> None:
    await resolve_short_link(pinned_session, fake_spotify.url(f"/short/{code}", host="spotify.link"))
    assert fake_spotify.state.hits == hits


async def test_short_link_unreachable(pinned_session) -> None:
    error = await expect_error("unreachable", resolve_short_link(pinned_session, "http://spotify.link:1/abc"))
    assert error.user_message == "I couldn't reach Spotify to follow that short link (spotify.link)."


async def test_short_link_timeout(pinned_session, fake_spotify) -> None:
    fake_spotify.state.fail("/short/chain", delay=0.5)
    url = fake_spotify.url("/short/chain", host="spotify.link")
    await expect_error("timeout", resolve_short_link(pinned_session, url, timeout=0.1))
