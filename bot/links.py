"""Find Spotify references and image URLs in free chat text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

Kind = Literal["album", "track", "artist", "playlist"]
KINDS: frozenset[str] = frozenset({"album", "track", "artist", "playlist"})
OPEN_HOSTS: frozenset[str] = frozenset({"open.spotify.com", "www.open.spotify.com"})
SHORT_HOSTS: frozenset[str] = frozenset({"spotify.link", "spoti.fi"})

_ID = re.compile(r"[0-9A-Za-z]{22}")

# A match must not continue a word, a host name or another URL: this is what keeps
# "evil.com/open.spotify.com/..." and "x.com/?u=https://open.spotify.com/..." out.
# "_" is allowed before a link because Discord uses "__link__" for underlining.
_START = r"(?<![^\W_])(?<![.\-/@:=?&%#+])"
_KIND = r"(?i:(?P<{name}>album|track|artist|playlist))"
_ID_END = r"[0-9A-Za-z]{22}(?![0-9A-Za-z])"

_PATTERN = re.compile(
    _START
    + r"(?:"
    # https://open.spotify.com/intl-de/embed/album/ID?si=…  (also the legacy user/NAME/playlist/ID)
    + r"(?i:(?:https?://)?(?:www\.)?open\.spotify\.com/(?:intl-[a-z]{2}(?:-[a-z]{2})?/)?(?:embed/)?)"
    + r"(?:user/[^/\s?#]+/(?=playlist/))?"
    + _KIND.format(name="url_kind") + r"/(?P<url_id>" + _ID_END + r")"
    # spotify:album:ID  (also the legacy spotify:user:NAME:playlist:ID)
    + r"|(?i:spotify):(?:user:[^:\s]+:(?=(?i:playlist):))?"
    + _KIND.format(name="uri_kind") + r":(?P<uri_id>" + _ID_END + r")"
    # https://spotify.link/CODE, https://spoti.fi/CODE
    + r"|(?P<short>(?i:(?:https?://)?(?P<short_host>spotify\.link|spoti\.fi))/(?P<code>[0-9A-Za-z_-]+))"
    + r")"
)

# Any open.spotify.com path or spotify: URI, judged or not: to explain the ones we can't judge.
_ANY_SPOTIFY = re.compile(
    _START
    + r"(?:(?:https?://)?(?:www\.)?open\.spotify\.com/(?:intl-[a-z]{2}(?:-[a-z]{2})?/)?(?:embed/)?"
    + r"(?P<url_kind>[a-z-]+)(?:/(?P<url_id>[^/\s?#>)\]]*))?"
    + r"|spotify:(?P<uri_kind>[a-z-]+)(?::(?P<uri_id>[^:\s]*))?)",
    re.IGNORECASE,
)
PODCAST_KINDS = frozenset({"show", "episode", "audiobook", "chapter"})

Unjudgeable = Literal["podcast", "bad_id", "other"]

_URL = re.compile(_START + r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?*_~|'\""
_BRACKETS = {")": "(", "]": "[", "}": "{"}


@dataclass(frozen=True)
class SpotifyRef:
    """A Spotify album, track, artist or playlist, by its base62 ID."""

    kind: Kind
    id: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unsupported Spotify kind: {self.kind!r}")
        if not _ID.fullmatch(self.id):
            raise ValueError(f"not a Spotify ID: {self.id!r}")

    @property
    def url(self) -> str:
        return f"https://open.spotify.com/{self.kind}/{self.id}"


@dataclass(frozen=True)
class ShortLink:
    """A spotify.link / spoti.fi link; only an HTTP redirect tells what it points to."""

    url: str


def find_spotify_refs(text: str, limit: int = 3) -> list[SpotifyRef | ShortLink]:
    """Spotify references in text, in order of appearance, without duplicates, at most limit."""
    found: list[SpotifyRef | ShortLink] = []
    for match in _PATTERN.finditer(text):
        ref = _ref_from_match(match)
        if ref not in found:
            found.append(ref)
        if len(found) >= limit:
            break
    return found


def find_image_urls(text: str, limit: int = 3) -> list[str]:
    """Plain http(s) URLs in text that are not Spotify links, in order, without duplicates."""
    urls: list[str] = []
    for match in _URL.finditer(text):
        url = _trim(match.group())
        if _is_spotify_url(url) or url in urls:
            continue
        urls.append(url)
        if len(urls) >= limit:
            break
    return urls


def unjudgeable_spotify_link(text: str) -> Unjudgeable | None:
    """Why the first Spotify link in text is not one we can judge (find_spotify_refs found none):
    a podcast, a malformed ID, or another page (a user, a search); None when there is no such link."""
    match = _ANY_SPOTIFY.search(text)
    if match is None:
        return None
    kind = (match["url_kind"] or match["uri_kind"] or "").lower()
    if kind in PODCAST_KINDS:
        return "podcast"
    if kind in KINDS:
        return "bad_id"
    return "other"


def _ref_from_match(match: re.Match[str]) -> SpotifyRef | ShortLink:
    if match["short"]:
        return ShortLink(f"https://{match['short_host'].lower()}/{match['code']}")
    if match["url_id"]:
        return SpotifyRef(match["url_kind"].lower(), match["url_id"])  # type: ignore[arg-type]
    return SpotifyRef(match["uri_kind"].lower(), match["uri_id"])  # type: ignore[arg-type]


def _trim(url: str) -> str:
    """Drop sentence punctuation and unbalanced closing brackets glued to the end of a URL."""
    while url:
        last = url[-1]
        if last in _TRAILING or (last in _BRACKETS and url.count(last) > url.count(_BRACKETS[last])):
            url = url[:-1]
        else:
            break
    return url


def _is_spotify_url(url: str) -> bool:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    return host in OPEN_HOSTS or host in SHORT_HOSTS
