import stat
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from unittest.mock import MagicMock

import pytest

from bot.retraining import Retrainer, RetrainFailed, RetrainRefused
from bot.settings import load_settings
from tests.bot.retrain_results import PROMOTED, REJECTED
from training.result import RetrainResult


def settings_for(tmp_path: Path, **overrides):
    return load_settings(_env_file=None, DATA_DIR=tmp_path / "data", **overrides)


def fake_python(tmp_path: Path, *, stdout: str = "", code: int = 0) -> str:
    """A stand-in for `python -m training retrain …` that prints stdout and exits with code."""
    script = tmp_path / "fake-python"
    script.write_text(f"#!/bin/sh\ncat <<'EOF'\n{stdout}\nEOF\nexit {code}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def fake_service():
    """A stand-in for the service's model holder (the inference pool): its predictor and swap."""
    from models import artifact

    service = MagicMock()
    service.predictor.version = "v1"
    service.predictor.path = artifact.SHIPPED_DIR  # what a fresh bot serves
    service.predictor.extractor.spec = artifact.read_manifest(artifact.SHIPPED_DIR)["feature_spec"]
    service.predictor.reload.return_value = SimpleNamespace(version="v2")
    service.swap.side_effect = lambda new: service.predictor
    return service


def result_json(status: str, version: str | None = "v2") -> str:
    return replace(PROMOTED if status == "promoted" else REJECTED, status=status, version=version,
                   promoted=status == "promoted").to_json()


def promote_elsewhere(settings, name: str) -> None:
    """A copy of the shipped model promoted in the registry, as a cron retrain or a rollback would."""
    from models import artifact
    from models.registry import ModelRegistry, registry_root

    registry = ModelRegistry(registry_root(settings.DATA_DIR))
    shipped = artifact.load(artifact.SHIPPED_DIR, artifact.read_manifest(artifact.SHIPPED_DIR)["feature_spec"])
    shipped.manifest["version"] = name
    artifact.save(shipped, registry.path(name))
    registry.promote(name)


async def test_promoted_model_is_swapped_in_without_restart(tmp_path):
    service = fake_service()
    notes: list[str] = []

    async def note(text: str) -> None:
        notes.append(text)

    retrainer = Retrainer(service, settings_for(tmp_path), python=fake_python(tmp_path, stdout=result_json("promoted")))
    outcome = await retrainer.run("manual", progress=note)
    assert outcome == RetrainResult.from_json(result_json("promoted"))
    service.predictor.reload.assert_called_once_with(tmp_path / "data" / "models" / "v2")
    service.swap.assert_called_once_with(service.predictor.reload.return_value)
    assert notes and "Retraining started" in notes[0]


async def test_rejected_model_is_not_swapped(tmp_path):
    service = fake_service()
    stdout = result_json("rejected")
    outcome = await Retrainer(service, settings_for(tmp_path), python=fake_python(tmp_path, stdout=stdout)).run()
    assert outcome.status == "rejected"
    service.swap.assert_not_called()


async def test_output_that_is_not_a_result_is_a_failure_not_a_crash(tmp_path):
    service = fake_service()
    retrainer = Retrainer(service, settings_for(tmp_path), python=fake_python(tmp_path, stdout='{"status": "odd"}'))
    with pytest.raises(RetrainFailed, match="current model stays"):
        await retrainer.run()
    service.swap.assert_not_called()


async def test_lock_held_elsewhere_is_refused_with_a_message(tmp_path):
    retrainer = Retrainer(fake_service(), settings_for(tmp_path), python=fake_python(tmp_path, code=3))
    with pytest.raises(RetrainRefused, match="already running") as info:
        await retrainer.run()
    assert info.value.user_message == str(info.value)


async def test_second_run_in_this_process_is_refused_before_spawning(tmp_path):
    retrainer = Retrainer(fake_service(), settings_for(tmp_path), python="/nonexistent/python")
    async with retrainer._running:
        with pytest.raises(RetrainRefused):
            await retrainer.run()


async def test_failed_run_keeps_the_current_model(tmp_path):
    service = fake_service()
    retrainer = Retrainer(service, settings_for(tmp_path), python=fake_python(tmp_path, code=2))
    with pytest.raises(RuntimeError, match="current model stays") as info:
        await retrainer.run()
    assert info.value.user_message == str(info.value)
    service.swap.assert_not_called()


async def test_failed_run_after_the_switch_follows_the_registry(tmp_path):
    """The run switched CURRENT, then a later step failed: the bot serves the new model and says so."""
    settings = settings_for(tmp_path)
    service = fake_service()
    service.predictor.reload.side_effect = lambda path: SimpleNamespace(version=path.name, path=path)
    def swap(predictor):
        old, service.predictor = service.predictor, predictor
        return old

    service.swap.side_effect = swap
    promote_elsewhere(settings, "v-switched")  # what the failing run got done before it failed
    retrainer = Retrainer(service, settings, python=fake_python(tmp_path, code=1))
    with pytest.raises(RuntimeError, match="after switching models; now serving v-switched"):
        await retrainer.run()
    service.swap.assert_called_once()
    assert service.predictor.path == settings.DATA_DIR / "models" / "v-switched"


async def test_model_dir_turns_retraining_off(tmp_path):
    """MODEL_DIR pins the served model: /retrain is refused, no periodic run, the registry is not followed."""
    from models import artifact

    settings = settings_for(tmp_path, MODEL_DIR=artifact.SHIPPED_DIR)
    service = fake_service()
    retrainer = Retrainer(service, settings, python="/nonexistent/python")
    with pytest.raises(RetrainRefused, match="Unset MODEL_DIR") as info:
        await retrainer.run()
    assert "DATA_DIR/models" in info.value.user_message

    promote_elsewhere(settings, "v-cron")
    assert await retrainer.follow_registry() is False
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    await retrainer.periodic(FakeStore(None, 100), interval_hours=1, min_new_votes=1, sleep=sleep)  # returns at once
    assert slept == []
    service.swap.assert_not_called()


@pytest.mark.parametrize("spotify", [True, False])
def test_the_command_hands_the_retrain_cli_every_setting_as_a_flag(tmp_path, spotify):
    """Parsed by the retrain CLI's own parser, the bot's command yields exactly the bot's settings."""
    from training.cli import build_parser

    settings = settings_for(tmp_path, RETRAIN_ALPHA=0.02, RETRAIN_INCLUDE_SPOTIFY=spotify, MIN_VOTES=2,
                            ADMIN_VOTE_WEIGHT=3.5, KEEP_MODEL_VERSIONS=7, NEW_GENRES="auto", NEW_GENRE_MIN_COVERS=9)
    command = Retrainer(fake_service(), settings).command("periodic")
    assert command[1:4] == ["-m", "training", "retrain"]
    args = build_parser().parse_args(command[3:])
    assert (args.trigger, args.data_dir, args.alpha, args.include_spotify, args.min_votes, args.admin_weight,
            args.keep, args.new_genres, args.new_genre_min_covers, args.json, args.no_progress) == (
        "periodic", settings.DATA_DIR, 0.02, spotify, 2, 3.5, 7, "auto", 9, True, True)


class FakeStore:
    def __init__(self, last_started: float | None, new_votes: int):
        run = SimpleNamespace(started=last_started) if last_started is not None else None
        self._stats = SimpleNamespace(last_retrain=run)
        self._new_votes = new_votes

    async def stats(self):
        return self._stats

    async def count_votes_since(self, timestamp: float) -> int:
        return self._new_votes


@pytest.mark.parametrize("last_started, votes, runs", [
    (None, 0, False),  # nothing to learn from
    (None, 25, True),
    (0.0, 25, True),  # long ago
    (9e18, 25, False),  # "just now": the interval has not passed
])
async def test_periodic_retrain_needs_time_and_votes(tmp_path, last_started, votes, runs):
    stdout = result_json("rejected", version=None)
    retrainer = Retrainer(fake_service(), settings_for(tmp_path), python=fake_python(tmp_path, stdout=stdout))
    outcome = await retrainer.maybe_retrain(FakeStore(last_started, votes), interval_hours=24, min_new_votes=20)
    assert (outcome is not None) == runs
    if runs:
        assert outcome.status == "rejected"


async def test_real_retrain_process_on_an_empty_store(tmp_path):
    """The real `python -m training retrain` in a subprocess: no votes yet, so nothing is promoted."""
    from feedback.store import Store, default_path

    settings = settings_for(tmp_path)
    settings.DATA_DIR.mkdir(parents=True)
    store = await Store.open(default_path(settings.DATA_DIR))
    await store.close()
    service = fake_service()
    outcome = await Retrainer(service, settings).run("manual")
    assert outcome.status == "rejected" and not outcome.promoted and "no labelled feedback" in outcome.reason
    service.swap.assert_not_called()


async def test_follows_a_model_promoted_elsewhere(tmp_path):
    """A cron retrain or a rollback changes CURRENT; the bot switches on its next check."""
    from models import artifact
    from models.predictor import Predictor
    from models.registry import ModelRegistry, registry_root

    settings = settings_for(tmp_path)
    predictor = Predictor.load()
    service = MagicMock()
    service.predictor = predictor
    retrainer = Retrainer(service, settings)
    assert await retrainer.follow_registry() is False  # nothing retrained yet: the shipped model

    registry = ModelRegistry(registry_root(settings.DATA_DIR))
    shipped = artifact.load(artifact.SHIPPED_DIR, predictor.extractor.spec)
    shipped.manifest["version"] = "v-cron"
    artifact.save(shipped, registry.path("v-cron"))
    registry.promote("v-cron")

    assert await retrainer.follow_registry() is True
    swapped_in = service.swap.call_args.args[0]
    assert swapped_in.version == "v-cron"
