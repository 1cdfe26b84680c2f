"""Feature extraction over a labelled set, with a progress bar and an on-disk cache."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from models.features import FeatureExtractor
from models.image import ImageError, load_image
from models.tagger import VERSION as TAGGER_VERSION
from models.tagger import all_scores
from training.cover_cache import CoverCache
from training.datasets import Sample

BATCH = 32


@dataclass
class FeatureTable:
    """Feature vectors and tag scores for the samples that could be read."""

    samples: list[Sample]
    vectors: np.ndarray  # (n, vector_dim) float32
    tag_scores: list[dict[str, float]]
    skipped: list[tuple[Path, str]]

    def tag_matrix(self, vocabulary: Sequence[str]) -> np.ndarray:
        return tag_matrix(self.tag_scores, vocabulary)


def tag_matrix(tag_scores: Sequence[dict[str, float]], vocabulary: Sequence[str]) -> np.ndarray:
    """Tag scores as a (rows, vocabulary) matrix; tags outside the vocabulary are dropped."""
    index = {tag: i for i, tag in enumerate(vocabulary)}
    matrix = np.zeros((len(tag_scores), len(vocabulary)), dtype=np.float32)
    for row, scores in enumerate(tag_scores):
        for tag, score in scores.items():
            if tag in index:
                matrix[row, index[tag]] = score
    return matrix


def extract(samples: Sequence[Sample], extractor: FeatureExtractor, cache_dir: Path | None = None,
            progress: bool = True) -> FeatureTable:
    cache = _cache_path(samples, extractor, cache_dir)
    if cache is not None and cache.exists():
        return _read_cache(cache, samples)
    covers = CoverCache(extractor, cache_dir)
    kept: list[Sample] = []
    vectors: list[np.ndarray] = []
    tag_scores: list[dict[str, float]] = []
    skipped: list[tuple[Path, str]] = []
    bar = tqdm(total=len(samples), desc="features", unit="cover", disable=not progress)
    for start in range(0, len(samples), BATCH):
        batch, blobs, images, unreadable = read_batch(samples[start:start + BATCH])
        skipped.extend(unreadable)
        for sample, features in zip(batch, covers.extract(blobs, images), strict=True):
            kept.append(sample)
            vectors.append(features.vector())
            tag_scores.append(all_scores(features.descriptors, features.logits, features.region_logits))
        bar.update(min(BATCH, len(samples) - start))
    bar.close()
    table = FeatureTable(kept, np.stack(vectors) if vectors else np.zeros((0, 0), np.float32), tag_scores, skipped)
    if cache is not None:
        _write_cache(cache, table)
    return table


def read_batch(samples: Sequence[Sample]) -> tuple[list[Sample], list[bytes], list[Image.Image], list[tuple[Path, str]]]:
    """The samples that decode, their bytes and images, and (path, reason) for those that do not."""
    kept, blobs, images, skipped = [], [], [], []
    for sample in samples:
        try:
            blob = sample.path.read_bytes()
            images.append(load_image(blob))
        except (OSError, ImageError) as exc:
            skipped.append((sample.path, str(exc)))
            continue
        kept.append(sample)
        blobs.append(blob)
    return kept, blobs, images, skipped


def _cache_path(samples: Sequence[Sample], extractor: FeatureExtractor, cache_dir: Path | None) -> Path | None:
    if cache_dir is None:
        return None
    digest = hashlib.sha256(repr((sorted(extractor.spec.items()), TAGGER_VERSION)).encode())
    for sample in samples:
        path = sample.path.resolve()
        stat = path.stat() if path.exists() else None
        digest.update(f"{path}\0{stat and stat.st_size}\0{stat and stat.st_mtime_ns}\n".encode())
    return cache_dir / f"features-{digest.hexdigest()[:16]}.npz"


def _write_cache(path: Path, table: FeatureTable) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    vocabulary = sorted(set().union(*table.tag_scores)) if table.tag_scores else []
    np.savez(
        path, vectors=table.vectors, kept=np.array([str(s.path) for s in table.samples]),
        vocabulary=np.array(vocabulary), tags=table.tag_matrix(vocabulary),
        skipped=np.array([f"{p}\t{m}" for p, m in table.skipped]),
    )


def _read_cache(path: Path, samples: Sequence[Sample]) -> FeatureTable:
    with np.load(path) as data:
        # by resolved path: the cache key is, so "../data/x.jpg" and "/abs/data/x.jpg" share a cache
        by_path = {str(s.path.resolve()): s for s in samples}
        kept = [by_path[str(Path(p).resolve())] for p in data["kept"].tolist()]
        vocabulary = data["vocabulary"].tolist()
        tag_scores = [{vocabulary[i]: float(v) for i, v in enumerate(row) if v > 0} for row in data["tags"]]
        skipped = [(Path(line.split("\t")[0]), line.split("\t", 1)[1]) for line in data["skipped"].tolist()]
        return FeatureTable(kept, data["vectors"], tag_scores, skipped)
