"""`python -m training tag-sheet TAG --data DIR --out PNG`: see what a tag picks out.

A contact sheet of the covers scoring highest for a tag (top rows) and of those just under the
threshold (bottom row), each with its score, so every tag can be checked by eye.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw

from models.embedder import Embedder
from models.features import FeatureExtractor
from models.image import load_image
from models.tagger import MIN_SCORE
from training.datasets import IMAGE_SUFFIXES, Sample, load_samples
from training.tag_report import score_samples
from training.train import CACHE_DIR

THUMB = 88
LABEL = 14
COLUMNS = 8


def covers_in(source: Path) -> list[Sample]:
    """A labelled set, or any folder of images."""
    if (source / "labels.csv").exists() or not source.is_dir():
        return load_samples(source)
    return [Sample(p, frozenset()) for p in sorted(source.rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES]


def pick(scores: Sequence[dict[str, float]], tag: str, top: int, under: int) -> tuple[list[int], list[int]]:
    """Rows of the `top` highest scores at or above the threshold, and of the `under` highest below it."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i].get(tag, 0.0))
    above = [i for i in order if scores[i].get(tag, 0.0) >= MIN_SCORE][:top]
    below = [i for i in order if 0.0 < scores[i].get(tag, 0.0) < MIN_SCORE][:under]
    return above, below


def render_sheet(tag: str, rows: Sequence[Sequence[tuple[Image.Image, float]]], carried: int, total: int) -> Image.Image:
    """Rows of (cover, score) under a title line; returned as a small palette PNG-ready image."""
    width = COLUMNS * THUMB
    height = LABEL + len(rows) * (THUMB + 2 * LABEL)
    sheet = Image.new("RGB", (width, max(height, 2 * LABEL)), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((4, 1), f"{tag!r}: {carried} of {total} covers carry it (score >= {MIN_SCORE})", fill="black")
    y = LABEL
    captions = ["top scores"] * (len(rows) - 1) + [f"just under {MIN_SCORE}"]
    for caption, row in zip(captions, rows, strict=True):
        draw.text((4, y), caption, fill="gray")
        y += LABEL
        for col, (image, score) in enumerate(row[:COLUMNS]):
            thumb = image.convert("RGB").resize((THUMB, THUMB), Image.Resampling.BILINEAR)
            sheet.paste(thumb, (col * THUMB, y))
            draw.text((col * THUMB + 2, y + THUMB), f"{score:.2f}", fill="black")
        y += THUMB + LABEL
    return sheet.quantize(colors=192, method=Image.Quantize.MEDIANCUT)


def tag_sheet(tag: str, source: Path, out: Path, top: int = 16, under: int = 8, progress: bool = True) -> Path:
    scored = score_samples(covers_in(source), FeatureExtractor(Embedder(threads=1)), CACHE_DIR, progress)
    if not any(tag in s for s in scored.scores):
        known = sorted(set().union(*scored.scores)) if scored.scores else []
        raise ValueError(f"no cover in {source} has the tag {tag!r}; tags seen: {', '.join(known[:60])}")
    above, below = pick(scored.scores, tag, top, under)

    def row(indices: list[int]) -> list[tuple[Image.Image, float]]:
        return [(load_image(scored.samples[i].path.read_bytes()), scored.scores[i].get(tag, 0.0)) for i in indices]

    carried = sum(1 for s in scored.scores if s.get(tag, 0.0) >= MIN_SCORE)
    rows = [row(above[:COLUMNS]), row(above[COLUMNS:2 * COLUMNS]), row(below)] if len(above) > COLUMNS else [row(above), row(below)]
    sheet = render_sheet(tag, rows, carried, len(scored.scores))
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, optimize=True)
    return out
