"""Messages in, Incoming to the service, replies out: links, photos, documents, and Telegram's refusals."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from telegram.error import NetworkError

from bot.logging_setup import configure_logging
from bot.replies import IncomingImage, Reply
from bot.telegram_app import build_application
from tests.bot.telegram.conftest import (
    BOT_USERNAME,
    COVER_URL,
    GROUP_ID,
    LINK,
    PHOTO_BYTES,
    TOKEN,
    USER_ID,
    Harness,
    RecordingRequest,
    bot_user,
    fake_service,
    message_update,
    photo_sizes,
    prediction_reply,
    settings,
)


def buttons(call) -> list[tuple[str, str]]:
    rows = call.params["reply_markup"]["inline_keyboard"]
    return [(b["text"], b["callback_data"]) for row in rows for b in row]


async def test_spotify_link_in_a_private_chat(tg: Harness) -> None:
    await tg.feed(message_update(f"listen: {LINK}"))

    [incoming] = tg.service.handle_message.await_args.args
    assert incoming.platform == "telegram"
    assert incoming.text == f"listen: {LINK}"
    assert incoming.attachments == []
    assert (incoming.author_id, incoming.channel_id, incoming.message_id) == (str(USER_ID), str(USER_ID), "10")
    assert incoming.server_id is None and not incoming.author_is_bot
    assert incoming.mentioned and incoming.in_image_channel

    [photo] = tg.request.sent()
    assert photo.method == "sendPhoto" and photo.params["photo"] == COVER_URL
    assert photo.params["parse_mode"] == "HTML"
    caption = photo.params["caption"]
    assert len(caption) <= 1024
    assert "<b>Lanterns at Dusk — The Velvet Lanterns</b>" in caption
    assert "<pre>Rock" in caption and "62%" in caption and "why: dark, guitar" in caption
    assert "Popularity: ~31 (17–44)" in caption
    assert "Tags: dark, guitar, grainy" in caption
    assert "Spotify says: psychedelic rock, indie rock" in caption
    assert buttons(photo) == [
        ("🤠 Country", "v:Country"),
        ("🎛️ Electronic", "v:Electronic"),
        ("🎤 HipHop", "v:HipHop"),
        ("🎵 Pop", "v:Pop"),
        ("🎸 Rock", "v:Rock"),
        ("✅ Rock is right", "v:__top__"),
    ]
    assert all(len(data.encode()) <= 64 for _, data in buttons(photo))
    tg.service.attach_message.assert_awaited_once_with(7, f"{USER_ID}:1000")


async def test_link_in_a_group_is_passed_on_without_mention(tg: Harness) -> None:
    await tg.feed(message_update(LINK, chat_id=GROUP_ID))
    [incoming] = tg.service.handle_message.await_args.args
    assert incoming.channel_id == str(GROUP_ID)
    assert not incoming.mentioned and not incoming.in_image_channel
    tg.service.attach_message.assert_awaited_once_with(7, f"{GROUP_ID}:1000")


async def test_photo_downloads_the_largest_size(tg: Harness) -> None:
    tg.request.files["big"] = PHOTO_BYTES
    tg.service.handle_message.return_value = [prediction_reply(cover_url=None, title="your image")]
    await tg.feed(message_update(photo=photo_sizes("small", "medium", "big")))

    assert [c.params["file_id"] for c in tg.request.called("getFile")] == ["big"]
    [incoming] = tg.service.handle_message.await_args.args
    [image] = incoming.attachments
    assert image.data == PHOTO_BYTES and image.size == 300 and image.content_type == "image/jpeg"
    assert incoming.text == "" and incoming.mentioned
    [photo] = tg.request.sent()
    assert photo.method == "sendPhoto" and "photo" in photo.uploads  # the cover's bytes, uploaded


async def test_photo_over_the_size_limit_is_not_downloaded(tg: Harness) -> None:
    await tg.feed(message_update(photo=photo_sizes("small", "huge", size=600_000)))  # huge: 1.2 MB > 1 MB
    assert tg.request.called("getFile") == []
    [image] = tg.service.handle_message.await_args.args[0].attachments
    assert image == IncomingImage(data=None, size=1_200_000, content_type="image/jpeg")


async def test_group_photo_without_mention_is_not_downloaded(tg: Harness) -> None:
    tg.service.handle_message.return_value = []
    await tg.feed(message_update(chat_id=GROUP_ID, photo=photo_sizes("a"), caption="nice"))
    assert tg.request.called("getFile") == []
    [incoming] = tg.service.handle_message.await_args.args
    assert incoming.attachments == [] and not incoming.mentioned and incoming.text == "nice"
    assert tg.request.sent() == []


async def test_group_listed_as_an_image_channel_answers_every_photo() -> None:
    request, service = RecordingRequest(), fake_service()
    request.files["a"] = PHOTO_BYTES

    async def sleep(seconds: float) -> None:
        pass

    app = build_application(service, settings(IMAGE_CHANNEL_IDS=str(GROUP_ID)), request=request, sleep=sleep)
    await app.initialize()
    try:
        tg = Harness(app, request, service, [])
        await tg.feed(message_update(chat_id=GROUP_ID, photo=photo_sizes("a"), caption="nice"))
    finally:
        await app.shutdown()
    [incoming] = service.handle_message.await_args.args
    assert incoming.in_image_channel and not incoming.mentioned
    assert incoming.attachments[0].data == PHOTO_BYTES


async def test_group_photo_that_mentions_the_bot(tg: Harness) -> None:
    tg.request.files["a"] = PHOTO_BYTES
    caption = f"@{BOT_USERNAME} what is this?"
    entities = [{"type": "mention", "offset": 0, "length": len(BOT_USERNAME) + 1}]
    await tg.feed(
        message_update(chat_id=GROUP_ID, photo=photo_sizes("a"), caption=caption, caption_entities=entities)
    )
    [incoming] = tg.service.handle_message.await_args.args
    assert incoming.mentioned and not incoming.in_image_channel
    assert incoming.text == caption and incoming.attachments[0].data == PHOTO_BYTES


async def test_group_photo_replying_to_the_bot_or_captioned_guess(tg: Harness) -> None:
    tg.request.files["a"] = PHOTO_BYTES
    bot_message = {"message_id": 5, "date": 1_700_000_000, "chat": {"id": GROUP_ID, "type": "supergroup"},
                   "from": bot_user(), "text": "…"}
    await tg.feed(message_update(chat_id=GROUP_ID, photo=photo_sizes("a"), reply_to_message=bot_message))
    assert tg.service.handle_message.await_args.args[0].mentioned

    guess = [{"type": "bot_command", "offset": 0, "length": 6}]
    await tg.feed(message_update(chat_id=GROUP_ID, photo=photo_sizes("a"), caption="/guess", caption_entities=guess))
    assert tg.service.handle_message.await_args.args[0].mentioned

    someone = {**bot_message, "from": {"id": 5, "is_bot": False, "first_name": "Bo"}}
    await tg.feed(message_update(chat_id=GROUP_ID, photo=photo_sizes("a"), reply_to_message=someone))
    assert not tg.service.handle_message.await_args.args[0].mentioned


async def test_image_document_is_accepted(tg: Harness) -> None:
    tg.request.files["doc"] = PHOTO_BYTES
    document = {"file_id": "doc", "file_unique_id": "udoc", "file_name": "cover.png", "mime_type": "image/png",
                "file_size": len(PHOTO_BYTES)}
    await tg.feed(message_update(document=document))
    [image] = tg.service.handle_message.await_args.args[0].attachments
    assert (image.data, image.filename, image.content_type) == (PHOTO_BYTES, "cover.png", "image/png")


async def test_non_image_document_is_ignored(tg: Harness) -> None:
    document = {"file_id": "pdf", "file_unique_id": "updf", "file_name": "liner.pdf", "mime_type": "application/pdf"}
    await tg.feed(message_update(document=document))
    tg.service.handle_message.assert_not_awaited()
    assert tg.request.called("getFile") == [] and tg.request.sent() == []


async def test_a_bot_author_is_flagged(tg: Harness) -> None:
    update = message_update(LINK)
    update["message"]["from"] = {"id": 555, "is_bot": True, "first_name": "Other bot"}
    await tg.feed(update)
    assert tg.service.handle_message.await_args.args[0].author_is_bot


async def test_error_replies_are_plain_text(tg: Harness) -> None:
    slow_down = Reply(kind="rate_limited", text="Slow down a little — try again in 9 s.")
    tg.service.handle_message.return_value = [slow_down]
    await tg.feed(message_update(LINK))
    [message] = tg.request.sent()
    assert message.method == "sendMessage" and message.params["text"] == "Slow down a little — try again in 9 s."
    assert "parse_mode" not in message.params and "reply_markup" not in message.params
    tg.service.attach_message.assert_not_awaited()


async def test_unrecorded_prediction_has_no_buttons(tg: Harness) -> None:
    tg.service.handle_message.return_value = [prediction_reply(prediction_id=None)]
    await tg.feed(message_update(LINK))
    [photo] = tg.request.sent()
    assert "reply_markup" not in photo.params and "Vote" not in photo.params["caption"]
    tg.service.attach_message.assert_not_awaited()


async def test_html_is_escaped(tg: Harness) -> None:
    reply = prediction_reply(title="<Tom & Jerry> — <b>Cats</b>", spotify_genres=("r&b",))
    tg.service.handle_message.return_value = [reply]
    await tg.feed(message_update(LINK))
    caption = tg.request.sent()[0].params["caption"]
    assert caption.startswith("<b>&lt;Tom &amp; Jerry&gt; — &lt;b&gt;Cats&lt;/b&gt;</b>\n")
    assert "Spotify says: r&amp;b" in caption


async def test_long_reply_splits_into_caption_and_text(tg: Harness) -> None:
    genres = tuple(f"genre {i} " + "y" * 200 for i in range(30))  # ~6 KB of "Spotify says"
    tg.service.handle_message.return_value = [prediction_reply(title="A" * 200, spotify_genres=genres)]
    await tg.feed(message_update(LINK))

    photo, *texts = tg.request.sent()
    assert photo.method == "sendPhoto" and len(photo.params["caption"]) <= 1024
    assert photo.params["caption"].startswith("<b>" + "A" * 200 + "</b>")
    assert texts and all(t.method == "sendMessage" and len(t.params["text"]) <= 4096 for t in texts)
    assert all(t.params["parse_mode"] == "HTML" for t in texts)
    everything = "\n".join([photo.params["caption"], *(t.params["text"] for t in texts)])
    assert everything.count("Spotify says: ") == 1 and "genre 29 " in everything
    assert "Vote: tap the right genre" in texts[-1].params["text"]
    # the vote buttons and the vote key stay with the cover
    assert "reply_markup" in photo.params and all("reply_markup" not in t.params for t in texts)
    tg.service.attach_message.assert_awaited_once_with(7, f"{USER_ID}:1000")


# PTB itself warns while building RetryAfter (its int -> timedelta migration); not ours to fix.
ptb_retry_after_warning = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@ptb_retry_after_warning
async def test_retry_after_on_send_waits_then_retries_once(tg: Harness) -> None:
    tg.request.fail("sendPhoto", 429, "Too Many Requests: retry after 3", retry_after=3)
    await tg.feed(message_update(LINK))
    assert tg.sleeps == [3.0]
    assert len(tg.request.called("sendPhoto")) == 2
    tg.service.attach_message.assert_awaited_once()


@ptb_retry_after_warning
async def test_retry_after_is_capped_and_gives_up_after_one_retry(tg: Harness, caplog) -> None:
    tg.request.fail("sendPhoto", 429, "Too Many Requests: retry after 600", times=2, retry_after=600)
    with caplog.at_level(logging.INFO, logger="bot.telegram_app"):
        await tg.feed(message_update(LINK))
    assert tg.sleeps == [30.0]
    assert len(tg.request.called("sendPhoto")) == 2 and tg.request.called("sendMessage") == []
    assert "giving up" in caplog.text
    tg.service.attach_message.assert_not_awaited()


async def test_rejected_photo_url_falls_back_to_the_bytes_then_text(tg: Harness) -> None:
    tg.request.fail("sendPhoto", 400, "Bad Request: wrong file identifier/HTTP URL specified")
    await tg.feed(message_update(LINK))
    first, second = tg.request.called("sendPhoto")
    assert first.params["photo"] == COVER_URL and "photo" in second.uploads
    assert tg.request.called("sendMessage") == []

    tg.request.calls.clear()
    tg.service.attach_message.reset_mock()
    tg.service.handle_message.return_value = [prediction_reply(cover_bytes=None)]
    tg.request.fail("sendPhoto", 400, "Bad Request: failed to get HTTP URL content")
    await tg.feed(message_update(LINK))
    photo, text = tg.request.sent()
    assert photo.method == "sendPhoto" and text.method == "sendMessage"
    assert text.params["parse_mode"] == "HTML" and "<b>Lanterns at Dusk" in text.params["text"]
    assert text.params["reply_markup"]["inline_keyboard"][-1][0]["callback_data"] == "v:__top__"
    tg.service.attach_message.assert_awaited_once_with(7, f"{USER_ID}:1001")


async def test_html_refused_falls_back_to_plain_text(tg: Harness) -> None:
    tg.service.handle_message.return_value = [prediction_reply(cover_url=None, cover_bytes=None)]
    tg.request.fail("sendMessage", 400, "Bad Request: can't parse entities")
    await tg.feed(message_update(LINK))
    html, plain = tg.request.called("sendMessage")
    assert html.params["parse_mode"] == "HTML" and "parse_mode" not in plain.params
    assert plain.params["text"].startswith("Lanterns at Dusk — The Velvet Lanterns\n")


async def test_blocked_bot_is_logged_and_dropped(tg: Harness, caplog) -> None:
    tg.request.fail("sendPhoto", 403, "Forbidden: bot was blocked by the user")
    with caplog.at_level(logging.INFO, logger="bot.telegram_app"):
        await tg.feed(message_update(LINK))
    assert len(tg.request.called("sendPhoto")) == 1 and tg.request.called("sendMessage") == []
    assert "blocked" in caplog.text
    tg.service.attach_message.assert_not_awaited()


async def test_service_failure_does_not_crash(tg: Harness, caplog) -> None:
    tg.service.handle_message.side_effect = RuntimeError("boom")
    await tg.feed(message_update(LINK))
    assert "failed to handle a telegram message" in caplog.text
    assert TOKEN not in caplog.text


async def test_several_replies_each_get_their_message(tg: Harness) -> None:
    tg.service.handle_message.return_value = [prediction_reply(prediction_id=7), prediction_reply(prediction_id=8)]
    await tg.feed(message_update(LINK))
    assert [c.args for c in tg.service.attach_message.await_args_list] == [(7, "42:1000"), (8, "42:1001")]


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


async def test_error_handler_logs_the_traceback_without_the_token(tg: Harness, caplog, restore_logging) -> None:
    stream = io.StringIO()
    configure_logging("INFO", "text", settings().secret_values(), stream=stream, quiet=())
    try:
        raise NetworkError(f"httpx.ConnectError for https://api.telegram.org/bot{TOKEN}/sendPhoto")
    except NetworkError as exc:
        error = exc
    with caplog.at_level(logging.ERROR, logger="bot.telegram_app"):
        await tg.app.process_error(update=None, error=error)
    [record] = [r for r in caplog.records if r.name.startswith("bot.telegram_app")]
    assert record.exc_info is not None and record.exc_info[1] is error  # the traceback as exc_info
    assert "Traceback" not in record.getMessage()
    logged = stream.getvalue()
    assert "telegram error: NetworkError" in logged and "[redacted]" in logged and "Traceback" in logged
    assert TOKEN not in logged and TOKEN.split(":")[1] not in logged


async def test_anonymous_group_admin_counts_as_the_group(tg: Harness) -> None:
    update = message_update(LINK, chat_id=GROUP_ID)
    placeholder = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
    update["message"]["from"] = placeholder
    update["message"]["sender_chat"] = {"id": GROUP_ID, "type": "supergroup", "title": "Record club"}
    await tg.feed(update)
    [incoming] = tg.service.handle_message.await_args.args
    assert incoming.author_id == str(GROUP_ID) and not incoming.author_is_bot
