"""Where the reading time goes: the detector and the recogniser timed apart, on one thread.

For each (detector side, boxes recognised) pair it prints p50/p95 of both stages and of the whole
reading, the boxes recognised per cover and the characters read with at least the shipped
confidence, so a faster setting can be weighed against the text it stops reading.
Run: `python benchmarks/bench_reader.py [--covers DIR] [--n 100] [--settings 384x6 320x2]`.
Numbers, not a test; the shipped settings are models/reader.py's DET_SIDE and MAX_BOXES.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench_models import DEFAULT_COVERS, percentile  # noqa: E402

from models import reader  # noqa: E402
from models.image import load_image  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--covers", type=Path, default=DEFAULT_COVERS, help="folder of cover images")
    parser.add_argument("--n", type=int, default=100, help="covers to time")
    parser.add_argument("--settings", nargs="+", default=[f"{reader.DET_SIDE}x{reader.MAX_BOXES}", "320x2"],
                        help="detector side x boxes recognised, e.g. 384x6")
    args = parser.parse_args()
    paths = sorted(p for p in args.covers.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})[: args.n]
    images = [load_image(p.read_bytes()) for p in paths]
    ocr = reader.Reader(threads=1)
    print(f"{len(images)} covers from {args.covers}; one onnxruntime thread; times in ms")
    for setting in args.settings:
        side, boxes = (int(v) for v in setting.split("x"))
        detect, recognise, counts, chars = time_stages(ocr, images, side, boxes)
        total = [d + r for d, r in zip(detect, recognise, strict=True)]
        print(f"side {side}, {boxes} boxes: detect {summary(detect)}; recognise {summary(recognise)}; "
              f"reading {summary(total)}; {statistics.mean(counts):.2f} boxes per cover; {chars} characters read")
    return 0


def time_stages(ocr: reader.Reader, images: list, side: int, boxes: int) -> tuple[list[float], list[float], list[int], int]:
    """The reader's two steps at another detector side and box count, with a clock between them."""
    detect, recognise, counts, chars = [], [], [], 0
    for image in images:
        array, _ = reader._prepare(image, side)
        t0 = time.perf_counter()
        found = ocr._detect(array)
        t1 = time.perf_counter()
        read = ocr._recognise(array, found, boxes) if len(found) else []
        recognise.append((time.perf_counter() - t1) * 1000)
        detect.append((t1 - t0) * 1000)
        counts.append(min(boxes, len(found)))
        chars += sum(len(box.text) for box in read)
    return detect, recognise, counts, chars


def summary(values: list[float]) -> str:
    return f"p50 {statistics.median(values):.1f} / p95 {percentile(values, 95):.1f}"


if __name__ == "__main__":
    raise SystemExit(main())
