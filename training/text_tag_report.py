"""Which text tags carry genre signal: `python -m training.text_tag_report DATASET...`.

For each tag: how many covers carry it, its most over-represented genre and that genre's lift
(share among tagged covers / share overall), and a chi-squared p-value of tag x genre. Reads text
through the per-image cache (training.reading), so after one reading pass it costs seconds.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np
from scipy.stats import chi2_contingency

from models.text_tags import CANDIDATES, KEPT, text_tags
from training.datasets import load_samples
from training.reading import read_texts
from training.splits import primary_genre

TAGS = ["text", "no text", "lots of text", "lettering", *CANDIDATES]


def tag_signal(sources: list[Path]) -> list[dict]:
    samples = [s for source in sources for s in load_samples(source) if s.genres]
    readings = read_texts([s.path for s in samples], progress=False)
    genres = sorted({primary_genre(s.genres) for s in samples})
    truth = [primary_genre(s.genres) for s in samples]
    overall = Counter(truth)
    rows = []
    found = [{t.tag for t in text_tags(r, phrases=CANDIDATES)} for r in readings]
    for tag in TAGS:
        has = np.array([tag in tags for tags in found])
        tagged = Counter(t for t, h in zip(truth, has, strict=True) if h)
        row = {"tag": tag, "n": int(has.sum()), "share": float(has.mean())}
        if has.sum() and (~has).sum():
            table = [[tagged[g] for g in genres], [overall[g] - tagged[g] for g in genres]]
            lifts = {g: (tagged[g] / has.sum()) / (overall[g] / len(truth)) for g in genres}
            best = max(lifts, key=lifts.__getitem__)
            row.update(genre=best, lift=float(lifts[best]), p=float(chi2_contingency(table)[1]))
        rows.append(row)
    return rows


def main(argv: list[str]) -> int:
    print("| tag | covers | share | most over-represented genre | lift | chi² p | kept |")
    print("|---|---|---|---|---|---|---|")
    for r in tag_signal([Path(a) for a in argv]):
        extra = f"{r['genre']} | {r['lift']:.2f} | {r['p']:.2g}" if "lift" in r else "– | – | –"
        kept = "yes" if r["tag"] not in CANDIDATES or r["tag"] in KEPT else "no"
        print(f"| {r['tag']} | {r['n']} | {r['share']:.3f} | {extra} | {kept} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
