import json
import stat
from pathlib import Path
from types import SimpleNamespace
from unittest.mock import MagicMock

import pytest

from bot.retraining import Retrainer, RetrainRefused
from bot.settings import load_settings


def settings_for(tmp_path: Path, **overrides):
    return load_settings(_env_file=None, DATA_DIR=tmp_path / "data", **overrides)


def fake_python(tmp_path: Path, *, stdout: str = "", code: int = 0) -> str:
    """A stand-in for `python -m training retrain …` that prints stdout and exits with code."""
    script = tmp_path / "fake-python"
    script.write_text(f"#!/bin/sh\ncat <<'EOF'\n{stdout}\nEOF\nexit {code}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def fake_service():
    from models import artifact

    service = MagicMock()
    service.predictor.path = artifact.SHIPPED_DIR  # what a fresh bot serves
    service.predictor.extractor.spec = artifact.read_manifest(artifact.SHIPPED_DIR)["feature_spec"]
    service.predictor.reload.return_value = SimpleNamespace(version="v2")
    return service


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
    result = {"status": "promoted", "version": "v2", "reason": "not worse"}
    service = fake_service()
    notes: list[str] = []
    retrainer = Retrainer(service, settings_for(tmp_path), python=fake_python(tmp_path, stdout=json.dumps(result)))
    outcome = await retrainer.run("manual", progress=notes.append)
    assert outcome["status"] == "promoted" and outcome["trigger"] == "manual"
    service.predictor.reload.assert_called_once_with(tmp_path / "data" / "models" / "v2")
    service.swap_predictor.assert_called_once_with(service.predictor.reload.return_value)
    assert notes and "Retraining started" in notes[0]


async def test_rejected_model_is_not_swapped(tmp_path):
    service = fake_service()
    stdout = json.dumps({"status": "rejected", "version": "v2", "reason": "worse on feedback"})
    outcome = await Retrainer(service, settings_for(tmp_path), python=fake_python(tmp_path, stdout=stdout)).run()
    assert outcome["status"] == "rejected"
    service.swap_predictor.assert_not_called()


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
    service.swap_predictor.assert_not_called()


async def test_failed_run_after_the_switch_follows_the_registry(tmp_path):
    """The run switched CURRENT, then a later step failed: the bot serves the new model and says so."""
    settings = settings_for(tmp_path)
    service = fake_service()
    service.predictor.reload.side_effect = lambda path: SimpleNamespace(version=path.name, path=path)
    service.swap_predictor.side_effect = lambda predictor: setattr(service, "predictor", predictor)
    promote_elsewhere(settings, "v-switched")  # what the failing run got done before it failed
    retrainer = Retrainer(service, settings, python=fake_python(tmp_path, code=1))
    with pytest.raises(RuntimeError, match="after switching models; now serving v-switched"):
        await retrainer.run()
    service.swap_predictor.assert_called_once()
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
    service.swap_predictor.assert_not_called()


def test_command_passes_the_settings(tmp_path):
    settings = settings_for(tmp_path, RETRAIN_TOLERANCE=0.02, RETRAIN_INCLUDE_SPOTIFY=True, MIN_VOTES=2)
    command = Retrainer(fake_service(), settings).command("periodic")
    assert command[1:4] == ["-m", "training", "retrain"]
    assert command[command.index("--trigger") + 1] == "periodic"
    assert "--include-spotify" in command
    assert command[command.index("--tolerance") + 1] == "0.02"
    assert command[command.index("--min-votes") + 1] == "2"


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
    stdout = json.dumps({"status": "rejected", "version": None, "reason": "x"})
    retrainer = Retrainer(fake_service(), settings_for(tmp_path), python=fake_python(tmp_path, stdout=stdout))
    outcome = await retrainer.maybe_retrain(FakeStore(last_started, votes), interval_hours=24, min_new_votes=20)
    assert (outcome is not None) == runs
    if runs:
        assert outcome["trigger"] == "periodic"


async def test_real_retrain_process_on_an_empty_store(tmp_path):
    """The real `python -m training retrain` in a subprocess: no votes yet, so nothing is promoted."""
    from feedback.store import Store, default_path

    settings = settings_for(tmp_path)
    settings.DATA_DIR.mkdir(parents=True)
    store = await Store.open(default_path(settings.DATA_DIR))
    await store.close()
    service = fake_service()
    outcome = await Retrainer(service, settings).run("manual")
    assert outcome["status"] == "rejected" and not outcome["promote"]
    service.swap_predictor.assert_not_called()


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
    swapped_in = service.swap_predictor.call_args.args[0]
    assert swapped_in.version == "v-cron"
