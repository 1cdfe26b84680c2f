"""Compare genre-model recipes on the fixed validation split and a cross-domain set.

`python -m training compare --data DIR --check DIR` prints a Markdown table; the model card's
comparison comes from it.
"""

from __future__ import annotations

import time
from pathlib import Path

from models.embedder import Embedder
from models.features import FeatureExtractor
from models.genre import Recipe
from training.datasets import load_samples
from training.extract import extract
from training.train import CACHE_DIR, evaluate_genre, fit_genre, genre_data

RECIPES = {
    "embedding, standardised, RBF SVC (C=10)": Recipe(transform="standard", classifier="svc", C=10.0),
    "embedding, sqrt+L2, RBF SVC (C=3)": Recipe(classifier="svc", C=3.0),
    "embedding + descriptors, standardised, RBF SVC (C=3)": Recipe(blocks=("embedding", "descriptors"), transform="standard", classifier="svc", C=3.0),
    "embedding, standardised, logistic regression (C=0.05)": Recipe(transform="standard", C=0.05),
    "embedding + descriptors, standardised, logistic regression (C=0.05)": Recipe(blocks=("embedding", "descriptors"), transform="standard", C=0.05),
    "embedding, sqrt+L2, logistic regression (C=0.5)": Recipe(C=0.5),
    "embedding, sqrt+L2, logistic regression (C=1)": Recipe(C=1.0),
    "embedding, sqrt+L2, logistic regression (C=2)": Recipe(C=2.0),
}


def compare(data_source: Path, check_source: Path, recipes: dict[str, Recipe] = RECIPES, progress: bool = True) -> list[dict]:
    extractor = FeatureExtractor(Embedder(threads=2))
    data = genre_data(extract(load_samples(data_source), extractor, CACHE_DIR, progress), data_source)
    check = extract([s for s in load_samples(check_source) if s.genres & set(data.genres)], extractor, CACHE_DIR, progress)
    validation = [data.label_sets[i] for i in data.validation_rows]
    rows = []
    for name, recipe in recipes.items():
        start = time.perf_counter()
        model = fit_genre(data, recipe)
        seconds = time.perf_counter() - start
        own = evaluate_genre(model, data.vectors[data.validation], validation)
        other = evaluate_genre(model, check.vectors, [s.genres for s in check.samples])
        rows.append({"recipe": name, "top1": own["top1"], "top2": own["top2"], "macro_f1": own["macro_f1"],
                     "ece": own["ece"], "check_top1": other["top1"], "fit_seconds": seconds})
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| recipe | top-1 | top-2 | macro-F1 | ECE | Spotify top-1 | fit (s) |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['recipe']} | {r['top1']:.3f} | {r['top2']:.3f} | {r['macro_f1']:.3f} | {r['ece']:.3f} | "
              f"{r['check_top1']:.3f} | {r['fit_seconds']:.0f} |" for r in rows]
    return "\n".join(lines)
