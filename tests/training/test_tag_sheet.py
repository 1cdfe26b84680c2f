"""The tag contact sheet: what it picks and that it renders."""

import io

from PIL import Image

from models.tagger import MIN_SCORE
from training.tag_sheet import COLUMNS, THUMB, pick, render_sheet


def test_pick_takes_the_top_scores_and_those_just_under_the_threshold():
    scores = [{"hat": 0.9}, {"hat": 0.45}, {}, {"hat": 0.6}, {"hat": 0.2}, {"dark": 1.0}]
    above, below = pick(scores, "hat", top=5, under=1)
    assert above == [0, 3]
    assert below == [1]  # 0.45 is the highest score under MIN_SCORE; 0.2 is left for lack of room
    assert all(scores[i]["hat"] < MIN_SCORE for i in below)


def test_sheet_renders_rows_of_thumbnails_as_a_small_png():
    covers = [Image.new("RGB", (300, 300), (40 * i, 100, 200)) for i in range(COLUMNS)]
    rows = [[(c, 0.9) for c in covers], [(covers[0], 0.4)]]
    sheet = render_sheet("hat", rows, carried=8, total=100)
    assert sheet.size == (COLUMNS * THUMB, sheet.size[1]) and sheet.size[1] > 2 * THUMB
    # The first thumbnail sits under the title and caption, in the first cover's colour.
    assert sheet.convert("RGB").getpixel((THUMB // 2, 40 + THUMB // 2)) == (0, 100, 200)
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG", optimize=True)
    assert buffer.tell() < 300_000
