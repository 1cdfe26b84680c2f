"""Benchmark the cover pipeline: decode → embed → descriptors → read text → classify → tags.

Prints per-cover latency (p50/p95) on one thread, with and without reading the cover's text,
throughput with batching, cold start and peak RSS.
Run: `python benchmarks/bench_models.py [--covers DIR] [--n 200]`. Numbers, not a test.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as promised to small servers

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from models.reader import SETTINGS_VERSION as READER_SETTINGS  # noqa: E402

DEFAULT_COVERS = ROOT.parent / "shared" / "data" / "covers-spotify-fresh" / "images"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--covers", type=Path, default=DEFAULT_COVERS, help="folder of cover images")
    parser.add_argument("--n", type=int, default=200, help="covers to time")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--model", type=Path, help="artifact directory (default: the shipped model)")
    args = parser.parse_args()
    paths = sorted(p for p in args.covers.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})[: args.n]
    if not paths:
        print(f"no covers in {args.covers}", file=sys.stderr)
        return 1
    blobs = [p.read_bytes() for p in paths]

    start = time.perf_counter()
    from models.predictor import Predictor

    predictor = Predictor.load(args.model, threads=1)
    predictor.predict(blobs[0])
    cold = time.perf_counter() - start

    for blob in blobs[:10]:
        predictor.predict(blob)
    latencies = time_each(predictor, blobs)
    image_only = Predictor(predictor.artifact, predictor.extractor, predictor.path, reader=None)
    latencies_image_only = time_each(image_only, blobs)

    serving_peak = peak_rss_mb()  # one cover at a time, as the bot serves

    from models.image import load_image

    images = [load_image(b) for b in blobs]
    t = time.perf_counter()
    for i in range(0, len(images), args.batch):
        predictor.predict_images(images[i:i + args.batch])
    batched = (time.perf_counter() - t) / len(images) * 1000

    stages = stage_times(predictor, blobs[:50])
    print(f"covers: {len(blobs)} from {args.covers}")
    print(f"model: {predictor.version}; one onnxruntime thread")
    print(f"cold start (import + load + first prediction): {cold:.2f} s")
    print(f"reader: {READER_SETTINGS}; genre model reads text: {predictor.reads_text}")
    print(f"per cover, one at a time, reading text: p50 {statistics.median(latencies):.1f} ms, "
          f"p95 {percentile(latencies, 95):.1f} ms")
    print(f"per cover, one at a time, image only (no reading): p50 {statistics.median(latencies_image_only):.1f} ms, "
          f"p95 {percentile(latencies_image_only, 95):.1f} ms")
    print(f"per cover, batches of {args.batch} (decoded): {batched:.1f} ms ({1000 / batched:.0f} covers/s)")
    print("stage medians (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()))
    print(f"peak RSS serving one cover at a time: {serving_peak:.0f} MB")
    print(f"peak RSS after the batched run (onnxruntime's arena grows with the batch; "
          f"{len(images)} decoded covers held): {peak_rss_mb():.0f} MB")
    return 0


def time_each(predictor, blobs: list[bytes]) -> list[float]:
    latencies = []
    for blob in blobs:
        t = time.perf_counter()
        predictor.predict(blob)
        latencies.append((time.perf_counter() - t) * 1000)
    return latencies


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stage_times(predictor, blobs: list[bytes]) -> dict[str, float]:
    import numpy as np

    from models import descriptors
    from models.features import CoverFeatures, shrink
    from models.image import load_image
    from models.tagger import all_scores
    from models.text_tags import text_tags

    # "tags" is everything the taggers add: the style measures and face check (describe() with them minus
    # without them), the region head (feature-map windows through the classifier weights; the network
    # pass itself is shared, "embed"), all_scores() and the text tags (the reading itself is "read").
    times: dict[str, list[float]] = {"decode": [], "embed": [], "descriptors": [], "read": [], "classify": [], "tags": []}
    embedder = predictor.extractor.embedder
    feature_map = np.random.default_rng(0).random((1, embedder.DIM, 7, 7), dtype=np.float32)
    for blob in blobs:
        t0 = time.perf_counter()
        decoded = load_image(blob)
        image = shrink(decoded)
        t1 = time.perf_counter()
        embedding, logits = embedder.embed([image])
        t2 = time.perf_counter()
        plain = descriptors.describe(image, style=False)
        t3 = time.perf_counter()
        reading = predictor.reader.read(decoded)
        t4 = time.perf_counter()
        vector = CoverFeatures(embedding[0], logits[0], plain).vector()[None, :]
        predictor.predict_vectors(vector, [reading.text])
        predictor.artifact.popularity.predict(vector[0])
        t5 = time.perf_counter()
        d = descriptors.describe(image)
        t6 = time.perf_counter()
        region_logits = embedder.region_logits(feature_map)[0]
        all_scores(d, logits[0], region_logits)
        text_tags(reading)
        t7 = time.perf_counter()
        marks = (t0, t1, t2, t3, t4, t5)
        for key, a, b in zip(list(times)[:5], marks[:-1], marks[1:], strict=True):
            times[key].append((b - a) * 1000)
        times["tags"].append(((t6 - t5) - (t3 - t2) + (t7 - t6)) * 1000)
    return {k: statistics.median(v) for k, v in times.items()}


if __name__ == "__main__":
    raise SystemExit(main())
