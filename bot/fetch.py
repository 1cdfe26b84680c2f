"""Download cover images and resolve Spotify short links, safely, over one shared aiohttp session.

User-supplied URLs are an SSRF risk: every hop's host is resolved and refused when any of its
addresses is not public, and redirects are followed by hand so each hop gets that check. A name
can resolve differently at connect time (DNS rebinding), so the bot's session should come from
create_session(), whose resolver repeats the check for the address actually connected to.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver, ThreadedResolver
from yarl import URL

from bot.links import SHORT_HOSTS, SpotifyRef, find_spotify_refs

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_BYTES = 15 * 1024 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
TRUSTED_HOSTS = frozenset({"i.scdn.co", "mosaic.scdn.co", "cdn.discordapp.com", "media.discordapp.net"})
TRUSTED_HOST_SUFFIXES = (".spotifycdn.com",)
SHORT_LINK_MAX_BYTES = 512 * 1024

_CHUNK = 64 * 1024
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a")


class FetchError(Exception):
    """A download failed; user_message is fit to show a person, reason is a short code."""

    def __init__(self, reason: str, user_message: str) -> None:
        super().__init__(user_message)
        self.reason = reason
        self.user_message = user_message


class PrivateAddressError(OSError):
    """Raised by SafeResolver when a host resolves to an address that is not public."""


def is_public_address(address: str | IPAddress) -> bool:
    """True for globally routable unicast addresses; IPv4-mapped and 6to4 IPv6 are judged as their IPv4."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None and not is_public_address(embedded):
            return False
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def is_trusted_host(host: str) -> bool:
    """Spotify and Discord image CDNs."""
    host = host.lower().rstrip(".")
    return host in TRUSTED_HOSTS or host.endswith(TRUSTED_HOST_SUFFIXES)


def looks_like_image(data: bytes) -> bool:
    """JPEG, PNG, GIF or WebP by their magic bytes (the formats the cover loader reads)."""
    return data.startswith(_IMAGE_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


class SafeResolver(AbstractResolver):
    """aiohttp resolver that refuses hosts resolving to non-public addresses, at connect time."""

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not all(is_public_address(result["host"]) for result in results):
            raise PrivateAddressError(f"{host} resolves to a non-public address")
        return results

    async def close(self) -> None:
        await self._inner.close()


def create_session(
    *, allow_private: bool = False, resolver: AbstractResolver | None = None, **kwargs: Any
) -> aiohttp.ClientSession:
    """The bot's shared session; unless allow_private, every connection is checked by SafeResolver.

    IP literals in URLs never reach a resolver, so fetch_image checks those itself.
    """
    if not allow_private:
        resolver = SafeResolver(resolver)
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=resolver), **kwargs)


async def fetch_image(
    session: aiohttp.ClientSession,
    url: str,
    *,
    allow_private: bool = False,
    max_bytes: int = MAX_BYTES,
    timeout: float = 10.0,  # noqa: ASYNC109  (a timeout ends as FetchError("timeout"), with its message)
    max_redirects: int = 3,
    resolver: AbstractResolver | None = None,
) -> bytes:
    """Download an image from a user-supplied URL, or raise FetchError.

    resolver is used for the SSRF check only (default: the system's getaddrinfo); the connection
    itself goes through the session's connector. Trusted CDN hosts skip that pre-check but keep
    every other limit.
    """
    check_resolver = None if allow_private else (resolver or ThreadedResolver())
    try:
        async with asyncio.timeout(timeout):
            return await _fetch_following_redirects(session, url, check_resolver, max_bytes, max_redirects)
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise _network_error(exc) from exc


async def resolve_short_link(
    session: aiohttp.ClientSession, url: str, *, max_redirects: int = 5, timeout: float = 10.0  # noqa: ASYNC109
) -> SpotifyRef | None:
    """Follow a spotify.link / spoti.fi link to the Spotify item it names, or None.

    Only hops on Spotify's own hosts are fetched; a redirect anywhere else ends the search.
    The open.spotify.com URL is taken from a Location header or, failing that, from the page.
    """
    try:
        async with asyncio.timeout(timeout):
            return await _follow_short_link(session, URL(url), max_redirects)
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise _network_error(exc) from exc
    except ValueError as exc:
        raise _bad_url() from exc


async def _fetch_following_redirects(
    session: aiohttp.ClientSession,
    url: str,
    check_resolver: AbstractResolver | None,
    max_bytes: int,
    max_redirects: int,
) -> bytes:
    target = _parse_http_url(url)
    for _ in range(max_redirects + 1):
        if check_resolver is not None and not is_trusted_host(target.raw_host or ""):
            await _check_public(target, check_resolver)
        async with session.get(target, allow_redirects=False, headers={"Accept": "image/*"}) as response:
            if response.status in REDIRECT_STATUSES:
                target = _redirect_target(response)
                continue
            _check_response_head(response, max_bytes)
            data = await _read_capped(response, max_bytes)
        if not looks_like_image(data):
            raise _not_image()
        return data
    raise FetchError("redirects", "That link redirects too many times.")


async def _follow_short_link(
    session: aiohttp.ClientSession, target: URL, max_redirects: int
) -> SpotifyRef | None:
    for _ in range(max_redirects + 1):
        ref = _first_ref(str(target))
        if ref is not None or (target.host or "").lower() not in SHORT_HOSTS:
            return ref
        async with session.get(target, allow_redirects=False) as response:
            if response.status in REDIRECT_STATUSES:
                location = response.headers.get("Location")
                if not location:
                    return None
                target = response.url.join(URL(location))
                continue
            if response.status != 200:
                return None
            page = await _read_capped(response, SHORT_LINK_MAX_BYTES)
        return _first_ref(page.decode("utf-8", "replace"))
    return None


def _parse_http_url(url: str) -> URL:
    try:
        target = URL(url)
    except ValueError as exc:
        raise _bad_url() from exc
    if target.scheme not in ("http", "https"):
        raise FetchError("scheme", "I can only fetch http:// and https:// links.")
    if not target.raw_host:
        raise _bad_url()
    return target


def _redirect_target(response: aiohttp.ClientResponse) -> URL:
    location = response.headers.get("Location")
    if not location:
        raise FetchError("http_status", f"That link answered with a broken redirect (HTTP {response.status}).")
    try:
        return _parse_http_url(str(response.url.join(URL(location))))
    except ValueError as exc:
        raise _bad_url() from exc


async def _check_public(target: URL, resolver: AbstractResolver) -> None:
    host = target.raw_host or ""
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = await _resolve(host, target.port or 0, resolver)
    if not all(is_public_address(address) for address in addresses):
        raise _private()


async def _resolve(host: str, port: int, resolver: AbstractResolver) -> list[IPAddress]:
    try:
        results = await resolver.resolve(host, port, family=socket.AF_UNSPEC)
    except OSError as exc:
        raise _unknown_host() from exc
    if not results:
        raise _unknown_host()
    return [ipaddress.ip_address(result["host"]) for result in results]


def _check_response_head(response: aiohttp.ClientResponse, max_bytes: int) -> None:
    if not 200 <= response.status < 300:
        raise FetchError("http_status", f"That link answered with an error (HTTP {response.status}).")
    if not (response.content_type.startswith("image/") or response.content_type == "application/octet-stream"):
        raise _not_image()
    if response.content_length is not None and response.content_length > max_bytes:
        raise _too_large(max_bytes)


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    data = bytearray()
    async for chunk in response.content.iter_chunked(_CHUNK):
        data += chunk
        if len(data) > max_bytes:
            raise _too_large(max_bytes)
    return bytes(data)


def _first_ref(text: str) -> SpotifyRef | None:
    return next((ref for ref in find_spotify_refs(text) if isinstance(ref, SpotifyRef)), None)


def _network_error(exc: BaseException) -> FetchError:
    if isinstance(exc, TimeoutError):
        return FetchError("timeout", "That host took too long to answer.")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return _private() if isinstance(exc.os_error, PrivateAddressError) else _unknown_host()
    return FetchError("unreachable", "I couldn't reach that host.")


def _private() -> FetchError:
    return FetchError("private", "That link points to a private address, so I won't fetch it.")


def _unknown_host() -> FetchError:
    return FetchError("unreachable", "I couldn't find that host.")


def _bad_url() -> FetchError:
    return FetchError("bad_url", "That doesn't look like a valid link.")


def _not_image() -> FetchError:
    return FetchError("not_image", "That doesn't look like an image.")


def _too_large(max_bytes: int) -> FetchError:
    return FetchError("too_large", f"That image is bigger than {max_bytes / (1024 * 1024):g} MB.")
