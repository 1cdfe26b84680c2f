"""The one inference API: image bytes in, a Prediction out."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from models import artifact as artifacts
from models.distinctive import DistinctiveTag
from models.embedder import Embedder
from models.features import CoverFeatures, FeatureExtractor
from models.image import load_image
from models.prediction import GenreScore, Popularity, Prediction, Tag
from models.reader import EMPTY, Reader, Reading
from models.tagger import tag
from models.text_tags import merge_tags, text_tags

TOP_GENRES_WITH_REASONS = 3
AGGREGATE_MIN_SCORE = 1 / 3  # a tag describes an artist's covers when its mean score is this high


class Predictor:
    """Thread-safe: every call reads shared, immutable models (onnxruntime sessions are thread-safe)."""

    def __init__(self, artifact: artifacts.Artifact, extractor: FeatureExtractor, path: Path | None = None,
                 reader: Reader | None = None):
        self.artifact = artifact
        self.extractor = extractor
        self.path = path
        self.reader = reader

    @classmethod
    def load(cls, directory: Path | None = None, embedder: Embedder | None = None, threads: int = 1,
             reader: Reader | None = None, read: bool = True) -> Predictor:
        """read=False: never read covers' text (image-only genre, no text tags)."""
        directory = Path(directory) if directory else artifacts.SHIPPED_DIR
        extractor = FeatureExtractor(embedder or Embedder(threads=threads))
        if read and reader is None:
            reader = Reader(threads=threads)
        return cls(artifacts.load(directory, extractor.spec), extractor, directory, reader)

    def reload(self, directory: Path) -> Predictor:
        """A predictor for another model version sharing this one's embedder and reader (cheap switch)."""
        return Predictor(artifacts.load(directory, self.extractor.spec), self.extractor, Path(directory), self.reader)

    @property
    def reads_text(self) -> bool:
        """Whether the genre model blends in what covers read."""
        return self.artifact.genre.reads_text

    @property
    def version(self) -> str:
        return self.artifact.version

    @property
    def genres(self) -> list[str]:
        return self.artifact.genres

    def distinctive(self, genre: str) -> list[DistinctiveTag]:
        """The genre's distinctive tags with their lift, strongest first ([] for an unknown genre)."""
        return list(self.artifact.distinctive.get(genre, []))

    def predict(self, image_bytes: bytes) -> Prediction:
        """Raises models.image.ImageError with a human message for unusable bytes."""
        return self.predict_images([load_image(image_bytes)])[0]

    def predict_images(self, images: Sequence[Image.Image]) -> list[Prediction]:
        features = self.extractor.extract(images)
        if not features:
            return []
        readings = [self.reader.read(image) if self.reader else EMPTY for image in images]
        vectors = np.stack([f.vector() for f in features])
        probabilities = self.artifact.genre.predict_proba(vectors, [r.text for r in readings])
        return [self._prediction(f, r, v, p) for f, r, v, p in zip(features, readings, vectors, probabilities, strict=True)]

    def predict_vectors(self, vectors: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        return self.artifact.genre.predict_proba(vectors, texts)

    def _prediction(self, features: CoverFeatures, reading: Reading, vector: np.ndarray, probabilities: np.ndarray) -> Prediction:
        tags = merge_tags(tag(features.descriptors, features.logits, features.region_logits), text_tags(reading))
        return self._assemble(probabilities, self.artifact.popularity.predict(vector), tags, vector, reading.text)

    def _assemble(self, probabilities: np.ndarray, popularity: Popularity, tags: list[Tag], vector: np.ndarray,
                  text: str = "") -> Prediction:
        order = np.argsort(-probabilities, kind="stable")
        genres = [GenreScore(self.genres[i], float(probabilities[i])) for i in order]
        names = {t.tag for t in tags}
        reasons = {
            g.genre: [t.tag for t in self.distinctive(g.genre) if t.tag in names]
            for g in genres[:TOP_GENRES_WITH_REASONS]
        }
        read_words: list[str] = []
        text_model = self.artifact.genre.text if self.reads_text else None
        if text and text_model is not None:
            read_words = text_model.pushing_words(text, int(order[0]))
        return Prediction(genres, popularity, tags, reasons, self.version, vector.astype(np.float32), text, read_words)

    def aggregate(self, predictions: Sequence[Prediction]) -> Prediction:
        """One guess from several covers (an artist's albums): mean probabilities, tags pooled."""
        if not predictions:
            raise ValueError("no predictions to aggregate")
        probabilities = np.zeros(len(self.genres))
        for p in predictions:
            for g in p.genres:
                probabilities[self.genres.index(g.genre)] += g.probability / len(predictions)
        tag_totals: dict[str, float] = {}
        for p in predictions:
            for t in p.tags:
                tag_totals[t.tag] = tag_totals.get(t.tag, 0.0) + t.score / len(predictions)
        tags = sorted((Tag(t, s) for t, s in tag_totals.items() if s >= AGGREGATE_MIN_SCORE),
                      key=lambda t: (-t.score, t.tag))
        vector = np.mean([p.features for p in predictions], axis=0)
        popularity = self.artifact.popularity.predict(vector)
        return self._assemble(probabilities, popularity, tags, vector)
