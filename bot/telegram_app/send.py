"""Talking back to Telegram without ever crashing: flood control, refusals and fallbacks.

- RetryAfter (flood control): wait retry_after, capped at RETRY_AFTER_CAP, through the injectable
  sleep, then try once more; a second RetryAfter gives up with a log line.
- Forbidden (the bot was blocked or removed), other network and API errors: logged and dropped.
- BadRequest goes back to the caller, which falls back: a rejected cover photo becomes text, HTML
  Telegram cannot parse becomes plain text, an edit of a vanished message becomes a new message.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import functools
import logging
import warnings
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from telegram import InlineKeyboardMarkup, InputFile, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from bot.telegram_app.render import Rendered, text_parts

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[object]]

RETRY_AFTER_CAP = 30.0  # seconds; Telegram may ask for far longer after a burst


def retry_seconds(exc: RetryAfter) -> float:
    """exc.retry_after in seconds, whichever type (int or timedelta) this PTB version hands out."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


class Sender:
    def __init__(self, sleep: Sleep = asyncio.sleep, retry_cap: float = RETRY_AFTER_CAP) -> None:
        self.sleep = sleep
        self.retry_cap = retry_cap

    async def call(self, make: Callable[[], Awaitable[T]], what: str) -> T | None:
        """make()'s result; None when Telegram refused for good (logged). BadRequest is raised."""
        for attempt in (1, 2):
            try:
                return await make()
            except RetryAfter as exc:
                wait = min(max(0.0, retry_seconds(exc)), self.retry_cap)
                if attempt == 2:
                    log.warning("telegram flood control again; giving up", extra={"what": what, "retry_after": wait})
                    return None
                log.info("telegram flood control; waiting", extra={"what": what, "retry_after": wait})
                await self.sleep(wait)
            except Forbidden as exc:
                log.info("telegram refused (bot blocked or removed); dropped", extra={"what": what, "error": str(exc)})
                return None
            except BadRequest:
                raise
            except TelegramError as exc:
                error = f"{type(exc).__name__}: {exc}"
                log.warning("telegram call failed; dropped", extra={"what": what, "error": error})
                return None
        return None

    # -- replies ----------------------------------------------------------------------------------

    async def prediction(
        self,
        message: Message,
        rendered: Rendered,
        photos: Sequence[str | bytes],
        keyboard: InlineKeyboardMarkup | None,
    ) -> Message | None:
        """The cover with its caption (and any overflow text), else the reply as text.

        Returns the message that carries the vote keyboard: the photo, or the last text message.
        """
        for photo in photos:
            try:
                sent = await self.call(
                    functools.partial(
                        message.reply_photo,
                        photo=InputFile(photo) if isinstance(photo, bytes) else photo,
                        caption=rendered.caption,
                        parse_mode=ParseMode.HTML,
                        reply_markup=keyboard,
                    ),
                    "send photo",
                )
            except BadRequest as exc:
                log.warning("telegram rejected the photo; falling back", extra={"error": str(exc)})
                continue
            if sent is not None and rendered.overflow:
                await self.texts(message, rendered.overflow)
            return sent
        return await self.texts(message, rendered.text, keyboard, plain=rendered.plain)

    async def texts(
        self,
        message: Message,
        parts: Sequence[str],
        keyboard: InlineKeyboardMarkup | None = None,
        *,
        plain: Sequence[str] | None = None,
        html: bool = True,
    ) -> Message | None:
        """Text messages replying to message (the keyboard under the last); HTML falls back to plain."""
        try:
            return await self._send_all(message, parts, keyboard, ParseMode.HTML if html else None)
        except BadRequest as exc:
            log.warning("telegram rejected a text message", extra={"error": str(exc), "html": html})
        if not html or plain is None:
            return None
        try:
            return await self._send_all(message, plain, keyboard, None)
        except BadRequest as exc:
            log.warning("telegram rejected the plain text too; dropped", extra={"error": str(exc)})
            return None

    async def text(self, message: Message, text: str) -> Message | None:
        """Plain text (no parse mode, so nothing to escape), cut into messages Telegram accepts."""
        return await self.texts(message, text_parts(text), html=False)

    async def _send_all(
        self, message: Message, parts: Sequence[str], keyboard: InlineKeyboardMarkup | None, parse_mode: str | None
    ) -> Message | None:
        sent: Message | None = None
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            sent = await self.call(
                functools.partial(
                    message.reply_text, part, parse_mode=parse_mode, reply_markup=keyboard if last else None
                ),
                "send text",
            )
            if sent is None:
                return None
        return sent

    async def edit(self, status: Message, text: str) -> Message | None:
        """Edit a status message; when it is gone (or cannot be edited), post the text as a new message."""
        try:
            edited = await self.call(lambda: status.edit_text(text_parts(text)[0]), "edit status")
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return status
            log.info("could not edit the status message; sending a new one", extra={"error": str(exc)})
            return await self.text(status, text)
        return edited if isinstance(edited, Message) else status
