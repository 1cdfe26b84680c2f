"""Popularity (Spotify's 0–100) from cover features: a ridge regression shrunk toward the median.

Covers barely predict popularity, so the model is built never to be worse than predicting the
median: the shrink factor is chosen by cross-validation and is 0 (pure median) when it has no skill.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold

from models.prediction import Popularity

ALPHAS = (10.0, 100.0, 1000.0, 10000.0)
SHRINKS = (0.0, 0.25, 0.5, 0.75, 1.0)
MIN_CV_GAIN = 0.01  # a shrink > 0 must beat the median's CV MAE by 1 %, else noise decides


@dataclass
class PopularityModel:
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    median: float
    shrink: float
    residual_low: float  # 10th percentile of validation residuals
    residual_high: float  # 90th percentile
    skill: float  # validation Spearman of the served predictions

    def predict_values(self, vectors: np.ndarray) -> np.ndarray:
        raw = ((vectors - self.mean) / self.scale) @ self.coef + self.intercept
        return self.median + self.shrink * (raw - self.median)

    def predict(self, vector: np.ndarray) -> Popularity:
        value = float(np.clip(self.predict_values(vector[None, :])[0], 0, 100))
        return Popularity(
            value=value,
            low=float(np.clip(value + self.residual_low, 0, 100)),
            high=float(np.clip(value + self.residual_high, 0, 100)),
            skill=self.skill,
            skill_note=skill_note(self.skill, self.shrink),
        )

    def save(self, path: Path) -> None:
        np.savez(path, mean=self.mean, scale=self.scale, coef=self.coef,
                 scalars=np.array([self.intercept, self.median, self.shrink, self.residual_low,
                                   self.residual_high, self.skill], dtype=np.float64))

    @classmethod
    def load(cls, path: Path) -> PopularityModel:
        with np.load(path) as data:
            intercept, median, shrink, low, high, skill = data["scalars"].tolist()
            return cls(data["mean"], data["scale"], data["coef"], intercept, median, shrink, low, high, skill)


def skill_note(skill: float, shrink: float) -> str:
    if shrink == 0.0 or skill < 0.1:
        return "covers barely predict popularity: this is close to the typical value"
    if skill < 0.3:
        return "a weak hint at best"
    return "a rough guess"


def fit(vectors: np.ndarray, popularity: np.ndarray, seed: int = 0) -> PopularityModel:
    """Choose ridge strength and shrink by 5-fold CV on the given rows, then fit on all of them."""
    mean = vectors.mean(axis=0)
    scale = vectors.std(axis=0) + 1e-6
    z = (vectors - mean) / scale
    median = float(np.median(popularity))
    folds = list(KFold(5, shuffle=True, random_state=seed).split(z))
    baseline = np.mean(np.abs(popularity - median))
    best = (baseline * (1 - MIN_CV_GAIN), ALPHAS[0], 0.0)
    for alpha in ALPHAS:
        raw = np.zeros_like(popularity, dtype=np.float64)
        for train, test in folds:
            raw[test] = Ridge(alpha=alpha).fit(z[train], popularity[train]).predict(z[test])
        for shrink in SHRINKS[1:]:
            mae = np.mean(np.abs(median + shrink * (raw - median) - popularity))
            if mae < best[0] - 1e-9:
                best = (mae, alpha, shrink)
    _, alpha, shrink = best
    ridge = Ridge(alpha=alpha).fit(z, popularity)
    return PopularityModel(mean.astype(np.float32), scale.astype(np.float32), ridge.coef_.astype(np.float32),
                           float(ridge.intercept_), median, shrink, 0.0, 0.0, 0.0)


def calibrate(model: PopularityModel, vectors: np.ndarray, popularity: np.ndarray) -> dict[str, float | list[float]]:
    """Set the interval and skill from held-out rows; return the validation metrics.

    Guard: if the model is worse than the median on these rows, it falls back to the median.
    """
    baseline = float(np.mean(np.abs(popularity - model.median)))
    fell_back = model.shrink > 0 and np.mean(np.abs(model.predict_values(vectors) - popularity)) > baseline
    if fell_back:
        model.shrink = 0.0
    predicted = model.predict_values(vectors)
    residuals = popularity - predicted
    model.residual_low, model.residual_high = (float(q) for q in np.quantile(residuals, [0.1, 0.9]))
    rho = spearmanr(predicted, popularity).statistic if np.ptp(predicted) > 1e-9 else 0.0
    model.skill = float(0.0 if np.isnan(rho) else rho)
    return {
        "spearman": model.skill,
        "mae": float(np.mean(np.abs(residuals))),
        "mae_median_baseline": baseline,  # the training median, applied to these rows
        "shrink": model.shrink,
        "fell_back_to_median": bool(fell_back),
        "interval_80": [model.residual_low, model.residual_high],
    }
