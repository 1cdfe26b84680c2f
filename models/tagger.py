"""Words for a cover: colour and light, faces, composition, and recognised objects.

A local stand-in for the cloud tagging API of the 2015 experiment. Every tag has a score in 0..1;
a cover carries the tags that score at least MIN_SCORE.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from models.descriptors import COLOUR_NAMES, Descriptors
from models.embedder import imagenet_classes
from models.prediction import Tag

VERSION = "tagger-v2"  # bump when words, thresholds or the stoplist change (invalidates cached tag scores)
MIN_SCORE = 0.5
OBJECT_THRESHOLD = 0.12  # softmax probability an ImageNet class needs to become a tag
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

@lru_cache(maxsize=1)
def imagenet_words() -> tuple[str, ...]:
    return tuple(imagenet_classes())


def _ramp(value: float, start: float, end: float) -> float:
    """0 at start, 1 at end, linear in between (start may exceed end for falling ramps)."""
    return float(np.clip((value - start) / (end - start), 0.0, 1.0))


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
        "face": 1.0 if d.face_count else 0.0,
        "portrait": _ramp(d.largest_face_area, 0.03, 0.08),
        "group": 1.0 if d.face_count >= 2 else 0.0,
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


def object_scores(logits: np.ndarray) -> dict[str, float]:
    """Readable ImageNet words whose probability passes the threshold, not on the stoplist."""
    shifted = logits - logits.max()
    probs = np.exp(shifted) / np.exp(shifted).sum()
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


def all_scores(descriptors: Descriptors, logits: np.ndarray) -> dict[str, float]:
    return {**rule_scores(descriptors), **object_scores(logits)}


def tag(descriptors: Descriptors, logits: np.ndarray, min_score: float = MIN_SCORE) -> list[Tag]:
    """The cover's tags, most confident first."""
    scores = all_scores(descriptors, logits)
    tags = [Tag(name, score) for name, score in scores.items() if score >= min_score]
    return sorted(tags, key=lambda t: (-t.score, t.tag))
