"""The chat service end to end: fake Spotify on 127.0.0.1, the real model, a real store."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.fetch import resolve_short_link
from bot.render_text import render_stats
from bot.replies import (
    BAD_SPOTIFY_ID,
    NOT_A_LINK,
    PODCAST,
    NOTHING_TO_JUDGE,
    OOPS,
    Incoming,
    IncomingImage,
    Requester,
)
from bot.service import Service, ServiceConfig
from bot.spotify import SpotifyClient
from feedback.labels import CONFIRM, MAX_LABEL_CHARS
from feedback.store import Store, default_path
from tests.bot.conftest import FakeSpotify
from tests.bot.fake_spotify import (
    ALBUM_ID,
    ARTIST_ID,
    COVERS,
    MISSING_ID,
    PLAYLIST_ID,
    SECOND_ALBUM_ID,
    TRACK_ID,
)
from tests.feedback.helpers import get_prediction, votes_for
from tests.helpers import until

ALBUM_LINK = f"https://open.spotify.com/album/{ALBUM_ID}"
TRACK_LINK = f"https://open.spotify.com/track/{TRACK_ID}"
PLAYLIST_LINK = f"https://open.spotify.com/playlist/{PLAYLIST_ID}"
ARTIST_LINK = f"https://open.spotify.com/artist/{ARTIST_ID}"
WHO = Requester("discord", "alice", "chan", "guild")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Wrapped:
    """A predictor that delegates to the real one; subclasses change one thing."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def version(self) -> str:
        return self.inner.version

    @property
    def genres(self) -> list[str]:
        return self.inner.genres


class Gated(Wrapped):
    """Holds every prediction until the gate opens; `started` counts predictions that began."""

    def __init__(self, inner: Any, gate: threading.Event) -> None:
        super().__init__(inner)
        self.gate = gate
        self.started = 0

    def predict_images(self, images: Sequence[Any]) -> list[Any]:
        self.started += 1
        assert self.gate.wait(30), "the gate never opened"
        return self.inner.predict_images(images)


class Renamed(Wrapped):
    """Claims another model version."""

    def __init__(self, inner: Any, version: str) -> None:
        super().__init__(inner)
        self._version = version

    @property
    def version(self) -> str:
        return self._version

    def predict_images(self, images: Sequence[Any]) -> list[Any]:
        return [replace(p, model_version=self._version) for p in self.inner.predict_images(images)]


class Broken(Wrapped):
    def predict_images(self, images: Sequence[Any]) -> list[Any]:
        raise RuntimeError("model exploded")


def message(text: str = "", **fields: Any) -> Incoming:
    return Incoming(
        **(
            {
                "platform": "discord",
                "text": text,
                "author_id": "alice",
                "channel_id": "chan",
                "server_id": "guild",
                "message_id": "m0",
            }
            | fields
        )
    )


@pytest.fixture
def cover(spotify_dir: Path) -> bytes:
    return (spotify_dir / "images" / COVERS[0]).read_bytes()


@pytest.fixture
async def store(tmp_path: Path):
    store = await Store.open(default_path(tmp_path / "data"))
    yield store
    await store.close()


@pytest.fixture
async def make_service(predictor, store, session, pinned_session, fake_spotify: FakeSpotify, spotify_dir):
    """make_service(backend="oembed"|"web_api", predictor=..., clock=..., store=..., **ServiceConfig fields)."""
    made: list[Service] = []

    async def no_sleep(_: float) -> None:
        pass

    async def resolve_short(url: str):
        # https://spoti.fi/CODE -> the fake's /short/CODE, reached through the pinned session
        host, code = url.removeprefix("https://").split("/", 1)
        return await resolve_short_link(pinned_session, fake_spotify.url(f"/short/{code}", host=host))

    def make(backend: str = "web_api", **options: Any) -> Service:
        credentials = {"client_id": "id", "client_secret": "secret"} if backend == "web_api" else {}
        spotify = SpotifyClient(
            session,
            oembed_base=fake_spotify.base_url,
            api_base=f"{fake_spotify.base_url}/v1/",
            token_url=f"{fake_spotify.base_url}/api/token",
            sleep=no_sleep,
            **credentials,
        )
        model = options.pop("predictor", predictor)
        clock = options.pop("clock", FakeClock())
        the_store = options.pop("store", store)
        config = ServiceConfig(**({"allow_private": True} | options))
        service = Service(model, the_store, config, session, spotify, resolve_short=resolve_short, clock=clock)
        made.append(service)
        return service

    yield make
    for service in made:
        await service.close()


# --- Spotify links ------------------------------------------------------------------------------------


async def test_album_link_is_judged_and_recorded(make_service, store: Store, predictor) -> None:
    service = make_service()
    [reply] = await service.handle_message(message(f"listen to this {ALBUM_LINK} !"))
    assert reply.kind == "prediction"
    assert reply.title == "Lanterns at Dusk — The Velvet Lanterns"
    assert reply.spotify_genres == ("psychedelic rock", "indie rock")
    assert reply.release_date == "2021-03-05"
    assert reply.source_kind == "spotify" and reply.cover_url and reply.cover_bytes
    assert reply.prediction is not None and reply.prediction.model_version == predictor.version
    assert [g.genre for g in reply.prediction.genres] and not reply.is_artist_guess
    row = await get_prediction(store, reply.prediction_id)
    assert row is not None
    assert (row.platform, row.source_kind, row.source_ref) == ("discord", "spotify", ALBUM_LINK)
    assert (row.requester_id, row.channel_id, row.server_id) == ("alice", "chan", "guild")
    assert row.top_genre == reply.prediction.top_genre
    assert row.features.shape == reply.prediction.features.shape
    assert row.message_id is None
    assert await service.attach_message(reply.prediction_id, "reply-1")
    assert (await store.prediction_by_message("discord", "reply-1")).id == reply.prediction_id


@pytest.mark.parametrize("backend", ["oembed", "web_api"])
@pytest.mark.parametrize(
    ("link", "title"),
    [
        (TRACK_LINK, "Night Swim"),
        (PLAYLIST_LINK, "Fresh Finds (fake)"),
        (f"spotify:album:{SECOND_ALBUM_ID}", "Second Light"),
    ],
)
async def test_tracks_playlists_and_uris(make_service, backend: str, link: str, title: str) -> None:
    [reply] = await make_service(backend).handle_message(message(link))
    assert reply.kind == "prediction", reply.text
    assert reply.title.startswith(title)
    assert reply.prediction_id is not None


async def test_artist_link_aggregates_album_covers(make_service, store: Store, fake_spotify) -> None:
    [reply] = await make_service("web_api").handle_message(message(ARTIST_LINK))
    assert reply.kind == "prediction"
    assert reply.is_artist_guess and reply.n_covers == 2
    assert reply.title == "The Velvet Lanterns"
    assert reply.spotify_genres == ("psychedelic rock", "indie rock")
    assert fake_spotify.state.hits[f"/image/{COVERS[1]}"] == 1 and fake_spotify.state.hits[f"/image/{COVERS[2]}"] == 1
    row = await get_prediction(store, reply.prediction_id)
    assert row.source_ref == ARTIST_LINK and len(row.image_sha256) == 64


async def test_artist_without_web_api_is_judged_from_the_photo(make_service) -> None:
    [reply] = await make_service("oembed").handle_message(message(ARTIST_LINK))
    assert reply.kind == "prediction" and reply.is_artist_guess
    assert reply.n_covers == 0 and "photo" in reply.text


async def test_links_are_deduplicated_and_capped_at_three(make_service, fake_spotify) -> None:
    text = (
        f"{ALBUM_LINK} {ALBUM_LINK}?si=abc spotify:album:{ALBUM_ID} {TRACK_LINK} {PLAYLIST_LINK} "
        f"https://open.spotify.com/album/{SECOND_ALBUM_ID}"
    )
    replies = await make_service().handle_message(message(text))
    assert [r.kind for r in replies] == ["prediction"] * 3
    assert [r.source_ref for r in replies] == [ALBUM_LINK, TRACK_LINK, PLAYLIST_LINK]
    assert fake_spotify.state.hits[f"/v1/albums/{SECOND_ALBUM_ID}"] == 0


async def test_short_link_is_resolved_and_deduplicated(make_service) -> None:
    replies = await make_service().handle_message(message(f"https://spoti.fi/to-album and {ALBUM_LINK}"))
    assert [r.source_ref for r in replies] == [ALBUM_LINK]


async def test_short_link_to_something_else_is_ignored_in_chat_but_refused_as_a_command(make_service) -> None:
    service = make_service()
    assert await service.handle_message(message("https://spotify.link/episode")) == []
    reply = await service.guess(who=WHO, link="https://spotify.link/episode")
    assert (reply.kind, reply.text) == ("error", NOT_A_LINK)


async def test_spotify_rate_limit_is_a_friendly_error(make_service, fake_spotify) -> None:
    fake_spotify.state.fail(f"/v1/albums/{ALBUM_ID}", status=429, retry_after=60)
    [reply] = await make_service("web_api").handle_message(message(ALBUM_LINK))
    assert reply.kind == "error"
    assert reply.text == "Spotify is busy right now — try again in a minute."


async def test_unknown_album_is_a_friendly_error(make_service, store: Store) -> None:
    [reply] = await make_service().handle_message(message(f"https://open.spotify.com/album/{MISSING_ID}"))
    assert (reply.kind, reply.text) == ("error", "I couldn't find that on Spotify.")
    assert (await store.stats()).predictions == 0


async def test_one_bad_link_does_not_spoil_the_others(make_service, fake_spotify) -> None:
    fake_spotify.state.fail(f"/image/{COVERS[4]}", body="not_image")
    replies = await make_service().handle_message(message(f"{PLAYLIST_LINK} {ALBUM_LINK}"))
    assert [r.kind for r in replies] == ["error", "prediction"]
    assert replies[0].text == "That doesn't look like an image."


# --- images ---------------------------------------------------------------------------------------------


async def test_images_are_answered_only_when_addressed(make_service, store: Store, cover: bytes) -> None:
    service = make_service()
    image = IncomingImage(data=cover, filename="cover.jpg", content_type="image/jpeg", size=len(cover))
    assert await service.handle_message(message(attachments=[image])) == []
    [mentioned] = await service.handle_message(message(attachments=[image], mentioned=True))
    [channel] = await service.handle_message(message(attachments=[image], in_image_channel=True))
    for reply in (mentioned, channel):
        assert reply.kind == "prediction" and reply.title == "your image"
        assert reply.source_kind == "upload" and reply.cover_bytes == cover
        assert (await get_prediction(store, reply.prediction_id)).source_kind == "upload"
    assert mentioned.prediction.genres == channel.prediction.genres


async def test_attachment_by_url_is_downloaded(make_service, fake_spotify) -> None:
    url = fake_spotify.url(f"/image/{COVERS[3]}")
    image = IncomingImage(url=url, filename="c.jpg", content_type="image/jpeg", size=1000)
    [reply] = await make_service().handle_message(message(attachments=[image], in_image_channel=True))
    assert reply.kind == "prediction" and reply.cover_url == url and reply.source_ref == url


async def test_urls_in_chat_are_never_fetched_only_through_guess(make_service, fake_spotify) -> None:
    service = make_service()
    url = fake_spotify.url(f"/image/{COVERS[3]}")
    hits = sum(fake_spotify.state.hits.values())
    assert await service.handle_message(message(f"what about {url}")) == []
    assert await service.handle_message(message(f"what about {url}", mentioned=True)) == []
    assert sum(fake_spotify.state.hits.values()) == hits
    reply = await service.guess(who=Requester("discord", "u1", "c1", "g1"), url=url)
    assert reply.kind == "prediction" and reply.source_kind == "url"


async def test_non_image_attachment_is_a_friendly_error(make_service, store: Store) -> None:
    service = make_service()
    text_file = IncomingImage(data=b"hello there", filename="notes.txt", content_type="text/plain", size=11)
    [reply] = await service.handle_message(message(attachments=[text_file], mentioned=True))
    assert reply.kind == "error"
    assert reply.text == "That doesn't look like an image (I read JPEG, PNG, WebP and GIF)."
    # In an image channel, files that say they are not images are simply not ours to judge.
    assert await service.handle_message(message(attachments=[text_file], in_image_channel=True)) == []
    assert (await store.stats()).predictions == 0


async def test_oversized_attachment_is_refused_before_downloading(make_service, fake_spotify) -> None:
    url = fake_spotify.url(f"/image/{COVERS[3]}")
    image = IncomingImage(url=url, filename="big.png", content_type="image/png", size=20 * 1024 * 1024)
    [reply] = await make_service().handle_message(message(attachments=[image], mentioned=True))
    assert (reply.kind, reply.text) == ("error", "That image is bigger than 15 MB.")
    assert fake_spotify.state.hits[f"/image/{COVERS[3]}"] == 0


async def test_bots_are_ignored(make_service, fake_spotify, cover: bytes) -> None:
    incoming = message(ALBUM_LINK, author_is_bot=True, mentioned=True, attachments=[IncomingImage(data=cover)])
    assert await make_service().handle_message(incoming) == []
    assert sum(fake_spotify.state.hits.values()) == 0


async def test_chatter_without_links_is_ignored(make_service) -> None:
    assert await make_service().handle_message(message("nice weather", mentioned=True)) == []


# --- commands ---------------------------------------------------------------------------------------------


async def test_guess_from_link_url_and_image(make_service, fake_spotify, cover: bytes) -> None:
    service = make_service()
    by_link = await service.guess(who=WHO, link=ALBUM_LINK)
    by_url = await service.guess(who=WHO, url=fake_spotify.url(f"/image/{COVERS[1]}"))
    by_image = await service.guess(who=WHO, image=cover)
    assert [r.source_kind for r in (by_link, by_url, by_image)] == ["spotify", "url", "upload"]
    assert all(r.kind == "prediction" and r.prediction_id for r in (by_link, by_url, by_image))
    assert by_link.prediction.genres == by_url.prediction.genres  # the same cover, twice


async def test_guess_needs_exactly_one_thing(make_service, cover: bytes) -> None:
    service = make_service()
    for reply in (await service.guess(who=WHO), await service.guess(who=WHO, link=ALBUM_LINK, image=cover)):
        assert (reply.kind, reply.text) == ("error", NOTHING_TO_JUDGE)
    reply = await service.guess(who=WHO, link="not a link at all")
    assert (reply.kind, reply.text) == ("error", NOT_A_LINK)


async def test_private_url_is_refused(make_service) -> None:
    reply = await make_service(allow_private=False).guess(who=WHO, url="http://127.0.0.1:9/cover.jpg")
    assert (reply.kind, reply.text) == ("error", "That link points to a private address, so I won't fetch it.")


async def test_console_images_are_recorded_as_console(make_service, store: Store, cover: bytes) -> None:
    who = Requester("console", "local")
    reply = await make_service().guess(who=who, image=IncomingImage(data=cover, filename="my.jpg"))
    assert (reply.title, reply.source_kind) == ("my.jpg", "console")
    row = await get_prediction(store, reply.prediction_id)
    assert (row.platform, row.source_kind, row.source_ref) == ("console", "console", "my.jpg")


@pytest.mark.parametrize(("margin", "unsure"), [(1.0, True), (0.0, False)])
async def test_unsure_when_the_top_two_are_close(make_service, cover: bytes, margin: float, unsure: bool) -> None:
    reply = await make_service(unsure_margin=margin).guess(who=WHO, image=cover)
    assert reply.unsure is unsure


# --- rate limits --------------------------------------------------------------------------------------------


async def test_user_rate_limit_notice_once_per_window(make_service) -> None:
    clock = FakeClock()
    service = make_service(user_rate=2, channel_rate=0, clock=clock)
    for _ in range(2):
        [reply] = await service.handle_message(message(ALBUM_LINK))
        assert reply.kind == "prediction"
    [notice] = await service.handle_message(message(ALBUM_LINK))
    assert notice.kind == "rate_limited" and "try again in 60 s" in notice.text
    assert await service.handle_message(message(ALBUM_LINK)) == []
    [other_user] = await service.handle_message(message(ALBUM_LINK, author_id="bob"))
    assert other_user.kind == "prediction"
    # Commands must always be answered, so they get the notice every time.
    assert (await service.guess(who=WHO, link=ALBUM_LINK)).kind == "rate_limited"
    clock.now += 61
    [again] = await service.handle_message(message(ALBUM_LINK))
    assert again.kind == "prediction"


async def test_channel_rate_limit(make_service) -> None:
    service = make_service(user_rate=0, channel_rate=1)
    [first] = await service.handle_message(message(ALBUM_LINK, author_id="a"))
    [notice] = await service.handle_message(message(ALBUM_LINK, author_id="b"))
    assert (first.kind, notice.kind) == ("prediction", "rate_limited")
    assert await service.handle_message(message(ALBUM_LINK, author_id="c")) == []
    [elsewhere] = await service.handle_message(message(ALBUM_LINK, author_id="c", channel_id="other"))
    assert elsewhere.kind == "prediction"


async def test_messages_without_work_do_not_count(make_service) -> None:
    service = make_service(user_rate=1, channel_rate=0)
    for _ in range(5):
        assert await service.handle_message(message("just chatting")) == []
    assert (await service.handle_message(message(ALBUM_LINK)))[0].kind == "prediction"


# --- votes, stats, tags, forget ----------------------------------------------------------------------------


async def test_votes_and_retractions_land_in_the_store(make_service, store: Store) -> None:
    service = make_service(admin_user_ids=frozenset({"root"}))
    [reply] = await service.handle_message(message(ALBUM_LINK))
    await service.attach_message(reply.prediction_id, "m1")
    top = reply.prediction.top_genre
    other = next(g for g in service.predictor.genres if g != top)

    ack = await service.vote("discord", "m1", "bob", other.lower())
    assert (ack.prediction_id, ack.label, ack.known_genre) == (reply.prediction_id, other, True)
    assert (await service.vote("discord", "m1", "bob", CONFIRM)).label == top  # latest vote wins
    assert (await service.vote("discord", "m1", "carol", "OK")).label == top
    suggestion = await service.vote("discord", "m1", "dave", "Jazz")
    assert (suggestion.label, suggestion.known_genre) == ("Jazz", False)
    await service.vote("discord", "m1", "root", top)
    votes = {v.voter_id: v for v in await votes_for(store, reply.prediction_id)}
    assert {k: v.label for k, v in votes.items()} == {"bob": top, "carol": top, "dave": "Jazz", "root": top}
    assert votes["root"].is_admin and not votes["bob"].is_admin

    assert await service.retract("discord", "m1", "bob")
    assert not await service.retract("discord", "m1", "bob")
    assert "bob" not in {v.voter_id for v in await votes_for(store, reply.prediction_id)}


async def test_retracting_a_choice_keeps_a_newer_vote(make_service, store: Store) -> None:
    service = make_service()
    [reply] = await service.handle_message(message(ALBUM_LINK))
    await service.attach_message(reply.prediction_id, "m1")
    top = reply.prediction.top_genre
    other = next(g for g in service.predictor.genres if g != top)

    await service.vote("discord", "m1", "bob", other)
    await service.vote("discord", "m1", "bob", CONFIRM)
    assert not await service.retract("discord", "m1", "bob", other.upper())  # the older choice
    assert [v.label for v in await votes_for(store, reply.prediction_id)] == [top]
    assert not await service.retract("discord", "m1", "bob", "  ")
    assert await service.retract("discord", "m1", "bob", "ok")  # CONFIRM, normalised as in vote
    assert await votes_for(store, reply.prediction_id) == []


async def test_votes_on_unknown_messages_are_ignored(make_service, store: Store) -> None:
    service = make_service()
    [reply] = await service.handle_message(message(ALBUM_LINK))
    await service.attach_message(reply.prediction_id, "m1")
    assert await service.vote("discord", "nope", "bob", "rock") is None
    assert await service.vote("telegram", "m1", "bob", "rock") is None  # message ids are per platform
    assert await service.vote("discord", "m1", "bob", "   ") is None
    assert not await service.retract("discord", "nope", "bob")
    assert (await store.stats()).votes == 0


async def test_stats_count_and_score_votes(make_service, cover: bytes) -> None:
    service = make_service()
    [first] = await service.handle_message(message(ALBUM_LINK))
    second = await service.guess(who=WHO, image=cover)
    await service.attach_message(first.prediction_id, "m1")
    await service.attach_message(second.prediction_id, "m2")
    await service.vote("discord", "m1", "bob", CONFIRM)
    wrong = next(g for g in service.predictor.genres if g != second.prediction.top_genre)
    await service.vote(WHO.platform, "m2", "bob", wrong)
    stats = await service.stats()
    assert stats["model_version"] == service.predictor.version
    assert (stats["predictions"], stats["votes"], stats["voters"]) == (2, 2, 1)
    assert stats["live_accuracy"]["n"] == 2 and stats["live_accuracy"]["top1"] == 0.5
    assert stats["last_retrain"] is None and stats["queue"]["pending"] == 0
    top = first.prediction.top_genre
    assert stats["live_accuracy"]["per_genre"][top]["correct"] >= 1
    assert stats["suggestions"] == {}


async def test_live_accuracy_pools_one_cover_and_counts_a_voter_once(make_service) -> None:
    """An album and its track share a cover: one sample, scored on the voter's latest vote (as retraining reads it)."""
    service = make_service()
    [album, track] = await service.handle_message(message(f"{ALBUM_LINK} {TRACK_LINK}"))
    assert album.prediction.top_genre == track.prediction.top_genre
    await service.attach_message(album.prediction_id, "m1")
    await service.attach_message(track.prediction_id, "m2")
    await service.vote("discord", "m1", "bob", CONFIRM)
    wrong = next(g for g in service.predictor.genres if g != track.prediction.top_genre)
    await service.vote("discord", "m2", "bob", wrong)
    live = (await service.stats())["live_accuracy"]
    assert (live["n"], live["top1"]) == (1, 0.0)


async def test_live_accuracy_scores_only_the_served_model_version(make_service, predictor, store: Store) -> None:
    service = make_service(predictor=Renamed(predictor, "v-old"))
    [reply] = await service.handle_message(message(ALBUM_LINK))
    await service.attach_message(reply.prediction_id, "m1")
    await service.vote("discord", "m1", "bob", CONFIRM)
    assert (await service.stats())["live_accuracy"]["n"] == 1
    service.swap_predictor(Renamed(predictor, "v-new"))
    stats = await service.stats()
    assert stats["live_accuracy"] == {"n": 0, "top1": None, "per_genre": {}}
    assert stats["predictions_this_model"] == 0


async def test_stats_report_votes_for_unknown_genres_as_suggestions(make_service) -> None:
    service = make_service()
    [reply] = await service.handle_message(message(ALBUM_LINK))
    await service.attach_message(reply.prediction_id, "m1")
    await service.vote("discord", "m1", "bob", "Jazz")
    await service.vote("discord", "m1", "ann", " JAZZ ")  # the same genre, on the same cover
    stats = await service.stats()
    assert stats["suggestions"] == {"Jazz": 1}  # one cover
    assert stats["live_accuracy"]["n"] == 0  # suggestions are not scored
    assert "Suggested genres I don't know" in render_stats(stats)


async def test_free_text_votes_are_cleaned_before_they_are_stored(make_service, store: Store) -> None:
    service = make_service()
    [reply] = await service.handle_message(message(ALBUM_LINK))
    await service.attach_message(reply.prediction_id, "m1")
    known = service.predictor.genres[0]
    ack = await service.vote("discord", "m1", "zed", f"{known}\u200b")  # a zero-width space
    assert ack is not None and ack.known_genre and ack.label == known
    ack = await service.vote("discord", "m1", "ann", "\x1b[31mnoise\x1b[0m rock\x07")
    assert ack is not None and ack.label == "noise rock" and "\x1b" not in ack.text
    ack = await service.vote("discord", "m1", "bob", "x" * 5_000_000)
    assert ack is not None and len(ack.label) == MAX_LABEL_CHARS
    assert await service.vote("discord", "m1", "eve", "\u200b\x1b[0m") is None  # nothing left: no vote
    stored = {v.voter_id: v.label for v in await votes_for(store, reply.prediction_id)}
    assert stored == {"zed": known, "ann": "noise rock", "bob": "x" * MAX_LABEL_CHARS}
    assert max(len(name) for name in (await service.stats())["suggestions"]) == MAX_LABEL_CHARS


async def test_tags(make_service, predictor) -> None:
    service = make_service()
    assert service.tags() == {g: predictor.distinctive(g) for g in predictor.genres}
    genre = predictor.genres[0]
    assert service.tags(genre.upper()) == {genre: predictor.distinctive(genre)}
    assert service.tags("polka") == {}


async def test_forget(make_service, store: Store) -> None:
    service = make_service()
    [reply] = await service.handle_message(message(ALBUM_LINK))
    await service.attach_message(reply.prediction_id, "m1")
    await service.vote("discord", "m1", "alice", "ok")
    await service.handle_message(message(ALBUM_LINK, author_id="bob"))
    assert await service.forget("discord", "alice") == {"votes": 1, "predictions": 1}
    assert (await store.stats()).predictions == 1


# --- load, failures and the model ----------------------------------------------------------------------------


async def test_busy_when_the_queue_is_full(make_service, predictor, cover: bytes, fake_spotify) -> None:
    gate = threading.Event()
    gated = Gated(predictor, gate)
    service = make_service(predictor=gated, max_concurrent_predictions=1, max_queue=1, user_rate=0, channel_rate=0)
    waiting = [asyncio.create_task(service.guess(who=WHO, image=cover)) for _ in range(2)]
    try:
        await until(lambda: service.pending_predictions == 2)
        assert (await service.guess(who=WHO, image=cover)).kind == "busy"
        [busy] = await service.handle_message(message(ALBUM_LINK))  # never dropped silently
        assert busy.kind == "busy" and busy.text
        assert sum(fake_spotify.state.hits.values()) == 0  # refused before downloading anything
    finally:
        gate.set()
    assert [r.kind for r in await asyncio.gather(*waiting)] == ["prediction", "prediction"]
    assert service.pending_predictions == 0
    assert (await service.guess(who=WHO, image=cover)).kind == "prediction"


async def test_predictions_do_not_block_the_event_loop(make_service, predictor) -> None:
    """The model waits for the loop to turn over three times: only possible if it runs in another thread."""
    gate = threading.Event()
    gated = Gated(predictor, gate)
    ticks_while_predicting = 0

    async def ticker() -> None:
        nonlocal ticks_while_predicting
        while not gate.is_set():
            if gated.started:
                ticks_while_predicting += 1
                if ticks_while_predicting >= 3:
                    gate.set()
            await asyncio.sleep(0)

    ticking = asyncio.create_task(ticker())
    [reply] = await make_service(predictor=gated).handle_message(message(ALBUM_LINK))
    await ticking
    assert reply.kind == "prediction"
    assert ticks_while_predicting >= 3


async def test_swapping_the_model_mid_request(make_service, predictor, store: Store, cover: bytes) -> None:
    gate = threading.Event()
    old = Gated(Renamed(predictor, "v-old"), gate)
    service = make_service(predictor=old)
    in_flight = asyncio.create_task(service.guess(who=WHO, image=cover))
    await until(lambda: old.started == 1)
    assert service.swap_predictor(Renamed(predictor, "v-new")) is old
    fresh = await service.guess(who=WHO, image=cover)
    gate.set()
    finished = await in_flight
    assert finished.prediction.model_version == "v-old"
    assert fresh.prediction.model_version == "v-new"
    assert (await get_prediction(store, finished.prediction_id)).model_version == "v-old"
    assert service.predictor.version == "v-new"


async def test_unexpected_errors_are_apologised_for_and_logged(make_service, predictor, caplog) -> None:
    service = make_service(predictor=Broken(predictor))
    with caplog.at_level(logging.ERROR):
        [reply] = await service.handle_message(message(ALBUM_LINK))
    assert (reply.kind, reply.text) == ("error", OOPS)
    assert "model exploded" in caplog.text


class BrokenStore:
    async def record_prediction(self, record: Any) -> int:
        raise sqlite3.OperationalError("disk I/O error")


async def test_a_store_failure_still_answers(make_service, cover: bytes) -> None:
    reply = await make_service(store=BrokenStore()).guess(who=WHO, image=cover)
    assert reply.kind == "prediction" and reply.prediction_id is None


async def test_network_failure_is_a_friendly_error(make_service) -> None:
    reply = await make_service().guess(who=WHO, url="http://127.0.0.1:1/cover.jpg")
    assert (reply.kind, reply.text) == ("error", "I couldn't reach that host.")


async def vote_jazz_on(service: Service, covers: list[bytes], spelling: str = "Jazz") -> None:
    for n, image in enumerate(covers):
        reply = await service.guess(who=WHO, image=image)
        await service.attach_message(reply.prediction_id, f"j{n}")
        await service.vote("discord", f"j{n}", f"voter{n}", spelling if n % 2 else spelling.upper())


def distinct_covers(cover: bytes, n: int) -> list[bytes]:
    """`n` images with different sha256 (the same pixels re-encoded with a different comment)."""
    from io import BytesIO

    from PIL import Image

    out = []
    for i in range(n):
        buffer = BytesIO()
        Image.open(BytesIO(cover)).convert("RGB").save(buffer, format="PNG", pnginfo=_png_text(i))
        out.append(buffer.getvalue())
    return out


def _png_text(i: int):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("n", str(i))
    return info


@pytest.mark.parametrize("mode, approve, next_retrain", [
    ("off", True, False), ("admin", False, False), ("admin", True, True), ("auto", False, True)])
async def test_genres_reports_suggestions_per_cover_and_what_the_next_retrain_adds(
        make_service, cover: bytes, mode: str, approve: bool, next_retrain: bool) -> None:
    service = make_service(new_genres=mode, new_genre_min_covers=3, user_rate=0)
    await vote_jazz_on(service, distinct_covers(cover, 3))
    if approve:
        text = await service.approve_genre(" jazz ", "admin-1")
        assert text.startswith("Approved jazz as a new genre.") and ("off" in text) == (mode == "off")
    [pending] = (await service.genres()).pending
    assert (pending.name, pending.covers, pending.approved, pending.next_retrain) == (
        "JAZZ", 3, approve, next_retrain)


async def test_genres_needs_enough_distinct_covers(make_service, cover: bytes) -> None:
    service = make_service(new_genres="auto", new_genre_min_covers=3, user_rate=0)
    await vote_jazz_on(service, [cover, cover, cover])  # one cover posted three times
    [pending] = (await service.genres()).pending
    assert pending.covers == 1 and not pending.next_retrain


async def test_approving_a_known_genre_says_so(make_service) -> None:
    service = make_service()
    known = service.predictor.genres[0]
    assert await service.approve_genre(known.upper(), "admin-1") == f"{known} is already a genre I know."
    assert await service.approve_genre("\u200b", "admin-1") == "Tell me which genre to approve: /genres approve NAME."


# --- fetches are bounded apart from predictions ------------------------------------------------------------


@pytest.fixture
async def hanging_server():
    """A local host that accepts every request and never answers; `hits` counts the requests."""
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    never = asyncio.Event()
    hits: list[str] = []

    async def hang(request: web.Request) -> web.Response:
        hits.append(request.path)
        await never.wait()
        return web.Response(status=500)

    app = web.Application()
    app.router.add_get("/{tail:.*}", hang)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    server.hits = hits
    yield server
    never.set()
    await server.close()


def small_png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


async def test_a_hanging_host_does_not_starve_uploads(make_service, hanging_server) -> None:
    service = make_service(max_concurrent_predictions=1, max_queue=1, user_rate=0, channel_rate=0, fetch_timeout=60)
    urls = [str(hanging_server.make_url(f"/cover{i}.jpg")) for i in range(4)]  # twice the prediction slots
    stuck = [asyncio.create_task(service.guess(who=WHO, url=url)) for url in urls]
    try:
        await until(lambda: len(hanging_server.hits) == len(urls))
        assert service.pending_predictions == 0  # waiting on bytes holds no prediction slot
        reply = await service.guess(who=WHO, image=small_png())
        assert reply.kind == "prediction"
    finally:
        for task in stuck:
            task.cancel()
        await asyncio.gather(*stuck, return_exceptions=True)


async def test_fetches_beyond_their_limit_are_busy_at_once(make_service, hanging_server) -> None:
    service = make_service(max_concurrent_fetches=2, user_rate=0, channel_rate=0, fetch_timeout=60)
    urls = [str(hanging_server.make_url(f"/cover{i}.jpg")) for i in range(2)]
    stuck = [asyncio.create_task(service.guess(who=WHO, url=url)) for url in urls]
    try:
        await until(lambda: len(hanging_server.hits) == 2)
        third = await service.guess(who=WHO, url=str(hanging_server.make_url("/third.jpg")))
        assert third.kind == "busy" and len(hanging_server.hits) == 2
        assert (await service.guess(who=WHO, image=small_png())).kind == "prediction"
    finally:
        for task in stuck:
            task.cancel()
        await asyncio.gather(*stuck, return_exceptions=True)
    assert service.pending_fetches == 0  # cancelled fetches gave their places back


# --- messages that say what is wrong ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"https://open.spotify.com/episode/{ALBUM_ID}", PODCAST),
        (f"spotify:show:{ALBUM_ID}", PODCAST),
        (f"https://open.spotify.com/album/{ALBUM_ID[:20]}", BAD_SPOTIFY_ID),
        ("https://open.spotify.com/user/someone", NOT_A_LINK),
    ],
)
async def test_links_we_cannot_judge_say_why(make_service, text: str, message: str) -> None:
    service = make_service()
    reply = await service.guess_text(WHO, text)
    assert (reply.kind, reply.text) == ("error", message)
    assert (await service.guess(who=WHO, link=text)).text == message


async def test_an_uppercase_spotify_link_is_judged(make_service) -> None:
    reply = await make_service().guess_text(WHO, f"HTTPS://OPEN.SPOTIFY.COM/ALBUM/{ALBUM_ID}")
    assert reply.kind == "prediction" and reply.title == "Lanterns at Dusk — The Velvet Lanterns"
