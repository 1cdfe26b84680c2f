"""The feedback package sits between models and the two rooms that use it: it imports neither."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

FEEDBACK = "feedback.store, feedback.reader, feedback.lock, feedback.labels, feedback.records, feedback.migrate"


def imported_after(modules: str) -> set[str]:
    code = f"import sys, {modules}; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def in_package(modules: set[str], package: str) -> list[str]:
    return sorted(m for m in modules if m == package or m.startswith(package + "."))


@pytest.mark.parametrize("forbidden", ["bot", "training"])
def test_feedback_imports_neither_bot_nor_training(forbidden: str) -> None:
    assert in_package(imported_after(FEEDBACK), forbidden) == []


def test_training_never_imports_bot() -> None:
    loaded = imported_after("models.registry, training.retrain, training.cli")
    assert in_package(loaded, "bot") == []
    assert "feedback.reader" in loaded  # training reads votes through the feedback package


def test_the_migrations_ship_as_package_data() -> None:
    from feedback.migrate import load_migrations

    assert [(m.version, m.name) for m in load_migrations()][0] == (1, "initial")
