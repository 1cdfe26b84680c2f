"""One small progress throttle for the front ends' /retrain: chat platforms rate-limit message edits.

The retrainer calls it from the event loop only, every few seconds at most; a note that comes too
soon after the last one shown is dropped (the next one, or the final answer, replaces it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class ProgressThrottle:
    def __init__(self, show: Callable[[str], Awaitable[object]], every: float, clock: Clock = time.monotonic) -> None:
        self._show = show
        self._every = every
        self._clock = clock
        self._last: float | None = None

    async def __call__(self, text: str) -> None:
        now = self._clock()
        if self._last is not None and now - self._last < self._every:
            return
        self._last = now
        try:
            await self._show(text)
        except Exception:  # progress is a courtesy: a failed edit must not stop the retrain
            log.warning("could not show retrain progress", exc_info=True)
