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
        known = {"blocks", "transform", "classifier", "C", "class_weight"}
        fields = {k: v for k, v in data.items() if k in known}
        fields["blocks"] = tuple(fields.get("blocks", ("embedding",)))
        return cls(**fields, extra={k: v for k, v in data.items() if k not in known})

    def to_dict(self) -> dict:
        return {"blocks": list(self.blocks), "transform": self.transform, "classifier": self.classifier,
                "C": self.C, "class_weight": self.class_weight, **self.extra}


class GenreModel:
    def __init__(self, pipeline: Pipeline, genres: Sequence[str], recipe: Recipe):
        self.pipeline = pipeline
        self.genres = list(genres)
        self.recipe = recipe
        self._columns = columns(recipe.blocks)

    @classmethod
    def fit(cls, vectors: np.ndarray, targets: np.ndarray, genres: Sequence[str], recipe: Recipe, seed: int = 0) -> GenreModel:
        """targets: genre index per row (multi-genre covers appear once per genre)."""
        model = cls(recipe.pipeline(seed), genres, recipe)
        model.pipeline.fit(vectors[:, model._columns], targets)
        return model

    def predict_proba(self, vectors: np.ndarray) -> np.ndarray:
        """(n, genres) probabilities in self.genres order."""
        raw = self.pipeline.predict_proba(vectors[:, self._columns])
        out = np.zeros((len(vectors), len(self.genres)), dtype=np.float64)
        out[:, self.pipeline.classes_] = raw
        return out
