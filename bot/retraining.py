"""Retraining from the bot: `/retrain` and the periodic timer run `python -m training retrain` in a
separate process (never in the event loop), then switch to a promoted model without a restart.

The database's retrain lock refuses a second run from any process (another bot, cron); this module
also refuses a second run from the same bot before spawning anything.

Retraining manages the model registry in DATA_DIR/models. MODEL_DIR pins the served model to one
folder, so with MODEL_DIR set /retrain is refused and neither the periodic retrain nor following
the registry runs.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.settings import Settings
from training.runs import EXIT_BUSY  # `python -m training retrain`: another retrain holds the lock

log = logging.getLogger(__name__)

Progress = Callable[[str], Awaitable[None] | None]
PROGRESS_EVERY = 10.0  # seconds between "still training" notes
CHECK_EVERY = 3600.0  # the periodic loop looks at the vote count this often (at most)


class RetrainRefused(RuntimeError):
    """A retrain could not start (one is running); the message is fit to show a person."""

    @property
    def user_message(self) -> str:
        return str(self)


class RetrainFailed(RuntimeError):
    """The retrain process failed; the message (fit to show a person) says which model is served now."""

    @property
    def user_message(self) -> str:
        return str(self)


def model_dir_refusal(model_dir: Any) -> str:
    return (f"Retraining manages the models in DATA_DIR/models, but MODEL_DIR pins the served model to "
            f"{model_dir}. Unset MODEL_DIR to use /retrain.")


class Retrainer:
    def __init__(self, service: Any, settings: Settings, *, python: str = sys.executable,
                 extra_args: tuple[str, ...] = ()):
        self._service = service
        self._settings = settings
        self._python = python
        self._extra_args = extra_args
        self._running = asyncio.Lock()

    @property
    def running(self) -> bool:
        return self._running.locked()

    def command(self, trigger: str = "manual") -> list[str]:
        s = self._settings
        args = [self._python, "-m", "training", "retrain", "--json", "--no-progress", "--trigger", trigger,
                "--data-dir", str(s.DATA_DIR), "--tolerance", str(s.RETRAIN_TOLERANCE),
                "--min-votes", str(s.MIN_VOTES), "--admin-weight", str(s.ADMIN_VOTE_WEIGHT),
                "--keep", str(s.KEEP_MODEL_VERSIONS)]
        if s.RETRAIN_INCLUDE_SPOTIFY:
            args.append("--include-spotify")
        return [*args, *self._extra_args]

    async def run(self, trigger: str = "manual", progress: Progress | None = None) -> dict:
        """Retrain once; the result dict of `python -m training retrain --json`.

        Raises RetrainRefused when a retrain is already running here or elsewhere.
        """
        if self._settings.MODEL_DIR:
            raise RetrainRefused(model_dir_refusal(self._settings.MODEL_DIR))
        if self._running.locked():
            raise RetrainRefused("A retrain is already running — I'll report when it's done.")
        async with self._running:
            await _say(progress, "Retraining started: fitting a challenger on the base covers plus your votes…")
            started = time.monotonic()
            process = await asyncio.create_subprocess_exec(
                *self.command(trigger), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            output = asyncio.ensure_future(process.communicate())
            while not output.done():
                done, _ = await asyncio.wait({output}, timeout=PROGRESS_EVERY)
                if not done:
                    await _say(progress, f"Still training… ({time.monotonic() - started:.0f} s)")
            stdout, stderr = output.result()
            if process.returncode == EXIT_BUSY:
                raise RetrainRefused("Another retrain is already running — try again when it has finished.")
            if process.returncode != 0:
                log.error("retrain failed", extra={"code": process.returncode, "stderr": stderr.decode(errors="replace")[-2000:]})
                raise RetrainFailed(await self._after_failure())
            result = json.loads(stdout.decode())
            result["trigger"] = trigger
            if result.get("status") == "promoted":
                await self._switch(result)
            return result

    async def _after_failure(self) -> str:
        """The run may have switched CURRENT before a later step failed: serve what the registry says."""
        try:
            switched = await self.follow_registry()
        except Exception:
            log.exception("could not check the model registry after a failed retrain")
            return ("Retraining failed, and I could not check which model the registry serves now. "
                    "The log has the details.")
        if switched:
            version = getattr(self._service.predictor, "version", None) or "the registry's current model"
            return (f"Retraining failed after switching models; now serving {version}, as the registry says. "
                    "The log has the details.")
        return "Retraining failed; the current model stays. The log has the details."

    async def _switch(self, result: dict) -> None:
        from models.registry import registry_root

        directory = Path(registry_root(self._settings.DATA_DIR)) / result["version"]
        predictor = await asyncio.to_thread(self._service.predictor.reload, directory)
        self._service.swap_predictor(predictor)

    async def periodic(self, store: Any, *, interval_hours: float, min_new_votes: int,
                       sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        """Every interval, retrain when enough new votes arrived since the last run. Runs until cancelled."""
        if interval_hours <= 0:
            return
        if self._settings.MODEL_DIR:
            log.info("periodic retrain off: MODEL_DIR is set", extra={"model_dir": str(self._settings.MODEL_DIR)})
            return
        while True:
            await sleep(min(interval_hours * 3600, CHECK_EVERY))
            try:
                await self.follow_registry()
                await self.maybe_retrain(store, interval_hours=interval_hours, min_new_votes=min_new_votes)
            except RetrainRefused as exc:
                log.info("periodic retrain skipped", extra={"reason": str(exc)})
            except Exception:
                log.exception("periodic retrain failed")

    async def follow_registry(self) -> bool:
        """Serve the registry's current model if it changed behind our back (cron retrain, rollback).

        Does nothing when MODEL_DIR is set: that folder is served, whatever the registry says.
        """
        from models.registry import resolve_model_dir

        if self._settings.MODEL_DIR:
            return False
        predictor = self._service.predictor
        wanted = await asyncio.to_thread(
            resolve_model_dir, self._settings.MODEL_DIR, self._settings.DATA_DIR, predictor.extractor.spec)
        if predictor.path is not None and await asyncio.to_thread(_same_path, wanted, predictor.path):
            return False
        self._service.swap_predictor(await asyncio.to_thread(predictor.reload, Path(wanted)))
        return True

    async def maybe_retrain(self, store: Any, *, interval_hours: float, min_new_votes: int) -> dict | None:
        stats = await store.stats()
        last = stats.last_retrain
        since = last.started if last is not None else 0.0
        if last is not None and time.time() - since < interval_hours * 3600:
            return None
        new_votes = await store.count_votes_since(since)
        if new_votes < min_new_votes:
            return None
        log.info("periodic retrain", extra={"new_votes": new_votes})
        return await self.run("periodic")


async def _say(progress: Progress | None, text: str) -> None:
    if progress is None:
        return
    outcome = progress(text)
    if inspect.isawaitable(outcome):
        await outcome


def _same_path(a: str | Path, b: str | Path) -> bool:
    return Path(a).resolve() == Path(b).resolve()
