"""The genre model's reading half: character n-grams of a cover's text, logistic regression, and
the geometric blend with the image model's probabilities.

Character n-grams within words (char_wb) suit the reader, which often drops spaces
("BARBRASTREISAND"): whole words would miss what pieces of them still share.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

MAX_FEATURES = 20_000  # vocabulary cap: keeps the saved model well under 2 MB


def normalise(text: str) -> str:
    return " ".join(text.split()).lower()


def has_text(text: str) -> bool:
    return bool(normalise(text))


class TextModel:
    def __init__(self, ngram: tuple[int, int] = (2, 4), C: float = 3.0, max_features: int = MAX_FEATURES, seed: int = 0):
        self.ngram = tuple(ngram)
        self.C = C
        self.pipeline: Pipeline = make_pipeline(
            TfidfVectorizer(analyzer="char_wb", ngram_range=self.ngram, max_features=max_features,
                            sublinear_tf=True, min_df=2, dtype=np.float32),
            LogisticRegression(C=C, max_iter=3000, random_state=seed),
        )

    def fit(self, texts: Sequence[str], targets: np.ndarray) -> TextModel:
        self.pipeline.fit([normalise(t) for t in texts], targets)
        return self

    @property
    def classes_(self) -> np.ndarray:
        return self.pipeline.classes_

    def predict_proba(self, texts: Sequence[str], n_genres: int) -> np.ndarray:
        raw = self.pipeline.predict_proba([normalise(t) for t in texts])
        out = np.zeros((len(texts), n_genres))
        out[:, self.classes_] = raw
        return out

    def vocabulary_size(self) -> int:
        return len(self.pipeline[0].vocabulary_)

    def strip(self) -> TextModel:
        """Drop the vectoriser's stop_words_ set (every cut n-gram): it is large and never used."""
        vectoriser = self.pipeline[0]
        if hasattr(vectoriser, "stop_words_"):
            vectoriser.stop_words_ = None
        return self

    def pushing_words(self, text: str, genre_index: int, limit: int = 3) -> list[str]:
        """The words of `text` whose n-grams push most toward the genre (for the reply's "why")."""
        vectoriser, model = self.pipeline[0], self.pipeline[1]
        classes = list(self.classes_)
        if genre_index not in classes:
            return []
        weights = model.coef_[classes.index(genre_index)] if len(classes) > 2 else model.coef_[0] * (1 if classes.index(genre_index) else -1)
        scores = {}
        for word in dict.fromkeys(normalise(text).split()):
            row = vectoriser.transform([word])
            score = float(np.asarray(row @ weights).ravel()[0])
            if score > 0 and len(word) > 1:
                scores[word] = score
        return sorted(scores, key=lambda w: -scores[w])[:limit]


def blend(image: np.ndarray, text: np.ndarray, weight: float | np.ndarray, has: np.ndarray,
          sharpness: float = 1.0) -> np.ndarray:
    """Geometric blend (p_image^(1-w) * p_text^w)^s, renormalised; rows without text keep p_image exactly.

    s < 1 softens the blend, s > 1 sharpens it: averaging two models' log-probabilities that carry
    independent evidence is under-confident, so cross-validation usually picks s > 1.
    `weight` may be one per genre (see `text_trust`).
    """
    out = np.array(image, dtype=np.float64, copy=True)
    weight = np.asarray(weight, dtype=np.float64)
    if not np.any(weight > 0) or not np.any(has):
        return out
    eps = 1e-9
    mixed = np.exp(sharpness * ((1 - weight) * np.log(image[has] + eps) + weight * np.log(text[has] + eps)))
    out[has] = mixed / mixed.sum(axis=1, keepdims=True)
    return out


def text_trust(support: np.ndarray, reference: int) -> np.ndarray:
    """Per genre, how far to trust the text half: the covers with text it learnt the genre from, over
    `reference` (the fewest any base genre has), at most 1. A genre added from a few dozen votes has
    a dozen or two texts, mostly artist names the text model cannot generalise from; at full weight
    its near-zero text probability vetoes what the image half learnt. Base genres keep full trust."""
    return np.minimum(1.0, np.asarray(support, dtype=np.float64) / max(1, reference))
