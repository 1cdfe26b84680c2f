"""The Telegram Application: building it, and running it beside other front ends in one event loop."""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
from collections.abc import Awaitable

from telegram import BotCommand, Update
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    MessageHandler,
    MessageReactionHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.service import Service
from bot.settings import Settings, SettingsError
from bot.telegram_app.handlers import TelegramFrontEnd
from bot.telegram_app.send import Sleep

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.MESSAGE_REACTION]
COMMANDS: dict[str, str] = {
    "guess": "Judge a Spotify link or image URL, or reply /guess to a photo",
    "tags": "The tags that are distinctive of each genre: /tags [genre]",
    "genres": "Genres suggested by votes; admins: /genres approve NAME",
    "stats": "Model version, counts and live accuracy",
    "retrain": "Retrain the model on people's votes (admins only)",
    "forget": "Delete your votes and the predictions you asked for",
    "help": "What I do and how to vote",
}
READ_TIMEOUT_S = 15.0
WRITE_TIMEOUT_S = 30.0
MEDIA_WRITE_TIMEOUT_S = 60.0
POLL_TIMEOUT_S = 30  # long polling: Telegram holds getUpdates open this long when there is nothing new
START_RETRY_CAP_S = 60.0
REJECTED_TOKEN = "TELEGRAM_TOKEN was rejected by Telegram: check the token @BotFather gave you"

# Photos and image documents, and text (Spotify links) that is not a command. A photo captioned
# /guess comes here too: CommandHandler only reads message text.
MESSAGES = filters.UpdateType.MESSAGE & (
    filters.PHOTO | filters.Document.IMAGE | filters.CAPTION | (filters.TEXT & ~filters.COMMAND)
)


def build_application(
    service: Service,
    settings: Settings,
    *,
    base_url: str | None = None,
    base_file_url: str | None = None,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    sleep: Sleep = asyncio.sleep,
) -> Application:
    """The Application with every handler registered (not initialized, not started).

    base_url / base_file_url / request point it somewhere other than api.telegram.org (tests).
    """
    settings.require("TELEGRAM_TOKEN")
    assert settings.TELEGRAM_TOKEN is not None
    builder = (
        Application.builder()
        .token(settings.TELEGRAM_TOKEN.get_secret_value())
        .defaults(Defaults(allow_sending_without_reply=True))
        .concurrent_updates(True)  # one slow prediction must not hold up everyone else's updates
    )
    if base_url is not None:
        builder = builder.base_url(base_url)
    if base_file_url is not None:
        builder = builder.base_file_url(base_file_url)
    if request is not None:
        builder = builder.request(request).get_updates_request(get_updates_request or request)
    else:
        builder = (
            builder.read_timeout(READ_TIMEOUT_S)
            .write_timeout(WRITE_TIMEOUT_S)
            .media_write_timeout(MEDIA_WRITE_TIMEOUT_S)
        )
    app = builder.build()
    front = TelegramFrontEnd(service, settings, sleep=sleep)
    for names, callback in (
        (["guess"], front.cmd_guess),
        (["tags"], front.cmd_tags),
        (["genres"], front.cmd_genres),
        (["stats"], front.cmd_stats),
        (["retrain"], front.cmd_retrain),
        (["forget"], front.cmd_forget),
        (["help", "start"], front.cmd_help),
    ):
        app.add_handler(CommandHandler(names, callback, filters=filters.UpdateType.MESSAGE))
    app.add_handler(MessageHandler(MESSAGES, front.on_message))
    app.add_handler(CallbackQueryHandler(front.on_vote_button))
    app.add_handler(
        MessageReactionHandler(
            front.on_reaction, message_reaction_types=MessageReactionHandler.MESSAGE_REACTION_UPDATED
        )
    )
    app.add_error_handler(front.on_error)
    return app


async def serve(
    service: Service,
    settings: Settings,
    *,
    base_url: str | None = None,
    base_file_url: str | None = None,
    request: BaseRequest | None = None,
    sleep: Sleep = asyncio.sleep,
    poll_timeout: float = POLL_TIMEOUT_S,
    poll_interval: float = 0.0,
) -> None:
    """Poll Telegram and answer until cancelled, then stop cleanly.

    Uses initialize/start/start_polling rather than run_polling (which owns the event loop), so
    it runs beside the Discord front end on the same loop and Service.
    """
    app = build_application(
        service, settings, base_url=base_url, base_file_url=base_file_url, request=request, sleep=sleep
    )
    await _initialize(app, sleep)
    try:
        await _set_commands(app)
        await app.start()
        try:
            await app.updater.start_polling(  # type: ignore[union-attr]
                poll_interval=poll_interval,
                timeout=dtm.timedelta(seconds=poll_timeout),
                allowed_updates=ALLOWED_UPDATES,
                bootstrap_retries=-1,  # deleteWebhook at start: keep trying while Telegram is unreachable
            )
            log.info("telegram bot polling", extra={"username": app.bot.username})
            try:
                await asyncio.get_running_loop().create_future()  # until cancelled
            finally:
                await _quietly(app.updater.stop(), "stop polling")  # type: ignore[union-attr]
        finally:
            await _quietly(app.stop(), "stop the application")
    finally:
        await _quietly(app.shutdown(), "shut down")
        log.info("telegram bot stopped")


async def _initialize(app: Application, sleep: Sleep) -> None:
    """app.initialize() (which asks Telegram who we are), retrying while Telegram cannot be reached.

    A rejected token becomes a SettingsError (the CLI prints it and exits 2): PTB's own
    InvalidToken quotes the token, so it must not reach a traceback.
    """
    delay = 1.0
    try:
        while True:
            try:
                await app.initialize()
                return
            except InvalidToken:
                raise SettingsError(REJECTED_TOKEN) from None
            except NetworkError as exc:
                if isinstance(exc, BadRequest):
                    raise
                log.warning("cannot reach Telegram; retrying", extra={"error": str(exc), "retry_in": delay})
            await sleep(delay)
            delay = min(delay * 2, START_RETRY_CAP_S)
    except BaseException:
        await _quietly(app.bot.shutdown(), "close connections")  # initialize() opens them before asking
        raise


async def _set_commands(app: Application) -> None:
    try:
        await app.bot.set_my_commands([BotCommand(name, text) for name, text in COMMANDS.items()])
    except TelegramError as exc:  # the menu is a nicety: answer anyway
        log.warning("could not set the bot's command list", extra={"error": str(exc)})


async def _quietly(step: Awaitable[object], what: str) -> None:
    try:
        await step
    except Exception as exc:
        log.warning("telegram shutdown step failed", extra={"step": what, "error": f"{type(exc).__name__}: {exc}"})
