from __future__ import annotations

import io
import json
import logging
import re
import urllib.parse
from collections.abc import Iterator

import pytest

from bot.logging_setup import REDACTED, configure_logging

TOKEN = "7012345678:AAH-telegram-secret_token"
CLIENT_SECRET = "0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    noisy = {name: logging.getLogger(name).level for name in ("httpx", "discord.gateway")}
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, value in noisy.items():
        logging.getLogger(name).setLevel(value)


def setup(fmt: str = "text", level: str = "DEBUG") -> io.StringIO:
    stream = io.StringIO()
    configure_logging(level, fmt, [TOKEN, CLIENT_SECRET, ""], stream=stream)
    return stream


def test_text_format() -> None:
    stream = setup()
    logging.getLogger("bot.service").info("predicted %s", "Rock", extra={"user": "42", "note": "two words"})
    line = stream.getvalue().strip()
    assert re.fullmatch(
        r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ INFO bot\.service predicted Rock user=42 note="two words"', line
    ), line


def test_json_format() -> None:
    stream = setup("json")
    log = logging.getLogger("bot.store")
    log.warning("vote stored", extra={"cover": 7, "voter": "u1"})
    try:
        raise ValueError("broken")
    except ValueError:
        log.exception("failed")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{"))
    assert first["level"] == "WARNING" and first["logger"] == "bot.store" and first["message"] == "vote stored"
    assert first["cover"] == 7 and first["voter"] == "u1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first["time"])
    assert second["message"] == "failed" and "ValueError: broken" in second["exc"]
    assert len(stream.getvalue().splitlines()) == 2  # the traceback stays inside its JSON line


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_never_reach_the_output(fmt: str) -> None:
    stream = setup(fmt)
    log = logging.getLogger("httpx.fake")  # as if a library logged it
    log.error("HTTP Request: POST https://api.telegram.org/bot%s/getUpdates", TOKEN)
    log.error(f"token in the message itself: {TOKEN}")
    log.error("url-encoded: %s", urllib.parse.quote(TOKEN, safe=""))
    log.error("dict args: %(secret)s", {"secret": CLIENT_SECRET})
    log.error("in extras", extra={"auth": f"Bearer {TOKEN}", "obj": ["x", CLIENT_SECRET]})
    try:
        try:
            raise KeyError(CLIENT_SECRET)
        except KeyError as inner:
            raise RuntimeError(f"login failed for token {TOKEN}") from inner
    except RuntimeError:
        log.exception("Traceback follows")
    logging.getLogger("bot").error("stack", stack_info=True, extra={"t": TOKEN})
    output = stream.getvalue()
    assert TOKEN not in output and CLIENT_SECRET not in output
    assert urllib.parse.quote(TOKEN, safe="") not in output
    assert "telegram-secret" not in output
    assert output.count(REDACTED) >= 8
    assert "RuntimeError: login failed for token " + REDACTED in output.replace("\\n", "\n")


def test_secret_in_traceback_when_caplog_formats_first(caplog: pytest.LogCaptureFixture) -> None:
    """Another handler may have cached the exception text already; ours still redacts it."""
    stream = setup()
    with caplog.at_level(logging.DEBUG):
        try:
            raise RuntimeError(TOKEN)
        except RuntimeError:
            logging.getLogger("discord.client").error("oops", exc_info=True)
    assert TOKEN not in stream.getvalue()
    assert "RuntimeError: " + REDACTED in stream.getvalue()


def test_idempotent_and_replaces_own_handler_only() -> None:
    root = logging.getLogger()
    foreign = logging.NullHandler()
    root.addHandler(foreign)
    first = io.StringIO()
    configure_logging("INFO", "text", [], stream=first)
    second = io.StringIO()
    configure_logging("INFO", "json", [], stream=second)
    configure_logging("INFO", "json", [], stream=second)
    logging.getLogger("bot").info("once")
    assert first.getvalue() == ""
    assert len(second.getvalue().splitlines()) == 1
    assert foreign in root.handlers


def test_levels_and_noisy_libraries() -> None:
    stream = setup(level="INFO")
    logging.getLogger("bot").debug("hidden")
    logging.getLogger("httpx").info("HTTP Request: GET ...")
    logging.getLogger("discord.gateway").info("heartbeat")
    logging.getLogger("discord.gateway").warning("gateway warning")
    assert stream.getvalue().count("\n") == 1 and "gateway warning" in stream.getvalue()
    assert logging.getLogger("httpx").level == logging.WARNING


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        configure_logging("LOUD", "text", [])
    with pytest.raises(ValueError):
        configure_logging("INFO", "xml", [])
