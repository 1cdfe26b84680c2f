"""/guess, /tags, /stats, /forget, /help and the admin-only /retrain."""

from __future__ import annotations

from unittest.mock import AsyncMock

import pytest

from bot.render_genres import render_genres
from bot.render_retrain import render_retrain
from bot.replies import OOPS, Requester
from bot.retraining import RetrainFailed, RetrainRefused
from bot.service.genres import GenresReport, PendingGenre
from bot.telegram_app.handlers import (
    ADMINS_ONLY,
    ADMINS_ONLY_GENRES,
    GUESS_USAGE,
    RETRAIN_STARTED,
)
from tests.bot.retrain_results import PROMOTED, REJECTED
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
from training.result import RetrainResult


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
    tg.service.retrain = AsyncMock(return_value=PROMOTED)
    await tg.feed(message_update("/retrain"))
    tg.service.retrain.assert_not_awaited()
    assert texts(tg) == [ADMINS_ONLY]


async def test_retrain_by_an_admin_shows_progress_and_the_typed_result(tg: Harness) -> None:
    async def retrain(*, trigger: str, progress) -> RetrainResult:
        assert trigger == "manual"
        await progress("Retraining started")
        await progress("Still training… (10 s)")  # within the interval: dropped
        return PROMOTED

    tg.service.retrain = AsyncMock(side_effect=retrain)
    await tg.feed(message_update("/retrain", user_id=ADMIN_ID, chat_id=ADMIN_ID))
    tg.service.retrain.assert_awaited_once()
    [status] = tg.request.called("sendMessage")
    assert status.params["text"] == RETRAIN_STARTED
    edits = [c.params for c in tg.request.called("editMessageText")]
    assert [e["text"] for e in edits[:-1]] == ["Retraining started"]
    assert edits[-1]["message_id"] == 1000 and edits[-1]["text"] == render_retrain(PROMOTED)


@pytest.mark.parametrize("refusal", [RetrainRefused("A retrain is already running."),
                                     RetrainFailed("Retraining failed; the current model stays.")])
async def test_a_refused_or_failed_retrain_shows_its_message(tg: Harness, refusal: Exception) -> None:
    tg.service.retrain = AsyncMock(side_effect=refusal)
    await tg.feed(message_update("/retrain", user_id=ADMIN_ID, chat_id=ADMIN_ID))
    assert tg.request.called("editMessageText")[-1].params["text"] == str(refusal)


async def test_an_unexpected_retrain_error_is_an_apology(tg: Harness) -> None:
    tg.service.retrain = AsyncMock(side_effect=KeyError("boom"))
    await tg.feed(message_update("/retrain", user_id=ADMIN_ID, chat_id=ADMIN_ID))
    assert tg.request.called("editMessageText")[-1].params["text"] == OOPS


async def test_retrain_status_message_gone_sends_a_new_one(tg: Harness) -> None:
    tg.service.retrain = AsyncMock(return_value=REJECTED)
    tg.request.fail("editMessageText", 400, "Bad Request: message to edit not found")
    await tg.feed(message_update("/retrain", user_id=ADMIN_ID, chat_id=ADMIN_ID))
    status, final = texts(tg)
    assert status == RETRAIN_STARTED and final == render_retrain(REJECTED)


async def test_guess_in_reply_to_a_message_with_a_link(tg: Harness) -> None:
    linked = {"message_id": 3, "date": 1_700_000_000, "chat": {"id": GROUP_ID, "type": "supergroup"},
              "from": {"id": 5, "is_bot": False, "first_name": "Bo"}, "text": f"this one: {LINK}"}
    await tg.feed(message_update("/guess", chat_id=GROUP_ID, reply_to_message=linked))
    assert tg.service.guess.await_args.kwargs == {
        "who": Requester("telegram", str(USER_ID), str(GROUP_ID), None), "link": f"this one: {LINK}"
    }
    await tg.feed(message_update("/guess hello"))
    assert texts(tg)[-1] == GUESS_USAGE


REPORT = GenresReport(["Pop", "Rock"], [PendingGenre("Jazz", 30, approved=False, next_retrain=False)], "admin", 25)


async def test_genres_lists_the_suggestions(tg: Harness) -> None:
    tg.service.genres = AsyncMock(return_value=REPORT)
    await tg.feed(message_update("/genres"))
    assert texts(tg) == [render_genres(REPORT)] and "- Jazz: 30 covers" in texts(tg)[0]


async def test_genres_approve_is_for_admins(tg: Harness) -> None:
    tg.service.approve_genre = AsyncMock(return_value="Approved Jazz as a new genre.")
    await tg.feed(message_update("/genres approve Jazz"))
    tg.service.approve_genre.assert_not_awaited()
    assert texts(tg) == [ADMINS_ONLY_GENRES]
    await tg.feed(message_update("/genres approve Jazz Fusion", user_id=ADMIN_ID, chat_id=ADMIN_ID))
    tg.service.approve_genre.assert_awaited_once_with("Jazz Fusion", str(ADMIN_ID))
    assert texts(tg)[-1] == "Approved Jazz as a new genre."
