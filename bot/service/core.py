"""The chat service every front end shares: messages and commands in, Replies out.

Nothing here knows Discord or Telegram. Nothing raises to the caller either: every failure
becomes a Reply (kind "error", "busy" or "rate_limited") with a message fit to show a person.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from bot import replies
from bot.fetch import FetchError, resolve_short_link
from bot.inference import Busy, InferencePool, Judged, PredictorLike
from bot.links import ShortLink, SpotifyRef, find_image_urls, find_spotify_refs, unjudgeable_spotify_link
from bot.replies import Incoming, IncomingImage, Reply, Requester, VoteAck
from bot.retraining import Progress, Retrainer, RetrainRefused
from bot.service.config import ServiceConfig
from bot.service.genres import GenresReport, approval_text, collect_genres
from bot.service.limits import FetchGate, Limits
from bot.service.sources import ShortLinkResolver, Sources, Subject, may_be_image
from bot.service.stats import collect_stats
from bot.spotify import SpotifyClient, SpotifyError
from feedback.labels import CONFIRM, canonical_genre, clean_label
from feedback.records import Platform, PredictionRecord, SourceKind
from feedback.store import Store
from models.distinctive import DistinctiveTag
from models.image import ImageError
from training.result import RetrainResult

log = logging.getLogger(__name__)

Clock = Callable[[], float]
CONFIRM_WORDS = frozenset({"ok", CONFIRM.casefold()})


class Service:
    def __init__(
        self,
        predictor: PredictorLike,
        store: Store,
        config: ServiceConfig,
        session: aiohttp.ClientSession,
        spotify: SpotifyClient,
        *,
        resolve_short: ShortLinkResolver | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self._store = store
        self._config = config
        self._pool = InferencePool(
            predictor, config.max_concurrent_predictions, config.max_queue, max_bytes=config.image_max_bytes
        )
        self.retrainer: Retrainer | None = None  # set by open_service
        self._sources = Sources(
            session, spotify, config, resolve_short or functools.partial(resolve_short_link, session)
        )
        self._limits = Limits(config.user_rate, config.channel_rate, clock)
        self._fetches = FetchGate(config.max_concurrent_fetches)

    # -- model ------------------------------------------------------------------------------------

    @property
    def predictor(self) -> PredictorLike:
        return self._pool.predictor

    @property
    def config(self) -> ServiceConfig:
        return self._config

    @property
    def models(self) -> InferencePool:
        """The served model and its swap: what the retrainer switches models through."""
        return self._pool

    def swap_predictor(self, predictor: PredictorLike) -> PredictorLike:
        """Answer with another model from now on (safe mid-request); returns the old one."""
        old = self._pool.swap(predictor)
        log.info("model swapped", extra={"old_version": old.version, "new_version": predictor.version})
        return old

    @property
    def pending_predictions(self) -> int:
        """Predictions running or waiting for a worker."""
        return self._pool.pending

    @property
    def pending_fetches(self) -> int:
        """Downloads and Spotify lookups in flight."""
        return self._fetches.in_flight

    async def retrain(self, trigger: str = "manual", progress: Progress | None = None) -> RetrainResult:
        """Retrain in a separate process and switch to the new model if it is promoted.

        Raises bot.retraining.RetrainRefused (with a message for people) when one is already running.
        """
        if self.retrainer is None:
            raise RetrainRefused("Retraining is not set up in this process.")
        return await self.retrainer.run(trigger, progress)

    def is_admin(self, user_id: str) -> bool:
        return user_id in self._config.admin_user_ids

    async def close(self) -> None:
        """Stop the inference threads (the store and session belong to whoever made them)."""
        await self._pool.shutdown()

    # -- passive mode -------------------------------------------------------------------------------

    async def handle_message(self, incoming: Incoming) -> list[Reply]:
        """Replies to a chat message: Spotify links always, images only when addressed or in an image channel."""
        if incoming.author_is_bot:
            return []
        try:
            links, images = self._find_work(incoming)
            if not (links or images):
                return []
            who = Requester.of(incoming)
            refused = self._limits.check(who)
            if refused is not None:
                return [replies.rate_limited(refused.retry_after)] if refused.notify else []
            refs = await self._resolve_all(links)
            jobs: list[Awaitable[Reply | None]] = [self._judge_ref(ref, who) for ref in refs]
            jobs += [self._safely(self._judge_attachment(image, who), who) for image in images]
            return [reply for reply in await asyncio.gather(*jobs) if reply is not None]
        except Exception:
            log.exception("failed to handle a message", extra={"platform": incoming.platform})
            return [replies.error(replies.OOPS)]

    def _find_work(self, incoming: Incoming) -> tuple[list[SpotifyRef | ShortLink], list[IncomingImage]]:
        """Spotify links, and images when addressed. Other URLs in chat are never fetched: arbitrary
        image URLs come only through an explicit `/guess url:`."""
        cap = self._config.max_links_per_message
        links = find_spotify_refs(incoming.text, limit=cap)
        if incoming.mentioned:
            images = incoming.attachments[:cap]
        elif incoming.in_image_channel:
            images = [a for a in incoming.attachments if may_be_image(a)][:cap]
        else:
            images = []
        return links, images

    async def _resolve_all(self, links: list[SpotifyRef | ShortLink]) -> list[SpotifyRef | Reply]:
        """Short links resolved, then duplicates dropped (a short link may name an item also linked directly)."""
        resolved = await asyncio.gather(*(self._resolve(link) for link in links))
        unique: list[SpotifyRef | Reply] = []
        for item in resolved:
            if item is not None and item not in unique:
                unique.append(item)
        return unique

    async def _resolve(self, link: SpotifyRef | ShortLink) -> SpotifyRef | Reply | None:
        if isinstance(link, SpotifyRef):
            return link
        try:
            with self._fetches.admit():
                return await self._sources.resolve(link)
        except FetchError as exc:
            return replies.error(exc.user_message)
        except Busy:
            return replies.busy()

    async def _judge_ref(self, ref: SpotifyRef | Reply, who: Requester) -> Reply:
        if isinstance(ref, Reply):
            return ref
        return await self._safely(self._judge(functools.partial(self._sources.spotify, ref), who), who)

    # -- commands -------------------------------------------------------------------------------------

    async def guess(
        self,
        *,
        who: Requester,
        link: str | None = None,
        image: bytes | IncomingImage | None = None,
        url: str | None = None,
    ) -> Reply:
        """One explicit request (a slash command, the console): always answered with exactly one Reply."""
        given = [x for x in (link, image, url) if x is not None]
        if len(given) != 1:
            return replies.error(replies.NOTHING_TO_JUDGE)
        refused = self._limits.check(who)
        if refused is not None:  # a command must be answered, so no silence after the first notice
            return replies.rate_limited(refused.retry_after)
        if link is not None:
            return await self._safely(self._guess_link(link, who), who)
        if url is not None:
            return await self._safely(self._judge_url(url, who, _kind(who, "url")), who)
        attachment = image if isinstance(image, IncomingImage) else IncomingImage(data=image)
        return await self._safely(self._judge_attachment(attachment, who), who)

    async def guess_text(self, who: Requester, text: str) -> Reply | None:
        """A typed request: a Spotify link, else an image URL; None when the text holds neither."""
        if find_spotify_refs(text, limit=1) or unjudgeable_spotify_link(text):
            return await self.guess(who=who, link=text)
        if urls := find_image_urls(text, limit=1):
            return await self.guess(who=who, url=urls[0])
        return None

    async def _guess_link(self, link: str, who: Requester) -> Reply:
        found = find_spotify_refs(link, limit=1)
        ref = None
        if found:
            with self._fetches.admit():
                ref = await self._sources.resolve(found[0])
        if ref is None:
            return replies.error(_why_not_judged(link))
        return await self._judge(functools.partial(self._sources.spotify, ref), who)

    async def vote(
        self, platform: Platform, message_id: str, user_id: str, choice: str, is_admin: bool = False
    ) -> VoteAck | None:
        """Record a vote on the prediction behind message_id; None when there is none (ignored quietly).

        choice: a genre name (any case), or CONFIRM / "ok" for "the top guess is right". A genre the
        model does not know is kept as a suggestion.
        """
        try:
            stored = await self._store.prediction_by_message(platform, message_id)
            if stored is None:
                return None
            label = self.normalize_choice(choice, extra_genres=stored.probabilities)
            if label is None:
                return None
            saved = await self._store.vote(stored.id, user_id, label, is_admin or self.is_admin(user_id))
            if saved is None:
                return None
            return _ack(stored.id, saved, known=saved in stored.probabilities)
        except Exception:
            log.exception("failed to record a vote", extra={"platform": platform})
            return None

    async def retract(self, platform: Platform, message_id: str, user_id: str, choice: str | None = None) -> bool:
        """Take back this user's vote on message_id; False when there was none.

        With `choice` (read as in `vote`), only a vote for that choice is taken back: removing an
        older reaction leaves the vote a newer one cast.
        """
        try:
            stored = await self._store.prediction_by_message(platform, message_id)
            if stored is None:
                return False
            label = None
            if choice is not None:
                label = self.normalize_choice(choice, extra_genres=stored.probabilities)
                if label is None:
                    return False
            return await self._store.retract(stored.id, user_id, label)
        except Exception:
            log.exception("failed to retract a vote", extra={"platform": platform})
            return False

    def normalize_choice(self, choice: str, extra_genres: Any = ()) -> str | None:
        """CONFIRM, a known genre's proper name, or the cleaned text as a suggestion; None if empty.

        Free text is cleaned (`feedback.labels.clean_label`) and genre names match by `genre_key`.
        """
        text = clean_label(choice)
        if not text:
            return None
        if text.casefold() in CONFIRM_WORDS:
            return CONFIRM
        return self.genre_named(text, extra_genres) or text

    def genre_named(self, name: str, extra_genres: Any = ()) -> str | None:
        """The known genre called name, ignoring case, spaces and hyphens."""
        return canonical_genre(name, [*self.predictor.genres, *extra_genres])

    async def attach_message(self, prediction_id: int, message_id: str) -> bool:
        """Front ends call this once the reply is sent, so votes on that message find the prediction."""
        try:
            return await self._store.set_message_id(prediction_id, message_id)
        except Exception:
            log.exception("failed to attach a message id")
            return False

    def tags(self, genre: str | None = None) -> dict[str, list[DistinctiveTag]]:
        """Distinctive tags (with lift) per genre (all genres, or the one named; {} for an unknown genre)."""
        predictor = self.predictor
        if genre is None:
            return {g: predictor.distinctive(g) for g in predictor.genres}
        name = self.genre_named(genre)
        return {name: predictor.distinctive(name)} if name else {}

    async def stats(self) -> dict[str, Any]:
        """Model version, store counts, live accuracy of the current model, queue load."""
        return await collect_stats(self._store, self._pool, self._config)

    async def genres(self) -> GenresReport:
        """Genres people suggested by vote, and which the next retrain adds (NEW_GENRES)."""
        return await collect_genres(self._store, list(self.predictor.genres), self._config)

    async def approve_genre(self, name: str, user_id: str) -> str:
        """An admin approves a suggested genre as a new class; the answer to show them."""
        known = list(self.predictor.genres)
        if canonical_genre(name, known) is not None:
            return approval_text(name, known, self._config.new_genres)
        stored = await self._store.approve_genre(name, user_id)
        return approval_text(stored, known, self._config.new_genres)

    async def forget(self, platform: Platform, user_id: str) -> dict[str, int]:
        """Delete a user's votes and the predictions they asked for."""
        votes, predictions = await self._store.forget_user(platform, user_id)
        return {"votes": votes, "predictions": predictions}

    # -- judging ----------------------------------------------------------------------------------------

    async def _judge_attachment(self, image: IncomingImage, who: Requester) -> Reply:
        fetch = functools.partial(self._sources.attachment, image, _kind(who, "upload"))
        return await self._judge(fetch, who, remote=image.data is None)

    async def _judge_url(self, url: str, who: Requester, source_kind: SourceKind) -> Reply:
        return await self._judge(functools.partial(self._sources.url, url, source_kind), who)

    async def _judge(self, fetch: Callable[[], Awaitable[Subject]], who: Requester, remote: bool = True) -> Reply:
        """Fetch (within the fetch limit), then predict (within the prediction slots).

        A prediction slot is taken only once the bytes are here, so a hanging host cannot hold
        slots that uploads need; but when the slots are all taken, nothing is downloaded.
        """
        if self._pool.is_full:
            raise Busy()
        if remote:
            with self._fetches.admit():
                subject = await fetch()
        else:
            subject = await fetch()
        judged = await self._pool.judge(subject.images, aggregate=subject.is_artist)
        prediction_id = await self._record(subject, judged, who)
        return self._prediction_reply(subject, judged, prediction_id)

    async def _record(self, subject: Subject, judged: Judged, who: Requester) -> int | None:
        """The store row's id; None if the store failed (the reply still goes out, just without votes)."""
        record = PredictionRecord.from_prediction(
            judged.prediction,
            platform=who.platform,
            source_kind=subject.source_kind,
            source_ref=subject.source_ref,
            image_sha256=judged.image_sha256,
            server_id=who.server_id,
            channel_id=who.channel_id,
            requester_id=who.user_id,
        )
        try:
            return await self._store.record_prediction(record)
        except Exception:
            log.exception("failed to record a prediction", extra={"platform": who.platform})
            return None

    def _prediction_reply(self, subject: Subject, judged: Judged, prediction_id: int | None) -> Reply:
        prediction = judged.prediction
        return Reply(
            kind="prediction",
            title=subject.title,
            text=subject.note,
            prediction=prediction,
            prediction_id=prediction_id,
            source_kind=subject.source_kind,
            source_ref=subject.source_ref,
            cover_url=subject.cover_url,
            cover_bytes=None if subject.is_artist else subject.images[0],
            spotify_genres=subject.spotify_genres,
            release_date=subject.release_date,
            is_artist_guess=subject.is_artist,
            n_covers=0 if subject.photo_only else judged.n_images,
            unsure=prediction.margin < self._config.unsure_margin,
        )

    async def _safely(self, work: Awaitable[Reply], who: Requester) -> Reply:
        """Every failure as a Reply: the user's fault or a remote's gets its message, ours gets an apology."""
        try:
            return await work
        except Busy:
            log.info("busy: inference queue full", extra={"platform": who.platform})
            return replies.busy()
        except (FetchError, SpotifyError) as exc:
            return replies.error(exc.user_message)
        except ImageError as exc:
            return replies.error(str(exc))
        except Exception:
            log.exception("failed to answer", extra={"platform": who.platform})
            return replies.error(replies.OOPS)


def _why_not_judged(link: str) -> str:
    reason = unjudgeable_spotify_link(link)
    if reason == "podcast":
        return replies.PODCAST
    if reason == "bad_id":
        return replies.BAD_SPOTIFY_ID
    return replies.NOT_A_LINK


def _kind(who: Requester, kind: SourceKind) -> SourceKind:
    """Everything the console judges from files and URLs is recorded as "console"."""
    return "console" if who.platform == "console" else kind


def _ack(prediction_id: int, label: str, known: bool) -> VoteAck:
    text = (
        f"Thanks! Noted: {label}." if known else (f"Thanks! I don't know “{label}” yet, so I noted it as a suggestion.")
    )
    return VoteAck(prediction_id, label, known, text)
