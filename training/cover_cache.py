"""Per-cover cache of everything the network and the descriptors compute for one image.

Keyed by the image's sha256 and by what made the features (the feature spec, which names the
embedder's sha256 and the descriptor version, plus the style/region version), so a copied `.cache`
folder makes retraining and `training tag-report` skip the network pass for every cover it has seen,
and changing the tagger's thresholds or words (models.tagger.VERSION) needs no recomputation:
tag scores are always recomputed from the cached inputs, which is cheap.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from models.descriptors import STYLE_VERSION
from models.embedder import REGIONS
from models.features import CoverFeatures, FeatureExtractor


def _namespace(extractor: FeatureExtractor) -> str:
    spec = repr((sorted(extractor.spec.items()), STYLE_VERSION, len(REGIONS)))
    return hashlib.sha256(spec.encode()).hexdigest()[:12]


class CoverCache:
    def __init__(self, extractor: FeatureExtractor, directory: Path | None):
        self.extractor = extractor
        self.root = None if directory is None else Path(directory) / "covers" / _namespace(extractor)

    def _path(self, digest: str) -> Path:
        assert self.root is not None
        return self.root / digest[:2] / f"{digest}.pkl"

    def get(self, digest: str) -> CoverFeatures | None:
        if self.root is None:
            return None
        try:
            with open(self._path(digest), "rb") as handle:
                found = pickle.load(handle)  # our own cache folder, written below
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            return None
        return found if isinstance(found, CoverFeatures) else None

    def put(self, digest: str, features: CoverFeatures) -> None:
        if self.root is None:
            return
        path = self._path(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            pickle.dump(features, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temp, path)

    def extract(self, blobs: Sequence[bytes], images: Sequence[Image.Image]) -> list[CoverFeatures]:
        """Features of each image (bytes for the key, decoded image for the work), cached ones reused."""
        digests = [hashlib.sha256(blob).hexdigest() for blob in blobs]
        found = [self.get(d) for d in digests]
        missing = [i for i, f in enumerate(found) if f is None]
        for i, features in zip(missing, self.extractor.extract([images[i] for i in missing]), strict=True):
            self.put(digests[i], features)
            found[i] = features
        return [f for f in found if f is not None]
