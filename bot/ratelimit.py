"""In-memory sliding-window rate limits, keyed by (scope, id), with one notice per window.

    users = RateLimiter(settings.USER_RATE)
    channels = RateLimiter(settings.CHANNEL_RATE)
    if not allow_all((users, ("user", user_id)), (channels, ("channel", channel_id))):
        if users.should_notify(("user", user_id)):
            reply(f"Slow down a little — try again in {users.retry_after(('user', user_id)):.0f} s.")
        return

A key is allowed `rate_per_minute` requests in any `window` seconds (60 by default); refused
requests do not count. A rate of 0 means no limit. Keys with nothing left in their window are
dropped, and at most `max_keys` are kept (least recently used go first), so memory stays bounded.
Single-threaded (asyncio) use; no locking.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable

Key = Hashable


class RateLimiter:
    def __init__(
        self,
        rate_per_minute: int,
        clock: Callable[[], float] = time.monotonic,
        *,
        window: float = 60.0,
        max_keys: int = 10_000,
    ) -> None:
        if rate_per_minute < 0:
            raise ValueError("rate_per_minute must be 0 (no limit) or more")
        if window <= 0:
            raise ValueError("window must be positive")
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.rate = rate_per_minute
        self.window = window
        self._clock = clock
        self._max_keys = max_keys
        self._hits: OrderedDict[Key, deque[float]] = OrderedDict()  # allowed request times, oldest first
        self._notified: dict[Key, float] = {}  # when each key last got a "slow down" notice
        self._next_sweep = clock() + window

    @property
    def unlimited(self) -> bool:
        return self.rate == 0

    def allow(self, key: Key) -> bool:
        """Count a request for `key` and say whether it may go ahead."""
        if self.unlimited:
            return True
        now = self._clock()
        self._maybe_sweep(now)
        hits = self._recent(key, now)
        if len(hits) >= self.rate:
            return False
        if not hits:
            self._hits[key] = hits
        hits.append(now)
        self._hits.move_to_end(key)
        while len(self._hits) > self._max_keys:
            evicted, _ = self._hits.popitem(last=False)
            self._notified.pop(evicted, None)
        return True

    def would_allow(self, key: Key) -> bool:
        """Whether `allow(key)` would succeed now, without counting anything."""
        return self.unlimited or len(self._recent(key, self._clock())) < self.rate

    def retry_after(self, key: Key) -> float:
        """Seconds until `key` may make a request again (0.0 when it may now)."""
        if self.unlimited:
            return 0.0
        now = self._clock()
        hits = self._recent(key, now)
        if len(hits) < self.rate:
            return 0.0
        return max(0.0, hits[len(hits) - self.rate] + self.window - now)

    def should_notify(self, key: Key) -> bool:
        """True at most once per window for `key`: call it when refusing, and send the notice only if True."""
        now = self._clock()
        last = self._notified.get(key)
        if last is not None and now - last < self.window:
            return False
        self._notified.pop(key, None)  # re-insert, so the dict stays ordered by notice time
        self._notified[key] = now
        while len(self._notified) > self._max_keys:
            del self._notified[next(iter(self._notified))]
        return True

    def __len__(self) -> int:
        """Keys currently tracked."""
        return len(self._hits)

    def _recent(self, key: Key, now: float) -> deque[float]:
        """The key's allowed request times still inside the window (a new, unstored deque if none)."""
        hits = self._hits.get(key)
        if hits is None:
            return deque()
        cutoff = now - self.window
        while hits and hits[0] <= cutoff:
            hits.popleft()
        if not hits:
            del self._hits[key]
        return hits

    def _maybe_sweep(self, now: float) -> None:
        """Once per window, drop keys whose requests and notices have all aged out."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.window
        cutoff = now - self.window
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= cutoff]:
            del self._hits[key]
        for key in [k for k, at in self._notified.items() if at <= cutoff]:
            del self._notified[key]


def allow_all(*checks: tuple[RateLimiter, Key]) -> bool:
    """Count one request against every (limiter, key) only if all of them allow it.

    So a request refused by the channel limit does not use up the user's allowance too.
    """
    if not all(limiter.would_allow(key) for limiter, key in checks):
        return False
    for limiter, key in checks:
        limiter.allow(key)
    return True
