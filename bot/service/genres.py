"""The numbers behind /genres: genres people suggested by vote, and which the next retrain adds."""

from __future__ import annotations

from dataclasses import dataclass

from bot.service.config import ServiceConfig
from feedback.labels import canonical_genre, genre_key, genres_to_add, suggested_genres
from feedback.store import Store


@dataclass(frozen=True)
class PendingGenre:
    name: str
    covers: int  # distinct voted covers
    approved: bool
    next_retrain: bool  # the next retrain adds it as a class (NEW_GENRES and NEW_GENRE_MIN_COVERS)


@dataclass(frozen=True)
class GenresReport:
    known: list[str]
    pending: list[PendingGenre]
    mode: str  # NEW_GENRES
    min_covers: int  # NEW_GENRE_MIN_COVERS


async def collect_genres(store: Store, known: list[str], config: ServiceConfig) -> GenresReport:
    covers = await store.voted_covers()
    suggested = suggested_genres((cover.votes for cover in covers), known)
    approved = await store.approved_genres()
    adds = {genre_key(name) for name in genres_to_add(suggested, config.new_genres, config.new_genre_min_covers,  # type: ignore[arg-type]
                                                      approved)}
    pending = [PendingGenre(s.name, s.covers, canonical_genre(s.name, approved) is not None, genre_key(s.name) in adds)
               for s in suggested]
    return GenresReport(list(known), pending, config.new_genres, config.new_genre_min_covers)


def approval_text(name: str | None, known: list[str], mode: str) -> str:
    if name is None:
        return "Tell me which genre to approve: /genres approve NAME."
    if canonical_genre(name, known) is not None:
        return f"{canonical_genre(name, known)} is already a genre I know."
    note = {"admin": " The next retrain adds it once it has enough voted covers.",
            "auto": " (NEW_GENRES is auto: genres with enough voted covers are added without approval.)",
            "off": " But NEW_GENRES is off, so no new genre is added until it is set to admin or auto."}[mode]
    return f"Approved {name} as a new genre.{note}"
