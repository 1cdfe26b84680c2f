"""/guess, /tags, /stats, /forget, /help and the admin-only /retrain."""

from __future__ import annotations

import asyncio
import threading
from unittest.mock import AsyncMock

from bot.replies import Requester
from bot.telegram_app.handlers import ADMINS_ONLY, GUESS_USAGE, NO_RETRAIN
from tests.bot.telegram.conftest import (
    ADMIN_ID,
    COVER_URL,
    GROUP_ID,
    LINK,
    PHOTO_BYTES,
    USER_ID,
    Harness,
    message_update,
    photo_sizes,
)

RESULT = {
    "status": "promoted",
    "promote": True,
    "reason": "promoted: base validation top-1 0.634 vs champion 0.612 (tolerance 0.010); no held-out feedback yet",
    "version": "v20261201-120000",
    "champion": "shipped",
    "champion_version": "v20261122-044653",
    "metrics": {
        "champion": {"base_validation": {"n": 500, "top1": 0.612, "macro_f1": 0.58}, "feedback_held_out": None},
        "challenger": {"base_validation": {"n": 500, "top1": 0.634, "macro_f1": 0.6}, "feedback_held_out": None},
    },
}


def texts(tg: Harness) -> list[str]:
    return [c.params["text"] for c in tg.request.called("sendMessage")]


async def test_guess_with_a_link(tg: Harness) -> None:
    await tg.feed(message_update(f"/guess {LINK}", chat_id=GROUP_ID))
    tg.service.guess.assert_awaited_once_with(
        who=Requester("telegram", str(USER_ID), str(GROUP_ID), None), link=LINK
    )
    [photo] = tg.request.sent()
    assert photo.method == "sendPhoto" and photo.params["photo"] == COVER_URL
    tg.service.attach_message.assert_awaited_once_with(7, f"{GROUP_ID}:1000")


async def test_guess_with_an_image_url(tg: Harness) -> None:
    await tg.feed(message_update("/guess https://example.com/cover.jpg"))
    assert tg.service.guess.await_args.kwargs["url"] == "https://example.com/cover.jpg"


async def test_guess_in_reply_to_a_photo(tg: Harness) -> None:
    tg.request.files["big"] = PHOTO_BYTES
    photo_message = {"message_id": 3, "date": 1_700_000_000, "chat": {"id": GROUP_ID, "type": "supergroup"},
                     "from": {"id": 5, "is_bot": False, "first_name": "Bo"}, "photo": photo_sizes("small", "big")}
    await tg.feed(message_update("/guess", chat_id=GROUP_ID, reply_to_message=photo_message))
    image = tg.service.guess.await_args.kwargs["image"]
    assert image.data == PHOTO_BYTES


async def test_guess_without_anything_explains(tg: Harness) -> None:
    await tg.feed(message_update("/guess"))
    tg.service.guess.assert_not_awaited()
    assert texts(tg) == [GUESS_USAGE]


async def test_tags_stats_forget_help(tg: Harness) -> None:
    await tg.feed(message_update("/tags"))
    await tg.feed(message_update("/tags rock"))
    await tg.feed(message_update("/stats"))
    await tg.feed(message_update("/forget"))
    await tg.feed(message_update("/help"))
    await tg.feed(message_update("/start"))
    all_tags, rock, stats, forget, help_text, start = texts(tg)
    assert all_tags.splitlines()[0] == "Country: dark ×1.4, guitar"
    assert len(all_tags.splitlines()) == 6  # five genres and the line saying what ×N means
    assert rock.splitlines()[0] == "Rock: dark ×1.4, guitar"
    assert tg.service.tags.call_args_list[1].args == ("rock",)
    assert stats.startswith("Model v20261122-044653") and "Live accuracy: 60% of 5 voted" in stats
    tg.service.forget.assert_awaited_once_with("telegram", str(USER_ID))
    assert forget == "Done: I forgot 2 votes and 1 prediction you asked for."
    assert "/guess" in help_text and "✅" in help_text and start == help_text


async def test_retrain_refused_for_non_admins(tg: Harness) -> None:
    tg.service.retrain = AsyncMock(return_value=RESULT)
    await tg.feed(message_update("/retrain"))
    tg.service.retrain.assert_not_awaited()
    assert texts(tg) == [ADMINS_ONLY]


async def test_retrain_not_in_this_build(tg: Harness) -> None:
    del tg.service.retrain  # a Service without retrain()
    await tg.feed(message_update("/retrain", user_id=ADMIN_ID, chat_id=ADMIN_ID))
    assert texts(tg) == [NO_RETRAIN]


async def test_retrain_by_an_admin_shows_progress_and_the_decision(tg: Harness) -> None:
    async def retrain(*, trigger: str, progress) -> dict:
        assert trigger == "manual"
        await progress("fitting", "2/3")
        progress("evaluating")
        return RESULT

    tg.service.retrain = AsyncMock(side_effect=retrain)
    await tg.feed(message_update("/retrain", user_id=ADMIN_ID, chat_id=ADMIN_ID))
    tg.service.retrain.assert_awaited_once()
    [status] = tg.request.called("sendMessage")
    assert status.params["text"].startswith("Retraining…")
    final = tg.request.called("editMessageText")[-1].params
    assert final["message_id"] == 1000
    assert final["text"].splitlines() == [
        "Retraining finished: promoted — now serving v20261201-120000",
        "Old model: v20261122-044653",
        "Base validation: top-1 0.612 → 0.634, macro-F1 0.580 → 0.600 (n=500)",
        f"Decision: {RESULT['reason']}",
    ]


async def test_blocking_retrain_runs_in_a_thread_and_failures_are_reported(tg: Harness) -> None:
    threads = []

    def retrain(*, trigger: str, progress) -> dict:
        threads.append(threading.current_thread())
        progress("fitting")
        raise RuntimeError("another retrain holds the lock")

    tg.service.retrain = retrain
    await tg.feed(message_update("/retrain", user_id=ADMIN_ID, chat_id=ADMIN_ID))
    assert threads and threads[0] is not threading.main_thread()
    final = tg.request.called("editMessageText")[-1].params["text"]
    assert final == "Retraining failed: RuntimeError: another retrain holds the lock"


async def test_retrain_status_message_gone_sends_a_new_one(tg: Harness) -> None:
    tg.service.retrain = AsyncMock(return_value=RESULT)
    tg.request.fail("editMessageText", 400, "Bad Request: message to edit not found")
    await tg.feed(message_update("/retrain", user_id=ADMIN_ID, chat_id=ADMIN_ID))
    status, final = texts(tg)
    assert status.startswith("Retraining…") and final.startswith("Retraining finished: promoted")


async def test_guess_in_reply_to_a_message_with_a_link(tg: Harness) -> None:
    linked = {"message_id": 3, "date": 1_700_000_000, "chat": {"id": GROUP_ID, "type": "supergroup"},
              "from": {"id": 5, "is_bot": False, "first_name": "Bo"}, "text": f"this one: {LINK}"}
    await tg.feed(message_update("/guess", chat_id=GROUP_ID, reply_to_message=linked))
    assert tg.service.guess.await_args.kwargs == {
        "who": Requester("telegram", str(USER_ID), str(GROUP_ID), None), "link": f"this one: {LINK}"
    }
    await tg.feed(message_update("/guess hello"))
    assert texts(tg)[-1] == GUESS_USAGE


async def test_retrain_progress_is_coalesced_into_few_edits(tg: Harness) -> None:
    async def retrain(*, trigger: str, progress) -> dict:
        for step in range(5):
            progress(f"step {step}/5")
        for _ in range(100):  # let the status message catch up
            if tg.request.called("editMessageText"):
                break
            await asyncio.sleep(0)
        return RESULT

    tg.service.retrain = retrain
    await tg.feed(message_update("/retrain", user_id=ADMIN_ID, chat_id=ADMIN_ID))
    edits = [c.params["text"] for c in tg.request.called("editMessageText")]
    assert edits[0] == "Retraining… step 4/5" and len(edits) == 2
    assert edits[1].startswith("Retraining finished: promoted")
