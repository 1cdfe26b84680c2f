"""serve() end to end against a fake Bot API on 127.0.0.1 (python-telegram-bot's own HTTP stack).

The fake speaks the Bot API's JSON ({"ok": true, "result": …}) on /bot<token>/<method>: one
update through long polling, then empty polls. Nothing reaches the internet.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import traceback
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.logging_setup import REDACTED, configure_logging
from bot.settings import SettingsError
from bot.telegram_app import COMMANDS, serve
from tests.bot.telegram.conftest import (
    LINK,
    TOKEN,
    USER_ID,
    bot_user,
    chat_dict,
    fake_service,
    message_update,
    settings,
)


@dataclass
class FakeBotApi:
    updates: list[dict[str, Any]]
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail_get_me: list[int] = field(default_factory=list)  # statuses to answer getMe with first
    photo_sent: asyncio.Event = field(default_factory=asyncio.Event)
    polled: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0

    def methods(self) -> list[str]:
        return [method for method, _ in self.calls]

    def params(self, method: str) -> dict[str, Any]:
        return next(p for m, p in self.calls if m == method)

    async def handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        method = request.match_info["method"]
        form = await request.post()
        params = {k: (v if isinstance(v, web.FileField) else _json_or_text(v)) for k, v in form.items()}
        self.calls.append((method, params))
        if method == "getMe" and self.fail_get_me:
            status = self.fail_get_me.pop(0)
            return web.json_response({"ok": False, "error_code": status, "description": "nope"}, status=status)
        return web.json_response({"ok": True, "result": await self.result(method, params)})

    async def result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return bot_user()
        if method == "getUpdates":
            self.polled.set()
            if self.updates:
                batch, self.updates = self.updates, []
                return batch
            await asyncio.sleep(0.02)  # a (very) short long poll
            return []
        if method == "sendPhoto":
            self.photo_sent.set()
            return {"message_id": 500, "date": 1_700_000_000, "chat": chat_dict(int(params["chat_id"])),
                    "from": bot_user(), "photo": [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}]}
        return True


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    names = ("httpx", "httpcore", "telegram", "telegram.ext")
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, value in levels.items():
        logging.getLogger(name).setLevel(value)


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotApi]:
    api = FakeBotApi(updates=[message_update(LINK)])
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", api.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    assert server.port is not None
    api.port = server.port
    try:
        yield api
    finally:
        await server.close()


def run(api: FakeBotApi, service, **kwargs: Any) -> asyncio.Task[None]:
    return asyncio.create_task(
        serve(service, settings(), base_url=f"http://127.0.0.1:{api.port}/bot",
              base_file_url=f"http://127.0.0.1:{api.port}/file/bot", poll_timeout=0, **kwargs)
    )


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)


async def test_serve_polls_answers_and_stops_cleanly(bot_api: FakeBotApi, restore_logging) -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", "text", [TOKEN], stream=stream, quiet=())  # let httpx log its request URLs
    service = fake_service()
    beside = asyncio.create_task(asyncio.sleep(3600))  # another front end sharing the loop

    task = run(bot_api, service)
    await asyncio.wait_for(bot_api.photo_sent.wait(), 10)
    assert not beside.done()
    await stop(task)
    beside.cancel()

    methods = bot_api.methods()
    assert methods[:2] == ["getMe", "setMyCommands"]
    assert {"deleteWebhook", "getUpdates", "sendPhoto"} <= set(methods)
    commands = bot_api.params("setMyCommands")["commands"]
    assert [c["command"] for c in commands] == list(COMMANDS) == ["guess", "tags", "genres", "stats", "retrain", "forget", "help"]
    assert bot_api.params("getUpdates")["allowed_updates"] == ["message", "callback_query", "message_reaction"]
    [incoming] = service.handle_message.await_args.args
    assert incoming.text == LINK and incoming.channel_id == str(USER_ID)
    service.attach_message.assert_awaited_once_with(7, f"{USER_ID}:500")

    logged = stream.getvalue()
    assert f"/bot{REDACTED}/getMe" in logged  # httpx's request line, token redacted
    assert TOKEN not in logged and TOKEN.split(":")[1] not in logged


async def test_default_logging_keeps_httpx_quiet(bot_api: FakeBotApi, restore_logging) -> None:
    stream = io.StringIO()
    configure_logging("INFO", "text", [TOKEN], stream=stream)
    task = run(bot_api, fake_service())
    await asyncio.wait_for(bot_api.photo_sent.wait(), 10)
    await stop(task)
    assert "HTTP Request" not in stream.getvalue() and TOKEN not in stream.getvalue()


async def test_start_retries_while_telegram_is_unreachable(bot_api: FakeBotApi) -> None:
    bot_api.fail_get_me = [502, 502]
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    task = run(bot_api, fake_service(), sleep=sleep)
    await asyncio.wait_for(bot_api.polled.wait(), 10)
    await stop(task)
    assert bot_api.methods()[:3] == ["getMe", "getMe", "getMe"] and sleeps[:2] == [1.0, 2.0]


async def test_a_rejected_token_stops_serve_without_showing_it(bot_api: FakeBotApi) -> None:
    bot_api.fail_get_me = [401]
    with pytest.raises(SettingsError) as raised:
        await asyncio.wait_for(run(bot_api, fake_service()), 10)
    text = "".join(traceback.format_exception(raised.value))
    assert "TELEGRAM_TOKEN was rejected" in text and TOKEN not in text
