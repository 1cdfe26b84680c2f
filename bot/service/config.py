"""The service's knobs: a frozen view of `Settings`, with Settings' own defaults.

Each field is named after its setting (`user_rate` is USER_RATE) and defaults to that setting's
default, so tests and benchmarks can build one directly without a second copy of the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from bot.settings import Settings


def _default(setting: str) -> Any:
    return Settings.model_fields[setting].get_default(call_default_factory=True)


@dataclass(frozen=True)
class ServiceConfig:
    admin_user_ids: frozenset[str] = field(default_factory=lambda: frozenset(_default("ADMIN_USER_IDS")))
    unsure_margin: float = _default("UNSURE_MARGIN")
    user_rate: int = _default("USER_RATE")  # per minute; 0: no limit
    channel_rate: int = _default("CHANNEL_RATE")
    max_concurrent_predictions: int = _default("MAX_CONCURRENT_PREDICTIONS")
    max_queue: int = _default("MAX_QUEUE")
    max_concurrent_fetches: int = _default("MAX_CONCURRENT_FETCHES")  # downloads and Spotify lookups in flight
    max_links_per_message: int = _default("MAX_LINKS_PER_MESSAGE")
    image_max_bytes: int = _default("IMAGE_MAX_BYTES")  # one limit: uploads, downloads, files and the decoder
    fetch_timeout: float = _default("FETCH_TIMEOUT")
    min_votes: int = _default("MIN_VOTES")
    admin_vote_weight: float = _default("ADMIN_VOTE_WEIGHT")
    new_genres: str = _default("NEW_GENRES")  # auto, admin or off
    new_genre_min_covers: int = _default("NEW_GENRE_MIN_COVERS")
    # Lets downloads reach private addresses. Only for tests and benchmarks against a local fake; no setting.
    allow_private: bool = False

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ServiceConfig:
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown ServiceConfig fields: {sorted(unknown)}")
        values = {f.name: getattr(settings, f.name.upper()) for f in fields(cls) if f.name.upper() in Settings.model_fields}
        values["admin_user_ids"] = frozenset(values["admin_user_ids"])
        return cls(**(values | overrides))
