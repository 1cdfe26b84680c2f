"""The service's knobs, taken from Settings (or set directly in tests and benchmarks)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from models.image import MAX_BYTES

if TYPE_CHECKING:
    from bot.settings import Settings


@dataclass(frozen=True)
class ServiceConfig:
    admin_user_ids: frozenset[str] = field(default_factory=frozenset)
    unsure_margin: float = 0.1
    user_rate: int = 5  # per minute; 0: no limit
    channel_rate: int = 20
    max_concurrent_predictions: int = 2
    max_queue: int = 32
    max_concurrent_fetches: int = 16  # downloads and Spotify lookups in flight, apart from predictions
    max_links_per_message: int = 3
    image_max_bytes: int = MAX_BYTES  # one limit: uploads, downloads, files and the decoder
    fetch_timeout: float = 10.0
    min_votes: int = 1
    admin_vote_weight: float = 1.0
    # Lets downloads reach private addresses. Only for tests and benchmarks against a local fake.
    allow_private: bool = False

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ServiceConfig:
        values: dict[str, Any] = {
            "admin_user_ids": frozenset(settings.ADMIN_USER_IDS),
            "unsure_margin": settings.UNSURE_MARGIN,
            "user_rate": settings.USER_RATE,
            "channel_rate": settings.CHANNEL_RATE,
            "max_concurrent_predictions": settings.MAX_CONCURRENT_PREDICTIONS,
            "max_queue": settings.MAX_QUEUE,
            "max_concurrent_fetches": settings.MAX_CONCURRENT_FETCHES,
            "max_links_per_message": settings.MAX_LINKS_PER_MESSAGE,
            "image_max_bytes": settings.IMAGE_MAX_BYTES,
            "fetch_timeout": settings.FETCH_TIMEOUT,
            "min_votes": settings.MIN_VOTES,
            "admin_vote_weight": settings.ADMIN_VOTE_WEIGHT,
        }
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown ServiceConfig fields: {sorted(unknown)}")
        return cls(**(values | overrides))
