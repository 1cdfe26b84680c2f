"""From RGB covers to the numbers the models read: embedding, ImageNet logits, descriptors.

A stored feature vector is a concatenation of named blocks (see `blocks`); models record which
blocks they read, and artifacts record the whole spec so a mismatch is caught at load time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from models import descriptors as desc
from models.embedder import Embedder

WORKING_SIDE = 320  # covers are shrunk to this before any feature (Spotify serves 300 and 640 px)


@dataclass(frozen=True)
class CoverFeatures:
    embedding: np.ndarray  # (1280,) float32
    logits: np.ndarray  # (1000,) float32 ImageNet logits
    descriptors: desc.Descriptors

    def vector(self) -> np.ndarray:
        """The stored feature vector: the blocks below, concatenated in order."""
        return np.concatenate([self.embedding, self.descriptors.vector()]).astype(np.float32)


def blocks() -> dict[str, tuple[int, int]]:
    """Block name → (start, stop) columns in a stored feature vector."""
    sizes = {"embedding": Embedder.DIM, "descriptors": desc.vector_size()}
    layout, start = {}, 0
    for name, size in sizes.items():
        layout[name] = (start, start + size)
        start += size
    return layout


def vector_size() -> int:
    return max(stop for _, stop in blocks().values())


def columns(names: Sequence[str]) -> np.ndarray:
    layout = blocks()
    return np.concatenate([np.arange(*layout[name]) for name in names])


def feature_spec(embedder: Embedder) -> dict:
    """What a stored feature vector means; artifacts record it and refuse to load on a mismatch."""
    return {
        "embedder": "efficientnet-lite0",
        "embedder_sha256": embedder.sha256,
        "descriptors": desc.VERSION,
        "blocks": {name: list(span) for name, span in blocks().items()},
        "vector_dim": vector_size(),
        "working_side": WORKING_SIDE,
    }


def shrink(image: Image.Image) -> Image.Image:
    if max(image.size) <= WORKING_SIDE:
        return image
    copy = image.copy()
    copy.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.Resampling.BICUBIC, reducing_gap=2.0)
    return copy


class FeatureExtractor:
    def __init__(self, embedder: Embedder):
        self.embedder = embedder

    @property
    def spec(self) -> dict:
        return feature_spec(self.embedder)

    def extract(self, images: Sequence[Image.Image]) -> list[CoverFeatures]:
        small = [shrink(image) for image in images]
        embeddings, logits = self.embedder.embed(small)
        return [
            CoverFeatures(embedding=e, logits=l, descriptors=desc.describe(image))
            for e, l, image in zip(embeddings, logits, small, strict=True)
        ]
