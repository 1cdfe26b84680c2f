"""Run predictions off the event loop, in a bounded thread pool, with a swappable model.

At most `workers + max_queue` predictions are admitted at a time (`workers` predicting, the rest
waiting); one more is refused at once with `Busy`, so a flood of requests gets fast "busy"
answers instead of an ever-growing backlog. Requests take a slot once their image bytes are in
hand: downloads are bounded separately (bot.service.limits.FetchGate).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from models.distinctive import DistinctiveTag
from models.image import MAX_BYTES, ImageError, load_image
from models.memory import release_memory
from models.prediction import Prediction

if TYPE_CHECKING:
    from PIL import Image

T = TypeVar("T")


class FeatureSpecLike(Protocol):
    @property
    def spec(self) -> dict: ...


class PredictorLike(Protocol):
    """What the bot uses of models.predictor.Predictor (tests pass stubs)."""

    @property
    def version(self) -> str: ...

    @property
    def path(self) -> Path | None: ...  # the model's folder; None for a model not loaded from one

    @property
    def extractor(self) -> FeatureSpecLike: ...  # its feature spec: what a model version must be made for

    def reload(self, directory: Path) -> PredictorLike: ...  # another version, sharing the embedder

    @property
    def genres(self) -> list[str]: ...

    def distinctive(self, genre: str) -> list[DistinctiveTag]: ...

    def predict_images(self, images: Sequence[Image.Image]) -> list[Prediction]: ...

    def aggregate(self, predictions: Sequence[Prediction]) -> Prediction: ...


class Busy(Exception):
    """Every worker is busy and the queue is full."""


@dataclass(frozen=True)
class Judged:
    prediction: Prediction
    image_sha256: str
    n_images: int  # images that decoded (an artist's unreadable covers are skipped)


class Slot:
    """One admitted request's place in the pool, given back exactly once.

    Once the job is submitted the slot belongs to the job's future, which gives it back when the
    work really ends, even if the request was cancelled meanwhile.
    """

    def __init__(self, give_back: Callable[[], None]) -> None:
        self._give_back = give_back
        self._lock = threading.Lock()
        self._released = False
        self._handed_over = False

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._handed_over:
            self.release()

    def hand_over(self, future: Future[Any]) -> None:
        self._handed_over = True
        future.add_done_callback(lambda _: self.release())

    def release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        self._give_back()


class InferencePool:
    def __init__(self, predictor: PredictorLike, workers: int, max_queue: int, max_bytes: int = MAX_BYTES) -> None:
        if workers < 1 or max_queue < 0:
            raise ValueError("need at least one worker and a queue of 0 or more")
        self._predictor = predictor
        self._max_bytes = max_bytes
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="predict")
        self._capacity = workers + max_queue
        self._pending = 0
        self._lock = threading.Lock()

    @property
    def predictor(self) -> PredictorLike:
        return self._predictor

    @property
    def pending(self) -> int:
        """Admitted predictions: waiting for a worker, or predicting."""
        return self._pending

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def is_full(self) -> bool:
        """admit() would raise Busy now (a hint: another request may take or free a slot meanwhile)."""
        return self._pending >= self._capacity

    def swap(self, predictor: PredictorLike) -> PredictorLike:
        """Use another model from the next job on; jobs already started finish with the old one."""
        old, self._predictor = self._predictor, predictor
        return old

    def admit(self) -> Slot:
        """A place for one request, or Busy when workers and queue are all taken."""
        with self._lock:
            if self._pending >= self._capacity:
                raise Busy()
            self._pending += 1
        return Slot(self._give_back)

    async def run(self, job: Callable[[PredictorLike], T], slot: Slot | None = None) -> T:
        """job(predictor) in a worker thread, in the given slot or a new one (Busy when full)."""
        with slot or self.admit() as held:
            # executor.submit rather than loop.run_in_executor: the slot needs the concurrent
            # future, whose callbacks also fire for a job cancelled before it started.
            future = self._executor.submit(self._call, job)
            held.hand_over(future)
        return await asyncio.wrap_future(future)

    async def judge(self, images: Sequence[bytes], aggregate: bool = False, slot: Slot | None = None) -> Judged:
        return await self.run(lambda predictor: judge(predictor, images, aggregate, self._max_bytes), slot)

    async def shutdown(self) -> None:
        await asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)

    def _call(self, job: Callable[[PredictorLike], T]) -> T:
        return job(self._predictor)  # read once: the whole job sees one model

    def _give_back(self) -> None:
        with self._lock:
            self._pending -= 1


def judge(
    predictor: PredictorLike, images: Sequence[bytes], aggregate: bool = False, max_bytes: int = MAX_BYTES
) -> Judged:
    """Decode and predict (one batch); with aggregate, one guess from all the images that decode.

    Raises the first ImageError when no image decodes.
    """
    pictures: list[Image.Image] = []
    digests: list[str] = []
    first_error: ImageError | None = None
    for data in images:
        try:
            pictures.append(load_image(data, max_bytes=max_bytes))
        except ImageError as exc:
            first_error = first_error or exc
            continue
        digests.append(hashlib.sha256(data).hexdigest())
    if not pictures:
        raise first_error or ImageError("There was no image to judge.")
    predictions = predictor.predict_images(pictures)
    n_pictures = len(pictures)
    del pictures
    release_memory()
    if aggregate:
        digest = hashlib.sha256("".join(sorted(digests)).encode()).hexdigest()
        return Judged(predictor.aggregate(predictions), digest, n_pictures)
    return Judged(predictions[0], digests[0], 1)
