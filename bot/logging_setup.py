"""One log format for the whole process, and no secret in any log line.

    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT, settings.secret_values())

"text": `2026-11-22T10:00:00Z INFO bot.service message key=value` (extras from `extra={...}`
as key=value; a traceback follows on its own lines). "json": one object per line with time,
level, logger, message, the extras, and exc / stack when present.

The handler's `RedactingFilter` replaces every configured secret (and its URL-encoded form)
with "[redacted]" in the message, its args, extras, exception text and stack, so a token never
reaches the output even when a library logs it (python-telegram-bot's httpx logs request URLs,
which contain the bot token). Calling configure_logging again replaces the handler it installed
earlier; handlers installed by others (pytest's caplog, for one) are left alone.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import urllib.parse
from collections.abc import Iterable
from typing import Any, TextIO

REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 4  # shorter "secrets" would blank out ordinary words

# Chatty at INFO (request lines, heartbeats, polling); kept at WARNING or above.
NOISY_LOGGERS = (
    "discord",
    "discord.gateway",
    "discord.client",
    "discord.http",
    "httpx",
    "httpcore",
    "telegram",
    "telegram.ext",
    "apscheduler",
    "aiohttp.access",
    "urllib3",
    "spotipy",
    "PIL",
    "asyncio",
)

_HANDLER_MARK = "_sleeve_handler"

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class RedactingFilter(logging.Filter):
    """Replaces secret values with "[redacted]" in everything a formatter will print."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        variants: set[str] = set()
        for secret in secrets:
            if secret and len(secret) >= MIN_SECRET_LENGTH:
                variants.add(secret)
                variants.add(urllib.parse.quote(secret, safe=""))
                variants.add(urllib.parse.quote_plus(secret, safe=""))
        ordered = sorted(variants, key=len, reverse=True)  # longest first, so no partial leftovers
        self._pattern = re.compile("|".join(re.escape(v) for v in ordered)) if ordered else None

    def redact(self, text: str) -> str:
        return self._pattern.sub(REDACTED, text) if self._pattern is not None else text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._pattern is None:
            return True
        try:
            message = record.getMessage()
        except Exception:  # bad %-args: show what there is rather than lose the line
            message = f"{record.msg!s} {record.args!r}"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _RECORD_ATTRS:
                redacted = self._redact_value(value)
                if redacted is not value:
                    setattr(record, key, redacted)
        return True

    def _redact_value(self, value: Any) -> Any:
        if isinstance(value, str):
            clean = self.redact(value)
            return value if clean == value else clean
        if isinstance(value, int | float | bool) or value is None:
            return value
        text = str(value)
        clean = self.redact(text)
        return value if clean == text else clean


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in vars(record).items() if key not in _RECORD_ATTRS and not key.startswith("_")}


def _exception_text(record: logging.LogRecord, formatter: logging.Formatter) -> str:
    if record.exc_info and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    return record.exc_text or ""


_BARE = re.compile(r"[^\s=\"']+")


class TextFormatter(logging.Formatter):
    """`2026-11-22T10:00:00Z INFO bot.service message key=value`, then any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_timestamp(record), record.levelname, record.name, record.getMessage()]
        for key, value in _extras(record).items():
            text = str(value)
            parts.append(f"{key}={text if _BARE.fullmatch(text) else json.dumps(text, ensure_ascii=False)}")
        line = " ".join(parts)
        exc = _exception_text(record, self)
        if exc:
            line += "\n" + exc
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extras, exc, stack."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _extras(record).items():
            entry.setdefault(key, value)
        exc = _exception_text(record, self)
        if exc:
            entry["exc"] = exc
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(
    level: str | int = "INFO",
    fmt: str = "text",
    secrets: Iterable[str] = (),
    *,
    stream: TextIO | None = None,
    quiet: Iterable[str] = NOISY_LOGGERS,
) -> logging.Handler:
    """Install the process's one log handler on the root logger (replacing an earlier one of ours).

    `quiet` loggers are held at WARNING, or at `level` when that is higher. Returns the handler.
    """
    numeric = logging.getLevelName(level.strip().upper()) if isinstance(level, str) else level
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    formats: dict[str, type[logging.Formatter]] = {"text": TextFormatter, "json": JsonFormatter}
    if fmt not in formats:
        raise ValueError(f"unknown log format {fmt!r}: use 'text' or 'json'")

    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formats[fmt]())
    handler.addFilter(RedactingFilter(secrets))
    setattr(handler, _HANDLER_MARK, True)

    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in quiet:
        logging.getLogger(name).setLevel(max(logging.WARNING, numeric))
    return handler
