import pytest

from bot.links import ShortLink, SpotifyRef, find_image_urls, find_spotify_refs, unjudgeable_spotify_link

A = "4aawyAB9vmqN3uQ7FjRGTy"  # 22-character base62 IDs
B = "37i9dQZF1DXcBWIGoYBM5M"
C = "0TnOYISbd1XYRBk9myaseg"


def album(i: str = A) -> SpotifyRef:
    return SpotifyRef("album", i)


# (text, what find_spotify_refs should return)
CASES = [
    # open.spotify.com links as people paste them
    (f"https://open.spotify.com/album/{A}", [album()]),
    (f"https://open.spotify.com/album/{A}?si=Ax3_kQ9fT2m-8bZ1", [album()]),
    (f"https://open.spotify.com/album/{A}/", [album()]),
    (f"http://open.spotify.com/album/{A}", [album()]),
    (f"open.spotify.com/album/{A}", [album()]),
    (f"www.open.spotify.com/album/{A}", [album()]),
    (f"https://open.spotify.com/intl-de/album/{A}?si=abc", [album()]),
    (f"https://open.spotify.com/intl-pt/track/{A}", [SpotifyRef("track", A)]),
    (f"https://open.spotify.com/embed/album/{A}?utm_source=generator", [album()]),
    (f"HTTPS://OPEN.SPOTIFY.COM/album/{A}", [album()]),
    (f"HTTPS://OPEN.SPOTIFY.COM/ALBUM/{A}", [album()]),  # the kind is any case, the ID never is
    (f"https://open.spotify.com/Track/{A}", [SpotifyRef("track", A)]),
    (f"SPOTIFY:ALBUM:{A}", [album()]),
    (f"https://open.spotify.com/track/{A}?si=x&context=spotify%3Aalbum%3A{B}", [SpotifyRef("track", A)]),
    (f"https://open.spotify.com/artist/{C}", [SpotifyRef("artist", C)]),
    (f"https://open.spotify.com/playlist/{B}?si=1f2e", [SpotifyRef("playlist", B)]),
    (f"https://open.spotify.com/user/spotify/playlist/{B}", [SpotifyRef("playlist", B)]),
    # in chat: punctuation, markdown, Discord's <no-embed> brackets
    (f"this one!! https://open.spotify.com/album/{A}, so good", [album()]),
    (f"(https://open.spotify.com/album/{A})", [album()]),
    (f"<https://open.spotify.com/album/{A}>", [album()]),
    (f"[listen](https://open.spotify.com/album/{A})", [album()]),
    (f"**https://open.spotify.com/album/{A}**", [album()]),
    (f"__https://open.spotify.com/album/{A}__", [album()]),
    (f"||https://open.spotify.com/album/{A}||", [album()]),
    # URIs
    (f"spotify:album:{A}", [album()]),
    (f"spotify:track:{A}", [SpotifyRef("track", A)]),
    (f"spotify:user:spotify:playlist:{B}", [SpotifyRef("playlist", B)]),
    # short links
    ("https://spotify.link/ZRGvxgS8XDb", [ShortLink("https://spotify.link/ZRGvxgS8XDb")]),
    ("spotify.link/ZRGvxgS8XDb?_branch=1", [ShortLink("https://spotify.link/ZRGvxgS8XDb")]),
    ("http://spoti.fi/3xYzAbC", [ShortLink("https://spoti.fi/3xYzAbC")]),
    # several, with duplicates, capped at three
    (f"spotify:album:{A} and https://open.spotify.com/album/{A}?si=1", [album()]),
    (
        f"{B} https://open.spotify.com/album/{B} spotify:artist:{C} https://spoti.fi/abc https://open.spotify.com/album/{A}",
        [album(B), SpotifyRef("artist", C), ShortLink("https://spoti.fi/abc")],
    ),
    # junk
    (f"https://open.spotify.com.evil.com/album/{A}", []),
    (f"https://evil.com/open.spotify.com/album/{A}", []),
    (f"https://evil.com/?next=https://open.spotify.com/album/{A}", []),
    (f"https://open.spotify.com@evil.com/album/{A}", []),
    (f"https://notopen.spotify.com/album/{A}", []),
    (f"https://open.spotify.com/album/{A}xyz", []),
    (f"https://open.spotify.com/album/{A[:21]}", []),
    ("https://open.spotify.com/album/4aawyAB9vmqN3uQ7FjRG-y", []),
    (f"https://open.spotify.com/show/{A}", []),
    (f"https://open.spotify.com/episode/{A}", []),
    ("https://open.spotify.com/user/spotify", []),
    (f"https://open.spotify.com/user/spotify/{A}", []),
    (f"spotify:show:{A}", []),
    (f"notspotify:album:{A}", []),
    (f"https://play.example.com/album/{A}", []),
    ("https://spotify.link.evil.com/ZRGvxgS8XDb", []),
    ("just an album name, no link", []),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[text[:60] for text, _ in CASES])
def test_find_spotify_refs(text: str, expected: list[SpotifyRef | ShortLink]) -> None:
    assert find_spotify_refs(text) == expected


def test_there_are_enough_shapes() -> None:
    assert len(CASES) >= 30


def test_limit() -> None:
    text = " ".join(f"spotify:album:{i}" for i in (A, B, C))
    assert find_spotify_refs(text, limit=2) == [album(A), album(B)]


def test_canonical_url() -> None:
    assert SpotifyRef("track", A).url == f"https://open.spotify.com/track/{A}"


@pytest.mark.parametrize(("kind", "item_id"), [("show", A), ("album", "short"), ("album", A + "/x")])
def test_ref_validates(kind: str, item_id: str) -> None:
    with pytest.raises(ValueError):
        SpotifyRef(kind, item_id)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("look https://example.com/cover.jpg", ["https://example.com/cover.jpg"]),
        ("(http://example.com/a.png), then <https://cdn.example.org/b(1).webp>.", ["http://example.com/a.png", "https://cdn.example.org/b(1).webp"]),
        ("https://x.example/a.jpg https://x.example/a.jpg!", ["https://x.example/a.jpg"]),
        (f"https://open.spotify.com/album/{A} https://spotify.link/x https://e.example/c.gif", ["https://e.example/c.gif"]),
        ("ftp://example.com/a.jpg and example.com/b.jpg", []),
    ],
)
def test_find_image_urls(text: str, expected: list[str]) -> None:
    assert find_image_urls(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (f"https://open.spotify.com/episode/{A}?si=1", "podcast"),
        (f"https://open.spotify.com/show/{A}", "podcast"),
        (f"HTTPS://OPEN.SPOTIFY.COM/SHOW/{A}", "podcast"),
        (f"spotify:episode:{A}", "podcast"),
        (f"https://open.spotify.com/album/{A[:21]}", "bad_id"),
        ("https://open.spotify.com/album/", "bad_id"),
        ("spotify:track:nope", "bad_id"),
        ("https://open.spotify.com/user/spotify", "other"),
        ("https://open.spotify.com/search/rock", "other"),
        ("no link here", None),
        (f"https://evil.com/open.spotify.com/show/{A}", None),
    ],
)
def test_unjudgeable_spotify_link(text: str, reason: str | None) -> None:
    assert unjudgeable_spotify_link(text) == reason
