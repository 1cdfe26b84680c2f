"""The issue's other genre-model suggestions, measured on the same split and check set as `compare`.

`python -m training compare --data DIR --check DIR --experiments` prints them as a second table:
hyper-parameters chosen by cross-validation on the training rows (never on the validation split),
balanced class weights, gradient boosting, stacking with the descriptors, and flip/crop views of
each cover (extra training rows, and predictions averaged over the same views at test time).
None of these is what the shipped model uses; the model card says why.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingClassifier, StackingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer, StandardScaler
from sklearn.svm import SVC
from tqdm import tqdm

from models.embedder import Embedder
from models.features import blocks, columns, shrink
from models.genre import Recipe, sqrt_l2_steps
from models.image import load_image
from training.splits import SEED, expand_multilabel

CROP = 0.8  # side of the centre crop, as a share of the cover's side


def view(image: Image.Image, name: str) -> Image.Image:
    """One augmented view of a cover: full, flip, crop (centre) or crop-flip."""
    if name.startswith("crop"):
        width, height = image.size
        w, h = round(width * CROP), round(height * CROP)
        left, top = (width - w) // 2, (height - h) // 2
        image = image.crop((left, top, left + w, top + h))
    if name.endswith("flip"):
        image = ImageOps.mirror(image)
    return image


def view_embeddings(paths: Sequence[Path], name: str, embedder: Embedder, cache_dir: Path | None,
                    progress: bool = True, batch: int = 32) -> np.ndarray:
    """(len(paths), 1280) embeddings of one view of each cover, cached like the main features."""
    key = hashlib.sha256(repr((name, CROP, embedder.sha256, [str(p.resolve()) for p in paths])).encode()).hexdigest()[:16]
    cache = cache_dir / f"view-{name}-{key}.npy" if cache_dir is not None else None
    if cache is not None and cache.exists():
        return np.load(cache)
    out = []
    for start in tqdm(range(0, len(paths), batch), desc=f"{name} views", unit="batch", disable=not progress):
        images = [view(shrink(load_image(p.read_bytes())), name) for p in paths[start:start + batch]]
        out.append(embedder.embed(images)[0])
    matrix = np.concatenate(out) if out else np.zeros((0, Embedder.DIM), np.float32)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, matrix)
    return matrix


def _group_folds() -> StratifiedGroupKFold:
    # A multi-genre cover is one training row per genre (and per view); its rows stay in one fold.
    return StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=SEED)


def shipped_recipe(**changes) -> BaseEstimator:
    """The shipped genre pipeline (sqrt+L2, logistic regression), with `changes` to its Recipe."""
    return Recipe(**changes).pipeline(SEED)


def _hist_boosting() -> BaseEstimator:
    return HistGradientBoostingClassifier(max_iter=300, learning_rate=0.08, early_stopping=True, validation_fraction=0.15,
                                          n_iter_no_change=20, random_state=SEED)


def _stacking() -> BaseEstimator:
    """Logistic regression on the embedding and boosted trees on the descriptors, combined by a
    logistic regression on their out-of-fold probabilities."""
    layout = blocks()
    embedding = np.arange(*layout["embedding"])
    descriptors = np.arange(*layout["descriptors"])
    on_embedding = make_pipeline(ColumnTransformer([("e", "passthrough", embedding)]), shipped_recipe())
    on_descriptors = make_pipeline(ColumnTransformer([("d", StandardScaler(), descriptors)]),
                                   HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=SEED))
    return StackingClassifier([("embedding", on_embedding), ("descriptors", on_descriptors)],
                              final_estimator=LogisticRegression(max_iter=2000), cv=5, stack_method="predict_proba")


class RBFKernelMap(TransformerMixin, BaseEstimator):
    """Each row as its RBF similarities to the training rows (an empirical kernel map): a linear
    model on top behaves like a kernel machine but fits like logistic regression."""

    def __init__(self, gamma: float = 4.0):
        self.gamma = gamma

    def fit(self, x: np.ndarray, y: np.ndarray | None = None):
        self.landmarks_ = np.array(x, dtype=np.float32)
        self.landmark_norms_ = (self.landmarks_ ** 2).sum(axis=1)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        distances = (x ** 2).sum(axis=1)[:, None] + self.landmark_norms_[None, :] - 2 * x @ self.landmarks_.T
        return np.exp(-self.gamma * np.maximum(distances, 0))


class Calibrated(BaseEstimator):
    """sqrt+L2, then `estimator` with sigmoid calibration like Recipe's SVC, but on folds that keep
    each cover's rows together: with flip/crop views, calibrating on a view of a cover the model was
    fitted on makes it look far surer than it is."""

    def __init__(self, estimator: BaseEstimator):
        self.estimator = estimator

    def fit(self, x: np.ndarray, y: np.ndarray, groups: np.ndarray):
        folds = list(_group_folds().split(x, y, groups))
        calibrated = CalibratedClassifierCV(clone(self.estimator), method="sigmoid", cv=folds, ensemble=False)
        self.model_ = make_pipeline(*sqrt_l2_steps(), calibrated).fit(x, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.model_.predict_proba(x)


class Searched(BaseEstimator):
    """Hyper-parameters from a 5-fold grid search on the training rows only (`groups` keep a
    cover's rows in one fold), then refit on all of them with sqrt+L2 in front (`calibrate`: as
    `Calibrated`)."""

    def __init__(self, estimator: BaseEstimator, grid: dict, calibrate: bool = False):
        self.estimator, self.grid, self.calibrate = estimator, grid, calibrate

    def fit(self, x: np.ndarray, y: np.ndarray, groups: np.ndarray):
        # sqrt+L2 works row by row, so transforming before the folds leaks nothing between them
        scaled = make_pipeline(*sqrt_l2_steps()).fit_transform(x)
        search = GridSearchCV(clone(self.estimator), self.grid, cv=_group_folds(), n_jobs=2).fit(scaled, y, groups=groups)
        self.best_params_ = search.best_params_
        best = clone(self.estimator).set_params(**search.best_params_)
        self.model_ = Calibrated(best).fit(x, y, groups) if self.calibrate else make_pipeline(*sqrt_l2_steps(), best).fit(x, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.model_.predict_proba(x)


@dataclass(frozen=True)
class Experiment:
    name: str
    build: Callable[[], BaseEstimator]
    blocks: tuple[str, ...] = ("embedding",)
    views: tuple[str, ...] = ("full",)  # training rows from each view; test predictions averaged over them
    wants_groups: bool = False


EXPERIMENTS = [
    Experiment("sqrt+L2, logistic regression, C by 5-fold CV on the training rows",
               lambda: Searched(LogisticRegression(max_iter=2000, random_state=SEED), {"C": [0.25, 0.5, 1, 2, 4, 8]}),
               wants_groups=True),
    Experiment("sqrt+L2, RBF SVC, C and gamma by 5-fold CV on the training rows",
               lambda: Searched(SVC(), {"C": [3, 10, 30], "gamma": [1, 2, 4, 8]}, calibrate=True), wants_groups=True),
    Experiment("sqrt+L2, PCA to 256, RBF SVC (C=10, gamma=4)",
               lambda: Calibrated(make_pipeline(PCA(256, random_state=SEED), Normalizer(), SVC(C=10.0, gamma=4.0))),
               wants_groups=True),
    Experiment("sqrt+L2, RBF similarities to the training covers, logistic regression, gamma and C by 5-fold CV",
               lambda: Searched(make_pipeline(RBFKernelMap(), LogisticRegression(max_iter=3000, random_state=SEED)),
                                {"rbfkernelmap__gamma": [2, 4], "logisticregression__C": [1, 10, 30]}),
               wants_groups=True),
    Experiment("sqrt+L2, logistic regression (C=1), balanced class weights", lambda: shipped_recipe(class_weight="balanced")),
    Experiment("embedding, histogram gradient boosting", _hist_boosting),
    Experiment("embedding + descriptors, histogram gradient boosting", _hist_boosting, blocks=("embedding", "descriptors")),
    Experiment("stacking: LR on embedding + boosted trees on descriptors → LR", _stacking, blocks=("embedding", "descriptors")),
    Experiment("sqrt+L2, logistic regression (C=1), flip views + flip TTA", shipped_recipe, views=("full", "flip")),
    Experiment("sqrt+L2, logistic regression (C=1), flip + centre-crop views and TTA", shipped_recipe,
               views=("full", "flip", "crop", "crop-flip")),
    Experiment("sqrt+L2, RBF SVC (C=10, gamma=4), flip views + flip TTA", lambda: Calibrated(SVC(C=10.0, gamma=4.0)),
               views=("full", "flip"), wants_groups=True),
]


class Views:
    """Feature matrices of one cover set: the stored vectors for 'full', embeddings for other views."""

    def __init__(self, vectors: np.ndarray, paths: Sequence[Path], embedder: Embedder, cache_dir: Path | None, progress: bool):
        self.vectors, self.paths, self.embedder = vectors, list(paths), embedder
        self.cache_dir, self.progress = cache_dir, progress
        self._views: dict[str, np.ndarray] = {}

    def get(self, name: str, block_names: Sequence[str]) -> np.ndarray:
        if name == "full":
            return self.vectors[:, columns(block_names)]
        if tuple(block_names) != ("embedding",):
            raise ValueError("augmented views carry the embedding only")
        if name not in self._views:
            self._views[name] = view_embeddings(self.paths, name, self.embedder, self.cache_dir, self.progress)
        return self._views[name]


def training_rows(experiment: Experiment, data: Views, rows: np.ndarray, label_sets: Sequence[frozenset[str]],
                  genres: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, groups): one row per (cover, genre, view) of `rows`; groups is the cover's row number."""
    index, targets = expand_multilabel(rows, [label_sets[i] for i in rows], genres)
    xs = [data.get(name, experiment.blocks)[index] for name in experiment.views]
    n = len(experiment.views)
    return np.concatenate(xs), np.tile(targets, n), np.tile(index, n)


def fit_experiment(experiment: Experiment, data: Views, rows: np.ndarray, label_sets: Sequence[frozenset[str]],
                   genres: Sequence[str]) -> BaseEstimator:
    x, y, groups = training_rows(experiment, data, rows, label_sets, genres)
    model = experiment.build()
    return model.fit(x, y, groups=groups) if experiment.wants_groups else model.fit(x, y)


def predict_views(model: BaseEstimator, experiment: Experiment, views: Views, rows: np.ndarray, n_genres: int) -> np.ndarray:
    """(len(rows), n_genres) probabilities averaged over the experiment's views (test-time augmentation)."""
    probabilities = np.zeros((len(rows), n_genres))
    for name in experiment.views:
        probabilities[:, model.classes_] += model.predict_proba(views.get(name, experiment.blocks)[rows])
    return probabilities / len(experiment.views)
