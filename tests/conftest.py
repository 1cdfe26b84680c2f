"""Shared test setup: where the shared cover sets live, and the gate for slow tests.

Slow tests (real cover sets, training) run when CI is set or with --run-slow. Tests that need
../shared/data skip with a reason when it is absent, except in CI, where they fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
IN_CI = bool(os.environ.get("CI"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="also run tests marked slow (CI always does)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IN_CI or config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: runs in CI, or locally with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def require_shared(*parts: str) -> Path:
    """Path inside ../shared/data, or skip (fail in CI) when it is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        message = f"needs the shared cover sets at {path} (not present)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def discogs_dir() -> Path:
    return require_shared("covers-discogs5")


@pytest.fixture(scope="session")
def spotify_dir() -> Path:
    return require_shared("covers-spotify-fresh")
