"""The Telegram front end (python-telegram-bot v22, asyncio): a thin layer over bot.service.

    await serve(service, settings)   # polls until cancelled; runs beside Discord on one loop

- app.py       builds the Application, registers the handlers, polls, stops cleanly
- handlers.py  updates -> Service calls (messages, /commands, vote buttons, reactions, errors)
- render.py    Replies as HTML captions/messages within Telegram's limits, the vote keyboard
- send.py      flood control (RetryAfter), refusals (Forbidden) and fallbacks (BadRequest)

No telegram type reaches the service: it gets Incoming / IncomingImage / Requester, and votes
are keyed by "<chat id>:<message id>" (Telegram message ids are per chat).
"""

from bot.telegram_app.app import ALLOWED_UPDATES, COMMANDS, build_application, serve
from bot.telegram_app.handlers import TelegramFrontEnd

__all__ = ["ALLOWED_UPDATES", "COMMANDS", "TelegramFrontEnd", "build_application", "serve"]
