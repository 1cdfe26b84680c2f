"""Tags from what a cover reads: whether it has text, how much, one dominant title, and phrases.

The phrase list keeps those that carried genre signal on the training covers (model card,
"Text tags"); the reader often drops spaces, so phrases are matched with and without them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from models.prediction import Tag
from models.reader import Reading

VERSION = 1
LOTS_OF_TEXT_CHARS = 60  # characters read (spaces excluded) for "lots of text"
LETTERING_SHARE = 0.06  # the largest box covers this share of the cover ...
LETTERING_DOMINANCE = 2.5  # ... and is this many times the next largest box

# tag -> (pattern, on the spaced text?): patterns match the lowercased text with spaces removed, or
# the spaced text where a short word could hide inside others ("live" in "olive").
CANDIDATES: dict[str, tuple[str, bool]] = {
    "parental advisory": (r"parentaladvisory|explicit(content|lyrics)?", False),
    "live": (r"\blive\b", True),
    "remix": (r"remix", False),
    "greatest hits": (r"greatesthits|bestof|hits", False),
    "christmas": (r"christmas|xmas|noel", False),
    "vol.": (r"\bvol\b|\bvol\.|volume", True),
    "deluxe": (r"deluxe", False),
    "feat.": (r"\bfeat\b|\bfeat\.|\bft\.|featuring", True),
}
# The candidates whose tag x genre table was significant (chi-squared p < 0.05) on the Discogs-5 and
# MusicBrainz covers (python -m training.text_tag_report; model card). live, remix, vol. and deluxe
# were read on too few covers or showed no genre difference.
KEPT = ("parental advisory", "greatest hits", "christmas", "feat.")
PHRASES = {name: CANDIDATES[name] for name in KEPT}


# Scores rank these among the image tags: a read phrase is near-certain, "text" / "no text" say little.
PHRASE_SCORE, LAYOUT_SCORE, PRESENCE_SCORE = 0.9, 0.7, 0.5


def text_tags(reading: Reading, phrases: dict[str, tuple[str, bool]] = PHRASES) -> list[Tag]:
    text = reading.text
    if not text.strip():
        return [Tag("no text", PRESENCE_SCORE)]
    tags = [Tag("text", PRESENCE_SCORE)]
    squeezed = re.sub(r"\s+", "", text.lower())
    if len(squeezed) >= LOTS_OF_TEXT_CHARS:
        tags.append(Tag("lots of text", LAYOUT_SCORE))
    if _lettering(reading):
        tags.append(Tag("lettering", LAYOUT_SCORE))
    spaced = " ".join(text.lower().split())
    for name, (pattern, on_spaced) in phrases.items():
        if re.search(pattern, spaced if on_spaced else squeezed):
            tags.append(Tag(name, PHRASE_SCORE))
    return tags


def text_scores(reading: Reading) -> dict[str, float]:
    return {t.tag: t.score for t in text_tags(reading)}


def _lettering(reading: Reading) -> bool:
    areas = sorted((b.area for b in reading.boxes), reverse=True)
    if not areas or areas[0] < LETTERING_SHARE * reading.image_area:
        return False
    return len(areas) == 1 or areas[0] >= LETTERING_DOMINANCE * areas[1]


def merge_tags(*groups: Sequence[Tag]) -> list[Tag]:
    """One list, most confident first; a tag in several groups keeps its highest score."""
    best: dict[str, float] = {}
    for group in groups:
        for t in group:
            best[t.tag] = max(best.get(t.tag, 0.0), t.score)
    return sorted((Tag(name, score) for name, score in best.items()), key=lambda t: (-t.score, t.tag))
