from __future__ import annotations

from bot.progress import ProgressThrottle


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_notes_closer_than_the_interval_are_dropped() -> None:
    shown: list[str] = []

    async def show(text: str) -> None:
        shown.append(text)

    clock = Clock()
    throttle = ProgressThrottle(show, every=2.0, clock=clock)
    await throttle("a")
    clock.now = 1.9
    await throttle("b")
    clock.now = 2.0
    await throttle("c")
    assert shown == ["a", "c"]


async def test_a_failed_edit_does_not_raise() -> None:
    async def show(text: str) -> None:
        raise RuntimeError("rate limited")

    await ProgressThrottle(show, every=0)("a")
