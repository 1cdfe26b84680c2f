"""The tag report scores covers with every tag a prediction carries, text tags included."""

from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from models.embedder import Embedder
from models.features import FeatureExtractor
from training.datasets import Sample
from training.tag_report import score_samples


@pytest.fixture(scope="module")
def extractor() -> FeatureExtractor:
    return FeatureExtractor(Embedder(threads=1))


def covers(folder: Path) -> list[Sample]:
    lettered = Image.new("RGB", (300, 300), (250, 245, 235))
    ImageDraw.Draw(lettered).text((30, 60), "GREATEST", fill=(20, 20, 30), font=ImageFont.load_default(size=40))
    blank = Image.new("RGB", (300, 300), (128, 30, 200))
    samples = []
    for name, image in (("lettered.png", lettered), ("blank.png", blank)):
        image.save(folder / name)
        samples.append(Sample(folder / name, frozenset({"Pop"})))
    return samples


def test_text_tags_join_the_image_tags(tmp_path: Path, extractor: FeatureExtractor) -> None:
    scored = score_samples(covers(tmp_path), extractor, cache_dir=tmp_path / "cache", progress=False)
    lettered, blank = scored.scores
    assert "text" in lettered and "no text" not in lettered
    assert "no text" in blank and "text" not in blank


def test_without_reading_there_are_no_text_tags(tmp_path: Path, extractor: FeatureExtractor) -> None:
    scored = score_samples(covers(tmp_path), extractor, cache_dir=tmp_path / "cache", progress=False, read=False)
    assert all("text" not in s and "no text" not in s for s in scored.scores)
