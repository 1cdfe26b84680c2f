"""Concept scoring and the class → concept map."""

import json
import re

import numpy as np
import pytest

from models import tagger
from models.embedder import REGIONS, imagenet_classes

NAMES = imagenet_classes()


def logits_for(probabilities: dict[str, float]) -> np.ndarray:
    """Logits whose softmax puts the given probabilities on the named classes, the rest spread evenly."""
    rest = (1.0 - sum(probabilities.values())) / (len(NAMES) - len(probabilities))
    probs = np.full(len(NAMES), rest)
    for name, p in probabilities.items():
        probs[NAMES.index(name)] = p
    return np.log(probs).astype(np.float32)


def test_two_hat_classes_make_a_hat_though_neither_is_one_alone():
    logits = logits_for({"cowboy hat": 0.12, "sombrero": 0.10})
    scores = tagger.concept_scores(logits)
    assert scores["hat"] >= tagger.MIN_SCORE  # 0.22 summed passes the concept threshold
    assert max(tagger.softmax(logits)[[NAMES.index("cowboy hat"), NAMES.index("sombrero")]]) < tagger.CONCEPT_THRESHOLD
    assert scores.get("guitar", 0.0) < tagger.MIN_SCORE


def test_a_concept_in_one_region_counts():
    whole = logits_for({})
    regions = np.stack([logits_for({})] * len(REGIONS))
    regions[2] = logits_for({"electric guitar": 0.3, "acoustic guitar": 0.1})
    assert tagger.concept_scores(whole).get("guitar", 0.0) < tagger.MIN_SCORE
    assert tagger.concept_scores(whole, regions)["guitar"] >= tagger.MIN_SCORE


def test_cover_as_object_mass_is_left_out_up_to_the_floor():
    # 60 % "book jacket", 15 % guitar: 0.15 / 0.4 would be 0.375, the floor caps the scaling at 2x.
    logits = logits_for({"book jacket": 0.6, "electric guitar": 0.15})
    mass = tagger.concept_probabilities(tagger.softmax(logits[None, :]))[0]
    names, _ = tagger.concept_table()
    assert mass[names.index("guitar")] == pytest.approx(0.15 / tagger.STOP_FLOOR, rel=1e-2)  # + the other guitar's crumbs


def test_map_covers_the_classes_it_should():
    table = json.loads(tagger.CONCEPTS_PATH.read_text())
    classes = table["classes"]
    assert len(classes) == len(NAMES) == len(table["wnids"]) == 1000
    by_name = dict(zip(NAMES, classes, strict=True))
    assert {"hat"} <= set(by_name["cowboy hat"]) and {"hat"} <= set(by_name["sombrero"])
    assert {"guitar", "musical instrument"} <= set(by_name["electric guitar"])
    assert {"dog", "mammal", "animal"} <= set(by_name["golden retriever"])
    assert "bird" in by_name["bald eagle"] and "car" in by_name["sports car"]
    # Every dog breed (ImageNet's 151..268) is a dog; cover-as-object classes get nothing.
    assert all("dog" in classes[i] for i in range(151, 269))
    assert all(by_name[name] == [] for name in tagger.STOPLIST if name in by_name)
    # wnids are in logit order: tench first, toilet tissue last.
    assert table["wnids"][0] == "n01440764" and table["wnids"][-1] == "n15075141"


def test_no_concept_is_an_unreadable_wordnet_lemma():
    names, matrix = tagger.concept_table()
    for name in names:
        assert re.fullmatch(r"[a-z]+( [a-z]+)*", name), name  # no underscores, dots, sense numbers
        assert len(name) <= 20, name
    assert len(names) >= 100
    assert (matrix.sum(axis=0) >= 1).all()  # every concept has at least one class


def test_colour_and_light_words_are_told_apart():
    assert tagger.is_colour_or_light("red") and tagger.is_colour_or_light("dark")
    assert not tagger.is_colour_or_light("guitar") and not tagger.is_colour_or_light("neon")
