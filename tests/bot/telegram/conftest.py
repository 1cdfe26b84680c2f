"""Fakes for the Telegram front end: a Bot API that records calls, a service that loads no model.

`RecordingRequest` stands in for python-telegram-bot's HTTP layer: every Bot API call is recorded
with its parameters and answered with the real Bot API JSON ({"ok": true, "result": …}), or with
an error queued by `fail()` (429 with retry_after, 400, 403), which PTB turns into RetryAfter,
BadRequest and Forbidden exactly as it would for api.telegram.org. Nothing leaves the process.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from unittest.mock import MagicMock

import numpy as np
import pytest
from telegram import Update
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

from bot.replies import Reply, VoteAck
from bot.service import Service, ServiceConfig
from bot.settings import Settings
from bot.telegram_app import build_application
from models.distinctive import DistinctiveTag
from models.prediction import GenreScore, Popularity, Prediction, Tag

TOKEN = "7012345678:AAH-test-telegram-token_abcdef"
BOT_ID = 7012345678
BOT_USERNAME = "SleeveTestBot"
USER_ID = 42
ADMIN_ID = 99
GROUP_ID = -100123
GENRES = ("Country", "Electronic", "HipHop", "Pop", "Rock")
COVER_URL = "https://i.scdn.co/image/ab67616d0000b273cover"
LINK = "https://open.spotify.com/album/4aawyAB9vmqN3uQ7FjRGTy"
PHOTO_BYTES = b"\xff\xd8\xff\xe0 a jpeg"


def make_prediction(top: str = "Rock", tags: tuple[str, ...] = ("dark", "guitar", "grainy")) -> Prediction:
    others = [g for g in GENRES if g != top]
    probabilities = [0.62, 0.19, 0.1, 0.06, 0.03]
    return Prediction(
        genres=[GenreScore(g, p) for g, p in zip([top, *others], probabilities, strict=True)],
        popularity=Popularity(31.0, 17.0, 44.0, 0.2, "covers barely predict popularity"),
        tags=[Tag(t, 0.9 - i * 0.01) for i, t in enumerate(tags)],
        distinctive_tags={top: list(tags[:2])},
        model_version="v20261122-044653",
        features=np.zeros(4, dtype=np.float32),
    )


def prediction_reply(**changes: Any) -> Reply:
    values: dict[str, Any] = {
        "kind": "prediction",
        "title": "Lanterns at Dusk — The Velvet Lanterns",
        "prediction": make_prediction(),
        "prediction_id": 7,
        "source_kind": "spotify",
        "source_ref": LINK,
        "cover_url": COVER_URL,
        "cover_bytes": PHOTO_BYTES,
        "spotify_genres": ("psychedelic rock", "indie rock"),
    }
    return Reply(**(values | changes))


def fake_service(admins: tuple[str, ...] = (str(ADMIN_ID),)) -> MagicMock:
    """The Service's methods (async ones as AsyncMock), answering with real Replies and no model."""
    service = MagicMock(spec=Service)
    service.predictor = SimpleNamespace(genres=list(GENRES), version="v20261122-044653")
    service.config = ServiceConfig(admin_user_ids=frozenset(admins), image_max_bytes=1_000_000)
    service.is_admin.side_effect = lambda user_id: user_id in admins
    service.handle_message.return_value = [prediction_reply()]
    service.guess.return_value = prediction_reply()

    async def guess_text(who, text):  # the real parsing, answered by the mocked guess()
        return await Service.guess_text(service, who, text)

    service.guess_text.side_effect = guess_text
    service.vote.return_value = VoteAck(7, "Rock", True, "Thanks! Noted: Rock.")
    service.retract.return_value = True
    service.attach_message.return_value = True
    service.tags.side_effect = lambda genre=None: (
        {g: [DistinctiveTag("dark", 1.4), DistinctiveTag("guitar")] for g in GENRES} if genre is None
        else {"Rock": [DistinctiveTag("dark", 1.4), DistinctiveTag("guitar")]}
    )
    service.stats.return_value = {
        "model_version": "v20261122-044653",
        "genres": list(GENRES),
        "predictions": 12,
        "predictions_this_model": 10,
        "votes": 5,
        "voters": 3,
        "live_accuracy": {"top1": 0.6, "n": 5},
        "last_retrain": None,
    }
    service.forget.return_value = {"votes": 2, "predictions": 1}
    return service


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"TELEGRAM_TOKEN": TOKEN, "ADMIN_USER_IDS": {str(ADMIN_ID)}}
    return Settings(_env_file=None, **(values | overrides))


# -- the fake Bot API --------------------------------------------------------------------------------


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    uploads: dict[str, Any] = field(default_factory=dict)


def user_dict(user_id: int = USER_ID, is_bot: bool = False, name: str = "Ada") -> dict[str, Any]:
    return {"id": user_id, "is_bot": is_bot, "first_name": name}


def bot_user() -> dict[str, Any]:
    return {**user_dict(BOT_ID, True, "Sleeve"), "username": BOT_USERNAME}


def chat_dict(chat_id: int) -> dict[str, Any]:
    return {"id": chat_id, "type": "private", "first_name": "Ada"} if chat_id > 0 else {
        "id": chat_id,
        "type": "supergroup",
        "title": "Record club",
    }


class RecordingRequest(BaseRequest):
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.downloads: list[str] = []
        self.files: dict[str, bytes] = {}  # file_id -> bytes served by the file endpoint
        self._faults: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        self._ids = itertools.count(1000)

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    def fail(self, method: str, status: int, description: str, times: int = 1, **parameters: Any) -> None:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        self._faults[method] += [(status, body)] * times

    def called(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def sent(self) -> list[Call]:
        """Messages sent (photos and texts), in order."""
        return [c for c in self.calls if c.method in ("sendPhoto", "sendMessage")]

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, **timeouts: Any
    ) -> tuple[int, bytes]:
        if "/file/bot" in url:
            path = url.split("/file/bot", 1)[1].split("/", 1)[1]
            self.downloads.append(path)
            return 200, self.files[path.removeprefix("photos/")]
        api = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        uploads = dict(request_data.multipart_data) if request_data and request_data.contains_files else {}
        self.calls.append(Call(api, params, uploads))
        if self._faults[api]:
            status, body = self._faults[api].pop(0)
            return status, json.dumps(body).encode()
        return 200, json.dumps({"ok": True, "result": self._result(api, params)}).encode()

    def _result(self, api: str, params: dict[str, Any]) -> Any:
        if api == "getMe":
            return {**bot_user(), "can_join_groups": True, "can_read_all_group_messages": False,
                    "supports_inline_queries": False}
        if api == "getFile":
            file_id = params["file_id"]
            data = self.files.get(file_id, b"")
            return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(data),
                    "file_path": f"photos/{file_id}"}
        if api in ("sendPhoto", "sendMessage", "editMessageText"):
            chat_id = int(params["chat_id"])
            message: dict[str, Any] = {
                "message_id": int(params.get("message_id") or next(self._ids)),
                "date": 1_700_000_000,
                "chat": chat_dict(chat_id),
                "from": bot_user(),
            }
            if api == "sendPhoto":
                message["photo"] = [{"file_id": "sent", "file_unique_id": "sent", "width": 640, "height": 640}]
                message["caption"] = params.get("caption", "")
            else:
                message["text"] = params.get("text", "")
            return message
        return True


# -- updates -----------------------------------------------------------------------------------------

_update_ids = itertools.count(1)


def message_update(
    text: str | None = None,
    *,
    chat_id: int = USER_ID,
    user_id: int = USER_ID,
    message_id: int = 10,
    **fields: Any,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": message_id,
        "date": 1_700_000_000,
        "chat": chat_dict(chat_id),
        "from": user_dict(user_id),
    }
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    message.update(fields)
    return {"update_id": next(_update_ids), "message": message}


def photo_sizes(*file_ids: str, size: int = 100) -> list[dict[str, Any]]:
    return [
        {"file_id": fid, "file_unique_id": f"u{fid}", "width": 90 * (i + 1), "height": 90 * (i + 1),
         "file_size": size * (i + 1)}
        for i, fid in enumerate(file_ids)
    ]


def callback_update(data: str, *, chat_id: int = USER_ID, message_id: int = 1000, user_id: int = USER_ID) -> dict:
    return {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": "cb1",
            "from": user_dict(user_id),
            "chat_instance": "ci",
            "data": data,
            "message": {"message_id": message_id, "date": 1_700_000_000, "chat": chat_dict(chat_id),
                        "from": bot_user(), "caption": "…"},
        },
    }


def reaction_update(old: list[str], new: list[str], *, chat_id: int = USER_ID, message_id: int = 1000,
                    user_id: int | None = USER_ID) -> dict:
    reaction: dict[str, Any] = {
        "chat": chat_dict(chat_id),
        "message_id": message_id,
        "date": 1_700_000_000,
        "old_reaction": [{"type": "emoji", "emoji": e} for e in old],
        "new_reaction": [{"type": "emoji", "emoji": e} for e in new],
    }
    if user_id is not None:
        reaction["user"] = user_dict(user_id)
    else:
        reaction["actor_chat"] = chat_dict(chat_id)
    return {"update_id": next(_update_ids), "message_reaction": reaction}


# -- the harness -------------------------------------------------------------------------------------


@dataclass
class Harness:
    app: Application
    request: RecordingRequest
    service: MagicMock
    sleeps: list[float]

    async def feed(self, data: dict[str, Any]) -> None:
        await self.app.process_update(Update.de_json(data, self.app.bot))


@pytest.fixture
async def tg() -> AsyncIterator[Harness]:
    request = RecordingRequest()
    service = fake_service()
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    app = build_application(service, settings(), request=request, sleep=sleep)
    await app.initialize()
    try:
        yield Harness(app, request, service, sleeps)
    finally:
        await app.shutdown()
