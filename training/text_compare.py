"""The model card's reading tables: image only vs image + text, with and without MusicBrainz.

`python -m training.text_compare DISCOGS MUSICBRAINZ SPOTIFY` prints Markdown. Each variant is
tuned by cross-validation on its own training covers only and scored on the fixed seeded
validation splits (Discogs' and MusicBrainz's own) and on Spotify-fresh's genre rows (never
trained on). Texts come through the per-image reading cache.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from models.embedder import Embedder
from models.features import FeatureExtractor
from models.genre import Recipe
from models.text_genre import has_text
from training.datasets import load_samples
from training.extract import extract
from training.reading import read_texts
from training.text_tuning import tune_text
from training.train import CACHE_DIR, GenreData, combine, evaluate_genre, fit_genre, load_genre_data


def compare_reading(discogs: Path, musicbrainz: Path, spotify: Path, progress: bool = False) -> list[dict]:
    extractor = FeatureExtractor(Embedder(threads=1))
    own = load_genre_data(discogs, extractor, cache_dir=CACHE_DIR, progress=progress)[1]
    more = load_genre_data(musicbrainz, extractor, cache_dir=CACHE_DIR, progress=progress)[1]
    both = combine([own, more])
    check = extract([s for s in load_samples(spotify) if s.genres & set(own.genres)], extractor, CACHE_DIR, progress)
    check_texts = [r.text for r in read_texts([s.path for s in check.samples], CACHE_DIR, progress=progress)]
    check_sets = [s.genres for s in check.samples]
    rows = []
    for name, data in (("Discogs-5", own), ("Discogs-5 + MusicBrainz", both)):
        for reading in (False, True):
            recipe, cv = Recipe(), None
            if reading:
                cv = tune_text(data, recipe)
                recipe = cv.recipe
            model = fit_genre(data, recipe)
            row = {"trained on": name, "features": "image + text" if reading else "image only",
                   "recipe": recipe.to_dict(), "cv_top1": cv.cv_top1 if cv else None}
            for label, part, rows_of in (("discogs", own, own.validation_rows), ("musicbrainz", more, more.validation_rows)):
                row[label] = _scores(model, part, rows_of)
            spotify_metrics = evaluate_genre(model, check.vectors, check_sets, check_texts)
            row["spotify"] = _brief(spotify_metrics)
            rows.append(row)
    rows.append({"text_share": {
        "discogs": float(np.mean([has_text(t) for t in own.texts])),
        "musicbrainz": float(np.mean([has_text(t) for t in more.texts])),
        "spotify": float(np.mean([has_text(t) for t in check_texts]))}})
    return rows


def _scores(model, data: GenreData, rows: np.ndarray) -> dict:
    return _brief(evaluate_genre(model, data.vectors[rows], [data.label_sets[i] for i in rows], data.texts_of(rows)))


def _brief(metrics: dict) -> dict:
    out = {k: metrics[k] for k in ("n", "top1", "top2", "ece")}
    for part in ("with_text", "without_text"):
        if part in metrics:
            out[part] = metrics[part]
    return out


def markdown(rows: list[dict]) -> str:
    lines = ["| trained on | features | CV top-1 | Discogs val top-1 | top-2 | ECE | MusicBrainz val top-1 | top-2 | "
             "Spotify-fresh top-1 | top-2 |", "|---|---|---|---|---|---|---|---|---|---|"]
    parts = ["| covers | features | with text: n | top-1 | without text: n | top-1 |", "|---|---|---|---|---|---|"]
    for r in rows:
        if "text_share" in r:
            continue
        d, m, s = r["discogs"], r["musicbrainz"], r["spotify"]
        cv = f"{r['cv_top1']:.3f}" if r["cv_top1"] is not None else "–"
        lines.append(f"| {r['trained on']} | {r['features']} | {cv} | {d['top1']:.3f} | {d['top2']:.3f} | {d['ece']:.3f} | "
                     f"{m['top1']:.3f} | {m['top2']:.3f} | {s['top1']:.3f} | {s['top2']:.3f} |")
        if r["features"] == "image + text":
            for label, key in (("Discogs val", "discogs"), ("MusicBrainz val", "musicbrainz"), ("Spotify-fresh", "spotify")):
                w, wo = r[key].get("with_text"), r[key].get("without_text")
                if w and wo:
                    parts.append(f"| {label} ({r['trained on']}) | image + text | {w['n']} | {w['top1']:.3f} | "
                                 f"{wo['n']} | {wo['top1']:.3f} |")
    share = next(r["text_share"] for r in rows if "text_share" in r)
    recipes = [f"- {r['trained on']}, {r['features']}: {r['recipe']}" for r in rows if "recipe" in r]
    return "\n".join([*lines, "", *parts, "", "covers with legible text: " + ", ".join(f"{k} {v:.0%}" for k, v in share.items()),
                      "", *recipes])


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m training.text_compare DISCOGS MUSICBRAINZ SPOTIFY", file=sys.stderr)
        return 2
    discogs, musicbrainz, spotify = (Path(a) for a in argv)
    print(markdown(compare_reading(discogs, musicbrainz, spotify)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
