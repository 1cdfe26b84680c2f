"""Building a Service from Settings: model, store, HTTP session and Spotify client, and closing them."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.fetch import create_session
from bot.inference import PredictorLike
from bot.retraining import Retrainer
from bot.service.config import ServiceConfig
from bot.service.core import Service
from bot.settings import Settings
from bot.spotify import SpotifyClient
from feedback.store import Store, default_path

log = logging.getLogger(__name__)
PRUNE_EVERY = 24 * 3600.0


class StartupError(Exception):
    """The service cannot start; str(error) names the path and the problem, fit to print."""


def prepare_data_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise StartupError(f"DATA_DIR {path} is a file, not a folder: point DATA_DIR at a folder.") from None
    except OSError as exc:
        raise StartupError(f"DATA_DIR {path} can't be used ({exc.strerror or exc}).") from None


async def open_store(path: Path) -> Store:
    try:
        return await Store.open(path)
    except sqlite3.DatabaseError as exc:
        raise StartupError(
            f"The database {path} can't be opened ({exc}). Move it aside to start with an empty one, "
            "or restore a backup."
        ) from None
    except OSError as exc:
        raise StartupError(f"The database {path} can't be opened ({exc.strerror or exc}).") from None


def model_directory(settings: Settings) -> Path:
    """The served model's folder, by the files alone (nothing loaded): MODEL_DIR if set; else the model
    registry's current version under DATA_DIR; else the shipped model."""
    from models import artifact as artifacts
    from models.registry import resolve_model_dir

    expected_spec = artifacts.read_manifest(artifacts.SHIPPED_DIR)["feature_spec"]
    return resolve_model_dir(settings.MODEL_DIR, settings.DATA_DIR, expected_spec)


def load_predictor(settings: Settings) -> PredictorLike:
    """MODEL_DIR if set; else the model registry's current version under DATA_DIR; else the shipped
    model (`models.registry.load_served`: loaded once, falling back past a damaged version).
    StartupError (with the artifact's own explanation) when it can't be used."""
    from models.artifact import ArtifactError
    from models.embedder import Embedder  # onnxruntime and friends: only when a model is needed
    from models.features import FeatureExtractor
    from models.predictor import Predictor
    from models.reader import Reader
    from models.registry import load_served

    extractor = FeatureExtractor(Embedder(threads=1))
    try:
        path, artifact = load_served(settings.MODEL_DIR, settings.DATA_DIR, extractor.spec)
    except ArtifactError as exc:
        raise StartupError(f"The model can't be loaded: {exc}") from None
    return Predictor(artifact, extractor, path, Reader(threads=1))


def spotify_client(settings: Settings, session: Any) -> SpotifyClient:
    secret = settings.SPOTIFY_CLIENT_SECRET
    return SpotifyClient(
        session,
        client_id=settings.SPOTIFY_CLIENT_ID,
        client_secret=secret.get_secret_value() if secret is not None else None,
        oembed_base=settings.SPOTIFY_OEMBED_BASE,
        api_base=settings.SPOTIFY_API_BASE,
        token_url=settings.SPOTIFY_TOKEN_URL,
        timeout=settings.FETCH_TIMEOUT,
        max_retry_after=settings.SPOTIFY_RETRY_AFTER_CAP,
        cache_ttl=settings.SPOTIFY_CACHE_TTL,
    )


@asynccontextmanager
async def open_service(
    settings: Settings, *, predictor: PredictorLike | None = None, background: bool = False, **config_overrides: Any
) -> AsyncIterator[Service]:
    """A ready Service for the front ends; everything it opened is closed on exit.

    background: also run the periodic retrain check and the DATA_RETENTION_DAYS pruning (long-running bots).
    """
    prepare_data_dir(settings.DATA_DIR)
    config = ServiceConfig.from_settings(settings, **config_overrides)
    store = await open_store(default_path(settings.DATA_DIR))  # before the model: a bad DATA_DIR fails fast
    try:
        if predictor is None:
            predictor = await asyncio.to_thread(load_predictor, settings)
        async with create_session() as session:
            service = Service(predictor, store, config, session, spotify_client(settings, session))
            service.retrainer = Retrainer(service.models, settings)
            tasks = _background_tasks(service.retrainer, store, settings) if background else []
            try:
                yield service
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await service.close()
    finally:
        await store.close()


def _background_tasks(retrainer: Retrainer, store: Store, settings: Settings) -> list[asyncio.Task]:
    tasks = [asyncio.create_task(retrainer.periodic(
        store, interval_hours=settings.RETRAIN_INTERVAL, min_new_votes=settings.RETRAIN_MIN_NEW_VOTES))]
    if settings.DATA_RETENTION_DAYS:
        tasks.append(asyncio.create_task(_prune_forever(store, settings.DATA_RETENTION_DAYS)))
    return tasks


async def _prune_forever(store: Store, days: int) -> None:
    while True:
        try:
            removed = await store.prune(days, keep_voted=False)
            log.info("pruned old predictions", extra={"removed": removed, "older_than_days": days})
        except Exception:
            log.exception("pruning old predictions failed")
        await asyncio.sleep(PRUNE_EVERY)
