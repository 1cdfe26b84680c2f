from __future__ import annotations

import pytest

from bot.ratelimit import RateLimiter, allow_all


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


USER = ("user", "42")


def test_allows_n_then_refuses_then_recovers() -> None:
    clock = FakeClock()
    limiter = RateLimiter(5, clock=clock)
    assert [limiter.allow(USER) for _ in range(5)] == [True] * 5
    assert limiter.allow(USER) is False
    assert limiter.retry_after(USER) == pytest.approx(60.0)
    clock.advance(59.9)
    assert limiter.allow(USER) is False
    assert limiter.retry_after(USER) == pytest.approx(0.1)
    clock.advance(0.1)
    assert limiter.retry_after(USER) == 0.0
    assert [limiter.allow(USER) for _ in range(6)] == [True] * 5 + [False]


def test_window_slides() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, clock=clock)
    assert limiter.allow(USER)
    clock.advance(30)
    assert limiter.allow(USER)
    assert not limiter.allow(USER)
    assert limiter.retry_after(USER) == pytest.approx(30)
    clock.advance(30)  # the first request left the window, the second has not
    assert limiter.allow(USER)
    assert not limiter.allow(USER)
    assert limiter.retry_after(USER) == pytest.approx(30)


def test_refused_requests_do_not_count() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1, clock=clock)
    assert limiter.allow(USER)
    for _ in range(20):
        clock.advance(1)
        assert not limiter.allow(USER)
    clock.advance(40)
    assert limiter.allow(USER)


def test_keys_are_independent() -> None:
    limiter = RateLimiter(1, clock=FakeClock())
    assert limiter.allow(("user", "1"))
    assert limiter.allow(("user", "2"))
    assert limiter.allow(("channel", "1"))  # same id, other scope
    assert not limiter.allow(("user", "1"))


def test_notifies_once_per_window() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1, clock=clock)
    limiter.allow(USER)
    notices = []
    for _ in range(10):
        assert not limiter.allow(USER)
        notices.append(limiter.should_notify(USER))
        clock.advance(5)
    assert notices == [True] + [False] * 9
    clock.advance(20)  # 60 s after the notice
    assert limiter.should_notify(USER)
    assert limiter.should_notify(("user", "other"))


def test_zero_rate_means_no_limit() -> None:
    limiter = RateLimiter(0, clock=FakeClock())
    assert all(limiter.allow(USER) for _ in range(1000))
    assert limiter.retry_after(USER) == 0.0 and len(limiter) == 0


def test_idle_keys_are_dropped() -> None:
    clock = FakeClock()
    limiter = RateLimiter(3, clock=clock)
    for i in range(500):
        limiter.allow(("user", str(i)))
        limiter.should_notify(("user", str(i)))
    assert len(limiter) == 500
    clock.advance(61)
    limiter.allow(USER)  # triggers the once-per-window sweep
    assert len(limiter) == 1
    assert len(limiter._notified) == 0


def test_memory_is_capped() -> None:
    clock = FakeClock()
    limiter = RateLimiter(3, clock=clock, max_keys=100)
    for i in range(1000):
        limiter.allow(("user", str(i)))
        limiter.should_notify(("user", str(i)))
    assert len(limiter) == 100 and len(limiter._notified) <= 100
    assert limiter.allow(("user", "999"))  # the most recent keys are kept
    assert limiter.allow(("user", "999"))
    assert not limiter.allow(("user", "999"))


def test_allow_all_consumes_only_when_every_limit_allows() -> None:
    clock = FakeClock()
    users = RateLimiter(5, clock=clock)
    channels = RateLimiter(2, clock=clock)
    channel = ("channel", "c")
    assert allow_all((users, ("user", "a")), (channels, channel))
    assert allow_all((users, ("user", "b")), (channels, channel))
    assert not allow_all((users, ("user", "a")), (channels, channel))  # channel full
    assert users.retry_after(("user", "a")) == 0.0
    assert [users.allow(("user", "a")) for _ in range(5)] == [True] * 4 + [False]  # only one was used


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        RateLimiter(-1)
    with pytest.raises(ValueError):
        RateLimiter(1, window=0)


def test_service_limits_survive_a_window_expiring_between_checks() -> None:
    """The refusing limiter is judged once, even if its window expires while it is looked up."""
    from bot.replies import Requester
    from bot.service.limits import Limits

    now = [0.0]
    limits = Limits(user_rate=1, channel_rate=0, clock=lambda: now[0])
    who = Requester("discord", "u1", None, None)
    assert limits.check(who) is None
    now[0] = 59.9
    users = limits._users
    verdict = users.would_allow

    def verdict_then_time_passes(key):
        answer = verdict(key)
        now[0] = 120.0  # the window ends right after the first verdict
        return answer

    users.would_allow = verdict_then_time_passes
    refusal = limits.check(who)
    assert refusal is not None and refusal.retry_after >= 0
