"""Reading the text on a cover: image in, text boxes out (RapidOCR, PP-OCRv4 models on onnxruntime).

The reader never fails a prediction: an image it cannot read, or an error inside the OCR, gives an
empty Reading and one log line per kind of problem.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from models.memory import release_memory

log = logging.getLogger(__name__)

# Chosen by measurement on Discogs-5 and Spotify covers (benchmarks/bench_models.py, model card):
# the detector sees the cover at DET_SIDE px, only the largest MAX_BOXES boxes are recognised,
# strings read with less confidence than MIN_CONFIDENCE are dropped, no angle classifier.
# The recogniser takes one box at a time (REC_BATCH): a batch pads every crop to the widest one's
# width, which cost ~60 MB of peak memory and time; 54 of 60 sample covers read the same either way,
# the rest differ by a character or two (model card), so the read-text caches stay valid.
DET_SIDE = 384
MAX_BOXES = 6
MIN_CONFIDENCE = 0.5
REC_BATCH = 1
# RapidOCR pads every crop to at least REC_MIN_WIDTH px wide at the recogniser's 48 px height (its
# default, 320). Most cover words are shorter: 160 px cut ~20 ms a cover but changed 42 % of Discogs
# covers' readings, and a model retrained on them was no better (model card), so 320 stays.
REC_MIN_WIDTH = 320
DET_MODEL = "ch_PP-OCRv4_det_infer.onnx"  # inside the rapidocr-onnxruntime wheel
MAX_ASPECT = 4.0  # covers are square-ish; a 1x40000 strip is not a cover worth reading
MIN_SIDE = 16
# Part of every cache key of read text: change it whenever a setting above or the OCR changes.
SETTINGS_VERSION = (f"rapidocr-1.4/det{DET_SIDE}/boxes{MAX_BOXES}/conf{MIN_CONFIDENCE}/nocls/1"
                    + ("" if REC_MIN_WIDTH == 320 else f"/rec{REC_MIN_WIDTH}"))


@dataclass(frozen=True)
class TextBox:
    text: str
    confidence: float
    box: tuple[tuple[float, float], ...]  # four corners (x, y) in the input image's pixels

    @property
    def area(self) -> float:
        xs, ys = zip(*self.box, strict=True)
        return float(0.5 * abs(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1))))


@dataclass(frozen=True)
class Reading:
    boxes: tuple[TextBox, ...] = ()
    image_area: float = 1.0  # of the image the boxes' corners refer to

    @property
    def text(self) -> str:
        """What the cover reads, top to bottom, one space between boxes ("" when nothing)."""
        return " ".join(b.text for b in self.boxes)


EMPTY = Reading()


def reader_version() -> str:
    try:
        return metadata.version("rapidocr-onnxruntime")
    except metadata.PackageNotFoundError:
        return "missing"


class Reader:
    """Thread-safe after construction (onnxruntime sessions are); one intra-op thread by default."""

    def __init__(self, threads: int = 1):
        self._engine = _engine(threads)
        self._warned: set[str] = set()

    def read(self, image: Image.Image) -> Reading:
        try:
            array, scale = _prepare(image)
        except _Unreadable as exc:
            self._warn_once(str(exc), f"not reading text: {exc}")
            return EMPTY
        try:
            boxes = self._read(array)
        except Exception as exc:  # the OCR's internals can raise almost anything on odd input
            self._warn_once(type(exc).__name__, f"reading text failed ({type(exc).__name__}: {exc}); image only")
            return EMPTY
        finally:
            release_memory()  # ~7 ms; without it each cover's OCR buffers pile up in the heap
        corners = [tuple((x / scale, y / scale) for x, y in box.box) for box in boxes]
        return Reading(tuple(TextBox(b.text, b.confidence, c) for b, c in zip(boxes, corners, strict=True)),
                       image_area=float(image.width * image.height))

    def _read(self, array: np.ndarray) -> list[TextBox]:
        found = self._detect(array)
        return self._recognise(array, found) if len(found) else []

    def _detect(self, array: np.ndarray) -> np.ndarray:
        """The text boxes' corners the detector finds (benchmarks/bench_reader.py times it apart).

        RapidOCR's own TextDetector call, but with the input normalised in float32: its float64
        normalisation cost 5-10 ms a cover, a tenth of the reading."""
        detector = self._engine.text_det
        prediction = detector.infer(_detector_input(array))[0]
        found, _ = detector.postprocess_op(prediction, array.shape[:2])
        found = detector.filter_tag_det_res(found, array.shape[:2])
        return np.zeros((0, 4, 2)) if len(found) == 0 else np.asarray(found)

    def _recognise(self, array: np.ndarray, found: np.ndarray, max_boxes: int | None = None) -> list[TextBox]:
        """The largest `max_boxes` (default MAX_BOXES) boxes read, top to bottom; strings under
        MIN_CONFIDENCE dropped."""
        engine = self._engine
        areas = [_polygon_area(b) for b in found]
        largest = sorted(np.argsort(areas)[::-1][:MAX_BOXES if max_boxes is None else max_boxes])
        kept = engine.sorted_boxes(np.asarray([found[i] for i in largest]))
        crops = engine.get_crop_img_list(array, kept)
        recognised, _ = engine.text_rec(crops)
        out = []
        for box, result in zip(kept, recognised, strict=True):
            text, confidence = str(result[0]).strip(), float(result[1])
            if text and confidence >= MIN_CONFIDENCE:
                out.append(TextBox(text, confidence, tuple((float(x), float(y)) for x, y in box)))
        return out

    def _warn_once(self, kind: str, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            log.warning(message)


class _Unreadable(ValueError):
    pass


def _engine(threads: int):
    from rapidocr_onnxruntime import RapidOCR

    # limit_type "max" leaves an image under 960 px at its size: _prepare has already sized it.
    engine = RapidOCR(use_cls=False, print_verbose=False, det_limit_type="max",
                      rec_batch_num=REC_BATCH, rec_img_shape=[3, 48, REC_MIN_WIDTH],
                      intra_op_num_threads=threads, inter_op_num_threads=1)
    engine.text_det.infer.session = _detector_session(threads)
    return engine


def _detector_session(threads: int):
    """The detector's session, with onnxruntime's memory arena: RapidOCR runs its sessions without one,
    so every detection allocated its activations afresh and, after the trim, faulted them back in
    (~8,600 page faults, ~30 ms a cover; model card). The detector's input is never larger than
    DET_SIDE square, so the arena stays bounded. The recogniser's input width follows the text,
    so it keeps RapidOCR's session, which frees what each run took."""
    import onnxruntime as ort
    import rapidocr_onnxruntime

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    model = Path(rapidocr_onnxruntime.__file__).parent / "models" / DET_MODEL
    return ort.InferenceSession(str(model), options,
                                providers=[("CPUExecutionProvider", {"arena_extend_strategy": "kSameAsRequested"})])


def _prepare(image: Image.Image, side: int | None = None) -> tuple[np.ndarray, float]:
    """The cover as the BGR array the detector reads (longest side `side`, default DET_SIDE) and the scale used."""
    side = DET_SIDE if side is None else side
    width, height = image.size
    if min(width, height) < MIN_SIDE:
        raise _Unreadable(f"image too small ({width}x{height})")
    if max(width, height) / min(width, height) > MAX_ASPECT:
        raise _Unreadable(f"image too narrow ({width}x{height})")
    scale = side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    rgb = image.convert("RGB").resize(size, Image.Resampling.BILINEAR)
    return np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1]), scale


def _detector_input(array: np.ndarray) -> np.ndarray:
    """The detector's input: sides rounded to multiples of 32 (the network needs them), pixels to
    [-1, 1] (RapidOCR's mean and std of 0.5), channels first, a batch of one."""
    height, width = array.shape[:2]
    size = (max(32, round(width / 32) * 32), max(32, round(height / 32) * 32))
    if size != (width, height):
        array = cv2.resize(array, size)
    scaled = array.astype(np.float32) * np.float32(2 / 255) - np.float32(1)
    return np.ascontiguousarray(scaled.transpose(2, 0, 1))[None]


def _polygon_area(points: np.ndarray) -> float:
    xs, ys = np.asarray(points, dtype=np.float64).T
    return float(0.5 * abs(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1))))
