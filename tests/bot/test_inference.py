"""The bounded inference pool: off the loop, busy beyond the queue, slots always given back, hot swap."""

from __future__ import annotations

import asyncio
import hashlib
import io
import threading
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.inference import Busy, InferencePool, judge
from models.image import ImageError, load_image
from tests.bot.fake_spotify import COVERS
from tests.helpers import until


class Model:
    """Stands in for a Predictor: jobs here only look at its name, and may wait on a gate."""

    def __init__(self, version: str = "v1", gate: threading.Event | None = None) -> None:
        self.version = version
        self.gate = gate
        self.started = 0

    def wait(self) -> str:
        self.started += 1
        if self.gate is not None:
            assert self.gate.wait(30), "the gate never opened"
        return self.version


@pytest.fixture
async def pools():
    made: list[InferencePool] = []

    def make(model: Any, workers: int = 1, max_queue: int = 0) -> InferencePool:
        made.append(InferencePool(model, workers, max_queue))
        return made[-1]

    yield make
    for pool in made:
        await pool.shutdown()


async def test_jobs_run_in_worker_threads(pools) -> None:
    pool = pools(Model())
    thread = await pool.run(lambda model: threading.current_thread())
    assert thread is not threading.current_thread()
    assert thread.name.startswith("predict")


async def test_busy_beyond_workers_plus_queue(pools) -> None:
    gate = threading.Event()
    model = Model(gate=gate)
    pool = pools(model, workers=2, max_queue=1)
    jobs = [asyncio.create_task(pool.run(Model.wait)) for _ in range(3)]
    await until(lambda: model.started == 2)
    assert pool.pending == 3 == pool.capacity
    with pytest.raises(Busy):
        await pool.run(Model.wait)
    gate.set()
    assert await asyncio.gather(*jobs) == ["v1"] * 3
    assert pool.pending == 0
    assert await pool.run(Model.wait) == "v1"


async def test_errors_propagate_and_free_the_slot(pools) -> None:
    pool = pools(Model())

    def fail(model: Model) -> None:
        raise ValueError("bad")

    for _ in range(3):
        with pytest.raises(ValueError, match="bad"):
            await pool.run(fail)
    assert pool.pending == 0


async def test_a_job_cancelled_while_queued_frees_its_slot(pools) -> None:
    gate = threading.Event()
    model = Model(gate=gate)
    pool = pools(model, workers=1, max_queue=1)
    running = asyncio.create_task(pool.run(Model.wait))
    queued = asyncio.create_task(pool.run(Model.wait))
    await until(lambda: model.started == 1 and pool.pending == 2)
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    assert pool.pending == 1
    gate.set()
    assert await running == "v1"
    assert pool.pending == 0


async def test_swap_keeps_running_jobs_on_the_old_model(pools) -> None:
    gate = threading.Event()
    old = Model("old", gate)
    pool = pools(old, workers=2)
    running = asyncio.create_task(pool.run(Model.wait))
    await until(lambda: old.started == 1)
    assert pool.swap(Model("new")) is old
    assert await pool.run(Model.wait) == "new"
    gate.set()
    assert await running == "old"


async def test_a_slot_is_taken_before_the_job_and_given_back_once(pools) -> None:
    pool = pools(Model(), workers=1, max_queue=0)
    with pool.admit() as slot:
        assert pool.pending == 1
        with pytest.raises(Busy):
            pool.admit()
    assert pool.pending == 0
    slot.release()  # again: no effect
    assert pool.pending == 0
    with pool.admit() as slot:
        assert await pool.run(Model.wait, slot) == "v1"
        assert pool.pending == 0  # the finished job gave it back
    assert pool.pending == 0


def test_needs_a_worker() -> None:
    with pytest.raises(ValueError):
        InferencePool(Model(), 0, 1)


# --- judge(): decoding and batching ---------------------------------------------------------------------


def png(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), color).save(buffer, "PNG")
    return buffer.getvalue()


def test_judge_one_image(predictor) -> None:
    data = png((200, 30, 30))
    judged = judge(predictor, [data])
    assert judged.n_images == 1 and judged.image_sha256 == hashlib.sha256(data).hexdigest()
    assert judged.prediction.model_version == predictor.version
    assert judge(predictor, [png((30, 30, 200))]).image_sha256 != judged.image_sha256


def test_judge_an_artist_digests_the_covers_that_decoded_in_any_order(predictor) -> None:
    red, blue = png((200, 30, 30)), png((30, 30, 200))
    judged = judge(predictor, [red, b"junk", blue], aggregate=True)
    digests = sorted(hashlib.sha256(d).hexdigest() for d in (red, blue))
    assert judged.image_sha256 == hashlib.sha256("".join(digests).encode()).hexdigest()
    assert judge(predictor, [blue, red], aggregate=True).image_sha256 == judged.image_sha256


def test_judge_honours_a_size_limit_above_the_default(predictor) -> None:
    padded = png((200, 30, 30)) + b"\0" * (16 * 1024 * 1024)  # PNG ignores bytes after IEND
    with pytest.raises(ImageError, match="bigger than 15 MB"):
        judge(predictor, [padded])
    assert judge(predictor, [padded], max_bytes=20 * 1024 * 1024).n_images == 1


async def test_the_pool_judges_with_its_size_limit(predictor) -> None:
    pool = InferencePool(predictor, 1, 0, max_bytes=100)
    try:
        with pytest.raises(ImageError, match="bigger than 100 bytes"):
            await pool.judge([png((200, 30, 30))])
    finally:
        await pool.shutdown()


def test_judge_aggregates_and_skips_unreadable_covers(predictor, spotify_dir: Path) -> None:
    covers = [(spotify_dir / "images" / name).read_bytes() for name in COVERS[:3]]
    judged = judge(predictor, [*covers, b"not an image"], aggregate=True)
    assert judged.n_images == 3
    expected = predictor.aggregate(predictor.predict_images([load_image(c) for c in covers]))
    assert [g.genre for g in judged.prediction.genres] == [g.genre for g in expected.genres]


def test_judge_raises_the_image_error_when_nothing_decodes(predictor) -> None:
    with pytest.raises(ImageError, match="doesn't look like an image"):
        judge(predictor, [b"junk", b"more junk"], aggregate=True)
