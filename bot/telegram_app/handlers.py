"""Telegram updates in, bot.service calls out, replies back: no judging logic lives here.

Votes come two ways:
- Buttons under each reply (callback queries "v:<genre>", "v:__top__"): the reliable path.
- Message reactions, when Telegram delivers them: the genre's emoji from GENRE_EMOJIS votes, the
  CONFIRM_EMOJI (or 👍) confirms the top guess, removing it retracts the vote if that reaction is
  still what the vote says (a newer vote, by button or reaction, stays). Telegram only reports
  reactions in groups to bots that are administrators there (private chats always work), and
  only emoji from its fixed reaction set can be used (the default genre emoji are not in it),
  so reactions are a bonus, never the only way to vote.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
from typing import Any

from telegram import Bot, CallbackQuery, Document, Message, MessageEntity, PhotoSize, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.render_text import render_reply, render_stats, render_tags
from bot.replies import OOPS, Incoming, IncomingImage, Platform, Reply, Requester
from bot.service import Service
from bot.settings import Settings
from bot.telegram_app import render
from bot.telegram_app.send import Sender, Sleep

log = logging.getLogger(__name__)

PLATFORM: Platform = "telegram"
Context = ContextTypes.DEFAULT_TYPE

GUESS_USAGE = "Send /guess with a Spotify link or an image URL, or reply /guess to a photo."
UNKNOWN_PREDICTION = "Sorry — I can't find that guess any more, so I couldn't record your vote."
NOT_A_VOTE = "That button doesn't do anything any more."
ADMINS_ONLY = "Only the bot's admins can retrain the model."
NO_RETRAIN = "Retraining is not available in this build."
RETRAIN_STARTED = "Retraining… this can take a few minutes."
PROGRESS_EVERY_S = 2.0  # Telegram allows about one edit a second per chat; stay well under


class TelegramFrontEnd:
    """The handlers, sharing one Service, the settings and a Sender."""

    def __init__(self, service: Service, settings: Settings, *, sleep: Sleep = asyncio.sleep) -> None:
        self.service = service
        self.settings = settings
        self.sender = Sender(sleep)
        self.sleep = sleep
        self.reactions = render.reaction_choices(settings.GENRE_EMOJIS, settings.CONFIRM_EMOJI)
        # No redaction here: configure_logging's RedactingFilter takes the token out of every log line.

    # -- messages ---------------------------------------------------------------------------------

    async def on_message(self, update: Update, context: Context) -> None:
        """Spotify links, photos and image documents: the service decides what deserves an answer."""
        message = update.message
        if message is None:
            return
        try:
            incoming = await self.incoming(message, context.bot)
            for reply in await self.service.handle_message(incoming):
                await self.answer(message, reply)
        except Exception:
            log.exception("failed to handle a telegram message")

    async def incoming(self, message: Message, bot: Bot) -> Incoming:
        private = message.chat.type == ChatType.PRIVATE
        mentioned = private or addressed(message, bot)
        in_image_channel = private or str(message.chat.id) in self.settings.IMAGE_CHANNEL_IDS
        attachments: list[IncomingImage] = []
        if mentioned or in_image_channel:  # the service judges images only then: skip other downloads
            image = await self.image(message)
            if image is not None:
                attachments.append(image)
        author, on_behalf_of = message.from_user, message.sender_chat
        return Incoming(
            platform=PLATFORM,
            text=message.text or message.caption or "",
            attachments=attachments,
            # Anonymous group admins and channels post as a chat (from_user is then a placeholder bot).
            author_id=str(on_behalf_of.id) if on_behalf_of else str(author.id) if author else "",
            author_is_bot=on_behalf_of is None and bool(author and author.is_bot),
            channel_id=str(message.chat.id),
            server_id=None,
            message_id=str(message.message_id),
            mentioned=mentioned,
            in_image_channel=in_image_channel,
        )

    async def image(self, message: Message) -> IncomingImage | None:
        """The message's photo (largest size) or image document, downloaded; None when it has neither.

        Too large (by the declared size) or undownloadable: an IncomingImage without data, which the
        service answers with its own message.
        """
        document = message.document
        item: PhotoSize | Document
        filename: str | None
        content_type: str | None
        if message.photo:
            item, filename, content_type = message.photo[-1], None, "image/jpeg"
        elif document is not None and (document.mime_type or "").lower().startswith("image/"):
            item, filename, content_type = document, document.file_name, document.mime_type
        else:
            return None
        described = IncomingImage(filename=filename, content_type=content_type, size=item.file_size)
        if item.file_size is not None and item.file_size > self.service.config.image_max_bytes:
            return described
        try:
            file = await self.sender.call(item.get_file, "get file")
            if file is None:
                return described
            data = await file.download_as_bytearray()
        except TelegramError as exc:
            log.warning("could not download a telegram file", extra={"error": str(exc)})
            return described
        return IncomingImage(data=bytes(data), filename=filename, content_type=content_type, size=item.file_size)

    async def answer(self, message: Message, reply: Reply) -> Message | None:
        """Send one Reply; for a recorded prediction, with vote buttons, then tell the service which message it is."""
        if reply.kind != "prediction" or reply.prediction is None:
            return await self.sender.text(message, render_reply(reply))
        keyboard = None
        if reply.prediction_id is not None:
            keyboard = render.vote_keyboard(
                self.service.predictor.genres,
                self.settings.GENRE_EMOJIS,
                self.settings.CONFIRM_EMOJI,
                reply.prediction.top_genre,
            )
        rendered = render.render_prediction(reply, self.settings.CONFIRM_EMOJI)
        photos = [p for p in (reply.cover_url, reply.cover_bytes) if p]
        sent = await self.sender.prediction(message, rendered, photos, keyboard)
        if sent is not None and reply.prediction_id is not None:
            await self.service.attach_message(reply.prediction_id, render.message_key(sent.chat_id, sent.message_id))
        return sent

    # -- votes ------------------------------------------------------------------------------------

    async def on_vote_button(self, update: Update, context: Context) -> None:
        """A vote button: record the vote, and always answer the query (else the button spins)."""
        query = update.callback_query
        if query is None:
            return
        text = NOT_A_VOTE
        try:
            choice = render.parse_vote(query.data)
            if choice is not None and query.message is not None:
                user_id = str(query.from_user.id)
                key = render.message_key(query.message.chat.id, query.message.message_id)
                ack = await self.service.vote(PLATFORM, key, user_id, choice, is_admin=self.service.is_admin(user_id))
                text = ack.text if ack is not None else UNKNOWN_PREDICTION
        except Exception:
            log.exception("failed to record a telegram vote")
            text = OOPS
        finally:
            await self._answer_query(query, text)

    async def _answer_query(self, query: CallbackQuery, text: str) -> None:
        """Once, at once: a late answer is useless (the button stops spinning after a while anyway)."""
        try:
            await query.answer(text[: render.ANSWER_LIMIT])
        except TelegramError as exc:  # e.g. "query is too old", or flood control
            log.info("could not answer a callback query", extra={"error": f"{type(exc).__name__}: {exc.message}"})

    async def on_reaction(self, update: Update, context: Context) -> None:
        """A genre emoji added votes, the last one removed retracts (see the module docstring)."""
        reaction = update.message_reaction
        if reaction is None or reaction.user is None:  # anonymous (a chat reacted): nobody to credit
            return
        if reaction.user.is_bot:
            return
        try:
            old = self._choices(reaction.old_reaction)
            new = self._choices(reaction.new_reaction)
            added = [choice for choice in new if choice not in old]
            removed = [choice for choice in old if choice not in new]
            user_id = str(reaction.user.id)
            key = render.message_key(reaction.chat.id, reaction.message_id)
            if added:
                await self.service.vote(PLATFORM, key, user_id, added[0], is_admin=self.service.is_admin(user_id))
            else:
                # Only a vote that is still this reaction's goes: a newer button vote stays.
                for choice in removed:
                    await self.service.retract(PLATFORM, key, user_id, choice)
        except Exception:
            log.exception("failed to handle a telegram reaction")

    def _choices(self, reactions: Any) -> list[str]:
        found = []
        for reaction in reactions:
            emoji = getattr(reaction, "emoji", None)  # custom and paid reactions have none
            choice = render.reaction_choice(emoji, self.reactions) if emoji else None
            if choice is not None and choice not in found:
                found.append(choice)
        return found

    # -- commands ---------------------------------------------------------------------------------

    async def cmd_help(self, update: Update, context: Context) -> None:
        await self._say(update, render.HELP.format(confirm=self.settings.CONFIRM_EMOJI))

    async def cmd_guess(self, update: Update, context: Context) -> None:
        """/guess LINK or /guess URL; or /guess in reply to a photo, an image document, or a message with a link."""
        message = update.effective_message
        if message is None:
            return
        try:
            who = self._who(update)
            argument = " ".join(context.args or [])
            target = message.reply_to_message
            reply: Reply | None = None
            if argument:
                reply = await self.service.guess_text(who, argument)
            elif target is not None:
                image = await self.image(target)
                if image is not None:
                    reply = await self.service.guess(who=who, image=image)
                else:
                    reply = await self.service.guess_text(who, target.text or target.caption or "")
            if reply is None:
                await self.sender.text(message, GUESS_USAGE)
                return
            await self.answer(message, reply)
        except Exception:
            log.exception("telegram /guess failed")
            await self._say(update, OOPS)

    async def cmd_tags(self, update: Update, context: Context) -> None:
        try:
            text = render_tags(self.service.tags(" ".join(context.args or []).strip() or None))
        except Exception:
            log.exception("telegram /tags failed")
            text = OOPS
        await self._say(update, text)

    async def cmd_stats(self, update: Update, context: Context) -> None:
        try:
            text = render_stats(await self.service.stats())
        except Exception:
            log.exception("telegram /stats failed")
            text = OOPS
        await self._say(update, text)

    async def cmd_forget(self, update: Update, context: Context) -> None:
        user = update.effective_user
        if user is None:
            return
        try:
            gone = await self.service.forget(PLATFORM, str(user.id))
            text = (
                f"Done: I forgot {_count(gone.get('votes', 0), 'vote')} and "
                f"{_count(gone.get('predictions', 0), 'prediction')} you asked for."
            )
        except Exception:
            log.exception("telegram /forget failed")
            text = OOPS
        await self._say(update, text)

    async def cmd_retrain(self, update: Update, context: Context) -> None:
        """Admins only (ADMIN_USER_IDS): retrain, showing progress, then old vs new metrics and the decision."""
        user, message = update.effective_user, update.effective_message
        if user is None or message is None:
            return
        if not self.service.is_admin(str(user.id)):
            await self.sender.text(message, ADMINS_ONLY)
            return
        retrain = getattr(self.service, "retrain", None)
        if not callable(retrain):
            await self.sender.text(message, NO_RETRAIN)
            return
        status = StatusMessage(self.sender, await self.sender.text(message, RETRAIN_STARTED), message, self.sleep)
        try:
            if inspect.iscoroutinefunction(retrain):
                result = await retrain(trigger="manual", progress=status)
            else:  # a blocking one must not stall the event loop (Discord shares it)
                result = await asyncio.to_thread(retrain, trigger="manual", progress=status)
            if inspect.isawaitable(result):
                result = await result
            final = render.render_retrain(result)
        except Exception as exc:
            log.exception("telegram /retrain failed")
            final = getattr(exc, "user_message", None) or f"Retraining failed: {type(exc).__name__}: {exc}"
        await status.finish(final)

    def _who(self, update: Update) -> Requester:
        user, chat = update.effective_user, update.effective_chat
        return Requester(PLATFORM, str(user.id) if user else None, str(chat.id) if chat else None, None)

    async def _say(self, update: Update, text: str) -> None:
        message = update.effective_message
        if message is not None:
            await self.sender.text(message, text)

    # -- errors -----------------------------------------------------------------------------------

    async def on_error(self, update: object, context: Context) -> None:
        """The application's error handler: one log entry, never a crash (the log filter redacts the token)."""
        error = context.error
        if error is None:
            return
        where = f" (update {update.update_id})" if isinstance(update, Update) else ""
        log.error("telegram error%s: %s: %s", where, type(error).__name__, error, exc_info=error)


def addressed(message: Message, bot: Bot) -> bool:
    """The message mentions the bot, replies to it, or is a photo captioned /guess."""
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
        return True
    username = f"@{bot.username}".casefold() if bot.username else None
    kinds: list[str | None] = [MessageEntity.MENTION, MessageEntity.TEXT_MENTION, MessageEntity.BOT_COMMAND]
    entities = {**message.parse_entities(kinds), **message.parse_caption_entities(kinds)}
    for entity, text in entities.items():
        if entity.type == MessageEntity.TEXT_MENTION and entity.user is not None and entity.user.id == bot.id:
            return True
        if entity.type == MessageEntity.MENTION and text.casefold() == username:
            return True
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            command, _, target = text.partition("@")
            if command.casefold() == "/guess" and (not target or f"@{target}".casefold() == username):
                return True
    return False


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


class StatusMessage:
    """A progress callback that edits one status message, at most every PROGRESS_EVERY_S.

    Callable from the event loop or from a worker thread (a blocking retrain); the latest text
    wins. Calling it returns an awaitable that is already done, so `progress(x)` and
    `await progress(x)` both work.
    """

    def __init__(self, sender: Sender, status: Message | None, origin: Message, sleep: Sleep) -> None:
        self._sender = sender
        self._status = status
        self._origin = origin
        self._sleep = sleep
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._latest: str | None = None
        self._shown: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._last_edit = 0.0
        self._finished = False

    def __call__(self, *args: Any, **kwargs: Any) -> _Done:
        text = render.render_progress(args, kwargs)
        if threading.get_ident() == self._loop_thread:
            self._update(text)
        else:
            self._loop.call_soon_threadsafe(self._update, text)
        return _Done()

    def _update(self, text: str) -> None:
        if self._finished:  # a late call from a worker thread: the final text stays
            return
        self._latest = text
        if self._task is None or self._task.done():
            self._task = self._loop.create_task(self._flush())

    async def _flush(self) -> None:
        wait = self._last_edit + PROGRESS_EVERY_S - time.monotonic()
        if wait > 0:
            await self._sleep(wait)
        if self._latest is not None and self._latest != self._shown:
            await self._show(self._latest)

    async def _show(self, text: str) -> None:
        self._shown = text
        self._last_edit = time.monotonic()
        try:
            if self._status is None:
                self._status = await self._sender.text(self._origin, text)
            else:
                self._status = await self._sender.edit(self._status, text) or self._status
        except Exception:
            log.exception("could not show retrain progress")

    async def finish(self, text: str) -> None:
        self._finished = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._show(text)


class _Done:
    """An awaitable that is already finished."""

    def __await__(self):  # type: ignore[no-untyped-def]
        return iter(())

