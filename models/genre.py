"""Genre classifier on stored feature vectors: a scikit-learn pipeline plus the blocks it reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, Normalizer, StandardScaler
from sklearn.svm import SVC

from models.features import columns
from models.text_genre import TextModel, blend, has_text


def signed_sqrt(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.sqrt(np.abs(x))


def sqrt_l2_steps() -> list:
    """Signed square root, then L2 normalisation of each row (fresh estimators each call)."""
    return [FunctionTransformer(signed_sqrt), Normalizer()]


@dataclass(frozen=True)
class Recipe:
    """How to build a genre model; recorded in the manifest. The default is what the numbers chose
    (see the comparison in models/MODEL_CARD.md)."""

    blocks: tuple[str, ...] = ("embedding",)
    transform: str = "sqrt-l2"  # "sqrt-l2" (power + L2 normalisation) | "standard"
    classifier: str = "logreg"  # "logreg" | "svc" (RBF, sigmoid-calibrated)
    C: float = 1.0
    class_weight: str | None = None
    # The reading half (models.text_genre): weight 0 means an image-only model.
    text_weight: float = 0.0
    text_ngram: tuple[int, int] = (2, 4)
    text_C: float = 3.0
    text_sharpness: float = 1.0
    extra: dict = field(default_factory=dict)

    def pipeline(self, seed: int) -> Pipeline:
        if self.transform == "sqrt-l2":
            steps = sqrt_l2_steps()
        else:
            steps = [StandardScaler()]
        if self.classifier == "svc":
            model = CalibratedClassifierCV(SVC(C=self.C, class_weight=self.class_weight), method="sigmoid", ensemble=False)
        elif self.classifier == "logreg":
            model = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=2000, random_state=seed)
        else:
            raise ValueError(f"unknown classifier {self.classifier!r} (expected 'logreg' or 'svc')")
        return make_pipeline(*steps, model)

    @classmethod
    def from_dict(cls, data: dict) -> Recipe:
        known = {"blocks", "transform", "classifier", "C", "class_weight", "text_weight", "text_ngram", "text_C",
                 "text_sharpness"}
        fields = {k: v for k, v in data.items() if k in known}
        fields["blocks"] = tuple(fields.get("blocks", ("embedding",)))
        if "text_ngram" in fields:
            fields["text_ngram"] = tuple(fields["text_ngram"])
        return cls(**fields, extra={k: v for k, v in data.items() if k not in known})

    def to_dict(self) -> dict:
        return {"blocks": list(self.blocks), "transform": self.transform, "classifier": self.classifier,
                "C": self.C, "class_weight": self.class_weight, "text_weight": self.text_weight,
                "text_ngram": list(self.text_ngram), "text_C": self.text_C, "text_sharpness": self.text_sharpness, **self.extra}


class GenreModel:
    """The image model, and where the recipe asks for it the text model blended with it.

    A cover without text (or a model without a text half, like those trained before reading)
    gets exactly the image model's probabilities.
    """

    def __init__(self, pipeline: Pipeline, genres: Sequence[str], recipe: Recipe, text: TextModel | None = None,
                 trust: np.ndarray | None = None):
        self.pipeline = pipeline
        self.genres = list(genres)
        self.recipe = recipe
        self.text = text
        self.trust = trust  # per genre, the share of the text weight it gets (None: all of it)
        self._columns = columns(recipe.blocks)

    @classmethod
    def fit(cls, vectors: np.ndarray, targets: np.ndarray, genres: Sequence[str], recipe: Recipe, seed: int = 0,
            texts: Sequence[str] | None = None, trust: np.ndarray | None = None) -> GenreModel:
        """targets: genre index per row (multi-genre covers appear once per genre); texts: read text per row;
        trust: per genre, the share of the text weight (`models.text_genre.text_trust`)."""
        model = cls(recipe.pipeline(seed), genres, recipe, trust=trust)
        model.pipeline.fit(vectors[:, model._columns], targets)
        if recipe.text_weight > 0 and texts is not None:
            has = np.array([has_text(t) for t in texts], dtype=bool)
            if len(set(targets[has].tolist())) >= 2:
                text_rows = [t for t, h in zip(texts, has, strict=True) if h]
                model.text = TextModel(recipe.text_ngram, recipe.text_C, seed=seed).fit(text_rows, targets[has]).strip()
        return model

    @property
    def reads_text(self) -> bool:
        return getattr(self, "text", None) is not None  # models pickled before reading lack the attribute

    def image_proba(self, vectors: np.ndarray) -> np.ndarray:
        raw = self.pipeline.predict_proba(vectors[:, self._columns])
        out = np.zeros((len(vectors), len(self.genres)), dtype=np.float64)
        out[:, self.pipeline.classes_] = raw
        return out

    def predict_proba(self, vectors: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        """(n, genres) probabilities in self.genres order; texts: what each cover reads (optional)."""
        image = self.image_proba(vectors)
        if not self.reads_text or texts is None or self.text is None:
            return image
        has = np.array([has_text(t) for t in texts], dtype=bool)
        if not has.any():
            return image
        text = np.zeros_like(image)
        text[has] = self.text.predict_proba([t for t, h in zip(texts, has, strict=True) if h], len(self.genres))
        return blend(image, text, self.text_weights, has, getattr(self.recipe, "text_sharpness", 1.0))

    @property
    def text_weights(self) -> np.ndarray:
        """The blend's text weight per genre (models pickled before per-genre trust lack `trust`)."""
        trust = getattr(self, "trust", None)
        return self.recipe.text_weight * (np.ones(len(self.genres)) if trust is None else trust)
