"""Words for a cover: colour and light, style, faces, composition, concepts and recognised objects.

A local stand-in for the cloud tagging API of the 2015 experiment. Every tag has a score in 0..1;
a cover carries the tags that score at least MIN_SCORE.

Concepts (*hat*, *guitar*, *animal*) group the ImageNet classes by their WordNet hypernyms
(models/concepts.json, built by training/concept_map.py). A concept's probability is the summed
probability of its classes, on the whole cover and on each region (models.embedder.REGIONS), and
the largest of those counts, so a cover that is 30 % "cowboy hat" and 10 % "sombrero" is clearly a
hat, and a small guitar in one corner still counts.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from models.descriptors import COLOUR_NAMES, Descriptors, Style
from models.embedder import imagenet_classes
from models.prediction import Tag

VERSION = "tagger-v3"  # bump when words, thresholds or the stoplist change (invalidates cached tag scores)
CONCEPTS_PATH = Path(__file__).resolve().parent / "concepts.json"
CONCEPT_THRESHOLD = 0.15  # a concept's probability at which it becomes a tag (score 0.5)
STOP_FLOOR = 0.5  # concept mass is renormalised without cover-as-object classes, by at most 1 / STOP_FLOOR
# Classes below this probability add nothing to a concept: otherwise the crumbs an unsure classifier
# spreads over 400 animal classes add up to "animal" on a third of all covers.
CRUMB = 0.02
# Features pooled over a window are peakier than over the whole map: region logits run about 1.3x
# larger (mean top logit 9.8 against 7.4 on Discogs covers), so they are cooled by that much.
REGION_TEMPERATURE = 1.3
MIN_SCORE = 0.5
OBJECT_THRESHOLD = 0.1  # softmax probability an ImageNet class needs to become a tag
MAX_OBJECTS = 3

# Classes that describe the cover as an object, not what is on it (the seed dropped "graphic" and "art").
STOPLIST = frozenset({
    "book jacket", "comic book", "envelope", "web site", "menu", "packet", "carton", "binder",
    "jigsaw puzzle", "crossword puzzle", "rule", "digital clock", "screen", "monitor",
    "television system", "notebook computer", "wallet", "paper towel", "toilet tissue", "cd player",
    "vending machine", "rubber eraser", "band aid", "lighter", "matchstick", "pencil box", "scoreboard",
    "street sign", "mailbag", "shopping basket", "file cabinet", "letter opener", "tape player",
    "cassette", "cassette player", "analog clock", "wall clock", "window shade", "shower curtain",
    "theater curtain", "quilt", "handkerchief", "doormat", "prayer rug", "face powder", "lotion",
    "sunscreen", "hair spray", "pill bottle", "pop bottle", "wine bottle", "beer bottle", "water bottle",
    "plastic bag",
})

COLOUR_LIGHT_TAGS = frozenset({
    "dark", "bright", "black and white", "monochrome", "vivid", "pastel", "muted", "high contrast",
    "low contrast", *COLOUR_NAMES,
})
# Checked by eye on tag sheets (see the model card). Left out because no descriptor here tracks them:
# "neon" (a saturated-on-dark measure picked any bold colour on black), "typography only" (needs
# the text reader; ImageNet's book-jacket/web-site mass picked covers with people), "vintage" (no
# better than sepia or faded alone). "textured" and "graphic" are what a grain measure and a
# flat-area measure really pick out, so they are named for that, not "grainy" and "illustration".
STYLE_TAGS = ("sepia", "faded", "gradient", "textured", "graphic", "photo", "symmetric")


def is_colour_or_light(tag: str) -> bool:
    return tag in COLOUR_LIGHT_TAGS


@lru_cache(maxsize=1)
def imagenet_words() -> tuple[str, ...]:
    return tuple(imagenet_classes())


def _ramp(value: float, start: float, end: float) -> float:
    """0 at start, 1 at end, linear in between (start may exceed end for falling ramps)."""
    return float(np.clip((value - start) / (end - start), 0.0, 1.0))


@lru_cache(maxsize=1)
def concept_table() -> tuple[tuple[str, ...], np.ndarray]:
    """Concept names and the (1000 classes x concepts) 0/1 membership matrix."""
    classes = json.loads(CONCEPTS_PATH.read_text(encoding="utf-8"))["classes"]
    names = tuple(sorted({c for found in classes for c in found}))
    index = {name: i for i, name in enumerate(names)}
    matrix = np.zeros((len(classes), len(names)), dtype=np.float32)
    for row, found in enumerate(classes):
        for concept in found:
            matrix[row, index[concept]] = 1.0
    return names, matrix


@lru_cache(maxsize=1)
def _stop_mask() -> np.ndarray:
    return np.array([word in STOPLIST for word in imagenet_words()])


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def concept_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """Concept mass per view (views x concepts) from class probabilities (views x 1000).

    Mass on the cover-as-object classes (book jacket, web site, …) is left out and the rest scaled
    up, by at most 1 / STOP_FLOOR, so "a book jacket with a guitar on it" still reads as a guitar."""
    _, matrix = concept_table()
    stop = probabilities[..., _stop_mask()].sum(axis=-1, keepdims=True)
    counted = np.where(probabilities >= CRUMB, probabilities, 0.0)
    return (counted @ matrix) / np.maximum(1.0 - stop, STOP_FLOOR)


def _view_probabilities(logits: np.ndarray, region_logits: np.ndarray | None) -> np.ndarray:
    """Class probabilities of the whole cover and of each region (views x 1000)."""
    if region_logits is None:
        return softmax(logits[None, :])
    return np.vstack([softmax(logits[None, :]), softmax(region_logits / REGION_TEMPERATURE)])


def concept_scores(logits: np.ndarray, region_logits: np.ndarray | None = None) -> dict[str, float]:
    """Every concept's tag score: its largest probability over the whole cover and its regions,
    mapped so CONCEPT_THRESHOLD is 0.5 and twice that is 1."""
    mass = concept_probabilities(_view_probabilities(logits, region_logits)).max(axis=0)
    names, _ = concept_table()
    scores = np.clip(mass / (2 * CONCEPT_THRESHOLD), 0.0, 1.0)
    return {name: round(float(score), 4) for name, score in zip(names, scores, strict=True) if score >= 0.05}


def style_scores(style: Style, d: Descriptors) -> dict[str, float]:
    """Style words from measured descriptors (each checked by eye with `python -m training tag-sheet`)."""
    return {
        "sepia": _ramp(style.warm_tint, 0.35, 0.6) * _ramp(d.hue_spread, 0.35, 0.15),
        "faded": _ramp(style.black_level, 0.12, 0.22) * _ramp(d.saturation, 0.35, 0.2) * _ramp(d.contrast, 0.22, 0.15),
        "gradient": _ramp(style.coarse_std, 0.08, 0.15) * _ramp(style.fine_energy, 0.03, 0.02),
        "textured": _ramp(style.grain, 0.010, 0.014),  # the most finely textured tenth of covers at 96 px
        "graphic": _ramp(style.flat_share, 0.3, 0.55),  # large areas of one flat colour
        "photo": _ramp(style.flat_share, 0.12, 0.04) * _ramp(style.grain, 0.002, 0.005),
        "symmetric": _ramp(style.symmetry, 0.75, 0.88),
    }


def rule_scores(d: Descriptors) -> dict[str, float]:
    grey_share = d.colours["black"] + d.colours["white"] + d.colours["gray"]
    scores = {
        "dark": _ramp(d.brightness, 0.45, 0.2),
        "bright": _ramp(d.brightness, 0.6, 0.85),
        "black and white": _ramp(d.saturation, 0.12, 0.04),
        "monochrome": max(_ramp(d.hue_spread, 0.3, 0.1) * _ramp(d.saturation, 0.1, 0.25), _ramp(d.saturation, 0.12, 0.04)),
        "vivid": _ramp(d.colorfulness, 0.45, 0.7),
        "pastel": _ramp(d.brightness, 0.6, 0.8) * _ramp(d.saturation, 0.1, 0.2) * _ramp(d.saturation, 0.45, 0.3),
        "muted": _ramp(d.saturation, 0.3, 0.15) * _ramp(d.saturation, 0.04, 0.1) * _ramp(d.brightness, 0.15, 0.3),
        "high contrast": _ramp(d.contrast, 0.25, 0.35),
        "low contrast": _ramp(d.contrast, 0.12, 0.06),
        "face": 1.0 if _people(d) else 0.0,
        "portrait": _ramp(d.largest_face_area, 0.03, 0.08) if _people(d) else 0.0,
        "group": 1.0 if _people(d) >= 2 else 0.0,
        "minimal": _ramp(d.edge_density, 0.1, 0.05) * _ramp(len(d.palette), 4, 2),
        "busy": _ramp(d.edge_density, 0.3, 0.42),  # about the busiest tenth of covers
    }
    for name in COLOUR_NAMES:
        # A colour names the cover when it covers a good part of it; greys need more than hues.
        needed = (0.35, 0.6) if name in ("black", "white", "gray") else (0.12, 0.3)
        scores[name] = _ramp(d.colours[name], *needed)
    if grey_share > 0.97:
        for name in ("black", "white", "gray"):
            scores[name] = max(scores[name], _ramp(d.colours[name], 0.2, 0.4))
    return scores


def _people(d: Descriptors) -> int:
    """Faces that passed the stricter check (the stored vector keeps the raw cascade count)."""
    return d.style.people_faces if d.style is not None else d.face_count


def object_scores(logits: np.ndarray, region_logits: np.ndarray | None = None) -> dict[str, float]:
    """Readable ImageNet words whose probability, on the whole cover or a region, passes the
    threshold, not on the stoplist."""
    probs = _view_probabilities(logits, region_logits).max(axis=0)
    words = imagenet_words()
    scores: dict[str, float] = {}
    for index in np.argsort(probs)[::-1][: MAX_OBJECTS * 4]:
        if probs[index] < OBJECT_THRESHOLD or len(scores) == MAX_OBJECTS:
            break
        word = words[index]
        if word in STOPLIST or word in scores:
            continue
        # Map probability threshold..0.5+ onto 0.5..1 so an accepted object is always a tag.
        scores[word] = 0.5 + 0.5 * _ramp(float(probs[index]), OBJECT_THRESHOLD, 0.6)
    return scores


def all_scores(descriptors: Descriptors, logits: np.ndarray, region_logits: np.ndarray | None = None) -> dict[str, float]:
    """Every tag's score for one cover (objects only above their threshold)."""
    concepts = concept_scores(logits, region_logits)
    scores = {**rule_scores(descriptors), **concepts}
    if descriptors.style is not None:
        scores.update(style_scores(descriptors.style, descriptors))
    # An ImageNet word equal to a concept word ("wig") keeps the larger score.
    for word, score in object_scores(logits, region_logits).items():
        scores[word] = max(score, scores.get(word, 0.0))
    return scores


def tag(descriptors: Descriptors, logits: np.ndarray, region_logits: np.ndarray | None = None,
        min_score: float = MIN_SCORE) -> list[Tag]:
    """The cover's tags, most confident first."""
    scores = all_scores(descriptors, logits, region_logits)
    tags = [Tag(name, score) for name, score in scores.items() if score >= min_score]
    return sorted(tags, key=lambda t: (-t.score, t.tag))
