"""Per-user and per-channel rate limits for the service, with one notice per window."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bot.inference import Busy
from bot.ratelimit import RateLimiter, allow_all
from bot.replies import Requester


@dataclass(frozen=True)
class Refusal:
    retry_after: float  # seconds
    notify: bool  # False: already told this window, stay quiet


class Limits:
    def __init__(self, user_rate: int, channel_rate: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._users = RateLimiter(user_rate, clock)
        self._channels = RateLimiter(channel_rate, clock)

    def check(self, who: Requester) -> Refusal | None:
        """Count one request; None when it may go ahead. DMs (no channel) only count per user."""
        checks = [(self._users, ("user", who.platform, who.user_id))]
        if who.channel_id is not None:
            checks.append((self._channels, ("channel", who.platform, who.channel_id)))
        if allow_all(*checks):
            return None
        # The refusing limiter, judged once: a window may expire between two readings of the clock.
        blocked = [(limiter, key) for limiter, key in checks if not limiter.would_allow(key)] or checks[:1]
        limiter, key = blocked[0]
        return Refusal(limiter.retry_after(key), limiter.should_notify(key))


class FetchGate:
    """At most `capacity` downloads and Spotify lookups in flight; one more is Busy at once.

    Fetches have their own limit, apart from the prediction slots: a hanging host then delays
    only other fetches, never an upload whose bytes are already here.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("need room for at least one fetch")
        self._capacity = capacity
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @contextmanager
    def admit(self) -> Iterator[None]:
        if self._in_flight >= self._capacity:  # one event loop: no lock needed
            raise Busy()
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1
