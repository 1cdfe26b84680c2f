import pytest

from models.prediction import Tag
from models.reader import Reading, TextBox
from models.text_tags import merge_tags, text_tags

COVER = 300 * 300.0


def box(x0: float, y0: float, x1: float, y1: float) -> tuple[tuple[float, float], ...]:
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def names(reading: Reading) -> set[str]:
    return {t.tag for t in text_tags(reading)}


def reading(*texts: str, boxes=None) -> Reading:
    boxes = boxes or [box(0, 20 * i, 40, 20 * i + 10) for i in range(len(texts))]
    return Reading(tuple(TextBox(t, 0.9, b) for t, b in zip(texts, boxes, strict=True)), COVER)


def test_no_text():
    assert names(Reading()) == {"no text"}
    assert names(reading("   ")) == {"no text"}


def test_text_and_lots_of_text():
    assert names(reading("ABBA")) == {"text"}
    assert "lots of text" in names(reading("TRACK ONE TWO THREE FOUR", "SIDE A SIDE B LINER NOTES AND CREDITS HERE AND MORE"))


def test_lettering_needs_one_big_dominant_box():
    big = box(10, 10, 290, 100)  # 28 % of the cover
    assert "lettering" in names(reading("OASIS", "small", boxes=[big, box(0, 200, 30, 210)]))
    assert "lettering" not in names(reading("TWO", "EQUAL", boxes=[big, box(10, 150, 290, 240)]))
    assert "lettering" not in names(reading("tiny", boxes=[box(0, 0, 30, 10)]))


@pytest.mark.parametrize(("text", "tag"), [
    ("PARENTALADVISORY EXPLICITCONTENT", "parental advisory"),
    ("Parental Advisory", "parental advisory"),
    ("THE GREATESTHITS", "greatest hits"),
    ("A VERY MERRY CHRISTMAS", "christmas"),
    ("SONG feat. SOMEONE", "feat."),
])
def test_phrases_are_read_with_or_without_spaces(text, tag):
    assert tag in names(reading(text))


def test_short_words_inside_others_are_not_phrases():
    assert "feat." not in names(reading("DEFEATED"))
    assert names(reading("OLIVE GARDEN")) == {"text"}  # "live" is not kept, and would not match here


def test_merge_keeps_the_highest_score_and_sorts():
    merged = merge_tags([Tag("dark", 0.9), Tag("text", 0.2)], [Tag("text", 0.5), Tag("lettering", 0.7)])
    assert merged == [Tag("dark", 0.9), Tag("lettering", 0.7), Tag("text", 0.5)]
