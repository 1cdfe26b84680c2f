"""Votes: inline buttons (always answered) and message reactions."""

from __future__ import annotations

import logging

import pytest

from bot.telegram_app.handlers import NOT_A_VOTE, UNKNOWN_PREDICTION
from feedback.labels import CONFIRM
from tests.bot.telegram.conftest import (
    ADMIN_ID,
    GROUP_ID,
    USER_ID,
    Harness,
    callback_update,
    reaction_update,
)


async def test_button_vote_records_and_answers(tg: Harness) -> None:
    await tg.feed(callback_update("v:Rock"))
    tg.service.vote.assert_awaited_once_with("telegram", f"{USER_ID}:1000", str(USER_ID), "Rock", is_admin=False)
    [answer] = tg.request.called("answerCallbackQuery")
    assert answer.params == {"callback_query_id": "cb1", "text": "Thanks! Noted: Rock."}


async def test_confirm_button_in_a_group_by_an_admin(tg: Harness) -> None:
    await tg.feed(callback_update("v:__top__", chat_id=GROUP_ID, message_id=77, user_id=ADMIN_ID))
    tg.service.vote.assert_awaited_once_with("telegram", f"{GROUP_ID}:77", str(ADMIN_ID), CONFIRM, is_admin=True)
    assert len(tg.request.called("answerCallbackQuery")) == 1


async def test_vote_on_an_unknown_prediction_is_still_answered(tg: Harness) -> None:
    tg.service.vote.return_value = None
    await tg.feed(callback_update("v:Pop"))
    [answer] = tg.request.called("answerCallbackQuery")
    assert answer.params["text"] == UNKNOWN_PREDICTION


async def test_foreign_button_and_failing_service_are_answered(tg: Harness) -> None:
    await tg.feed(callback_update("something-else"))
    tg.service.vote.assert_not_awaited()
    tg.service.vote.side_effect = RuntimeError("store down")
    await tg.feed(callback_update("v:Pop"))
    texts = [c.params["text"] for c in tg.request.called("answerCallbackQuery")]
    assert texts[0] == NOT_A_VOTE and texts[1].startswith("Something went wrong")


async def test_answer_failure_is_swallowed(tg: Harness) -> None:
    tg.request.fail("answerCallbackQuery", 400, "Bad Request: query is too old and response timeout expired")
    await tg.feed(callback_update("v:Rock"))
    tg.service.vote.assert_awaited_once()


@pytest.mark.parametrize(
    ("old", "new", "choice"),
    [
        ([], ["🎸"], "Rock"),
        ([], ["🎛"], "Electronic"),  # Telegram may drop the variation selector of 🎛️
        (["🎸"], ["🎵"], "Pop"),  # changed their mind
        (["🔥"], ["🔥", "✅"], CONFIRM),
        ([], ["👍"], CONFIRM),  # in Telegram's reaction set, unlike ✅
    ],
)
async def test_reaction_votes(tg: Harness, old, new, choice) -> None:
    await tg.feed(reaction_update(old, new))
    tg.service.vote.assert_awaited_once_with("telegram", f"{USER_ID}:1000", str(USER_ID), choice, is_admin=False)
    tg.service.retract.assert_not_awaited()


async def test_reaction_removed_retracts(tg: Harness) -> None:
    await tg.feed(reaction_update(["🎸"], [], chat_id=GROUP_ID, message_id=5))
    tg.service.retract.assert_awaited_once_with("telegram", f"{GROUP_ID}:5", str(USER_ID), "Rock")
    tg.service.vote.assert_not_awaited()


async def test_removing_a_reaction_retracts_only_its_own_vote(tg: Harness) -> None:
    await tg.feed(reaction_update([], ["👍"]))
    await tg.feed(callback_update("v:Rock"))
    await tg.feed(reaction_update(["👍"], []))
    # the service deletes the vote only if it is still CONFIRM, so the Rock button vote stays
    tg.service.retract.assert_awaited_once_with("telegram", f"{USER_ID}:1000", str(USER_ID), CONFIRM)


async def test_one_of_several_reactions_removed_retracts_that_one(tg: Harness) -> None:
    await tg.feed(reaction_update(["🎸", "🎵"], ["🎵"]))
    tg.service.retract.assert_awaited_once_with("telegram", f"{USER_ID}:1000", str(USER_ID), "Rock")
    tg.service.vote.assert_not_awaited()


async def test_reactions_by_bots_are_ignored(tg: Harness) -> None:
    update = reaction_update([], ["🎸"])
    update["message_reaction"]["user"]["is_bot"] = True
    await tg.feed(update)
    update = reaction_update(["🎸"], [])
    update["message_reaction"]["user"]["is_bot"] = True
    await tg.feed(update)
    tg.service.vote.assert_not_awaited()
    tg.service.retract.assert_not_awaited()


async def test_callback_query_is_answered_once_without_waiting(tg: Harness, caplog) -> None:
    tg.request.fail("answerCallbackQuery", 429, "Too Many Requests: retry after 5", retry_after=5)
    with caplog.at_level(logging.INFO, logger="bot.telegram_app"):
        await tg.feed(callback_update("v:Rock"))
    assert len(tg.request.called("answerCallbackQuery")) == 1 and tg.sleeps == []
    assert "could not answer a callback query" in caplog.text
    tg.service.vote.assert_awaited_once()


@pytest.mark.parametrize(
    ("old", "new", "user_id"),
    [([], ["🔥"], USER_ID), (["🎸"], ["🎸", "🔥"], USER_ID), ([], ["🎸"], None), (["🔥"], [], USER_ID)],
)
async def test_reactions_that_change_nothing(tg: Harness, old, new, user_id) -> None:
    await tg.feed(reaction_update(old, new, user_id=user_id))
    tg.service.vote.assert_not_awaited()
    tg.service.retract.assert_not_awaited()
    assert tg.request.sent() == []
