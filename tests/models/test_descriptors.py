import numpy as np
import pytest
from PIL import Image
from skimage import data

from models.descriptors import COLOUR_NAMES, describe, vector_size
from models.tagger import rule_scores


def solid(colour) -> Image.Image:
    return Image.new("RGB", (300, 300), colour)


def test_black_image_is_dark_and_black():
    d = describe(solid((0, 0, 0)))
    assert d.brightness == pytest.approx(0.0)
    assert d.colours["black"] == pytest.approx(1.0)
    scores = rule_scores(d)
    assert scores["dark"] == 1.0 and scores["black"] == 1.0 and scores["bright"] == 0.0


def test_pure_red_image_is_red_and_bright():
    d = describe(solid((255, 0, 0)))
    assert d.palette[0][0] == "red"
    assert d.palette[0][2] == "#ff0000"
    scores = rule_scores(d)
    assert scores["red"] == 1.0 and scores["blue"] == 0.0 and scores["dark"] == 0.0


@pytest.mark.parametrize("colour, name", [((0, 0, 255), "blue"), ((255, 255, 255), "white"), ((0, 160, 0), "green")])
def test_solid_colours_are_named(colour, name):
    assert describe(solid(colour)).palette[0][0] == name


def test_astronaut_has_a_face():
    d = describe(Image.fromarray(data.astronaut()).resize((300, 300)))
    assert d.face_count >= 1
    top_left = min(d.faces, key=lambda f: f.row)
    # Eileen Collins' face sits in the upper middle of the photo.
    assert 0.0 <= top_left.row < 0.3 and 0.2 < top_left.col < 0.5


def test_flat_image_has_no_face_and_no_edges():
    d = describe(solid((120, 120, 120)))
    assert d.face_count == 0
    assert d.edge_density == 0.0
    assert rule_scores(d)["minimal"] == 1.0


def test_mosaic_of_small_tiles_is_busy():
    rng = np.random.default_rng(0)
    tiles = rng.integers(0, 256, (50, 50, 3), dtype=np.uint8)
    mosaic = Image.fromarray(tiles).resize((300, 300), Image.Resampling.NEAREST)
    assert rule_scores(describe(mosaic))["busy"] == 1.0


def test_greyscale_photo_is_black_and_white():
    d = describe(Image.fromarray(data.camera()).convert("RGB"))
    assert rule_scores(d)["black and white"] == 1.0


def test_vector_is_fixed_size_and_finite():
    for image in [solid((0, 0, 0)), Image.fromarray(data.astronaut())]:
        vector = describe(image).vector()
        assert vector.shape == (vector_size(),)
        assert vector.dtype == np.float32 and np.isfinite(vector).all()


def test_colour_shares_sum_to_one():
    d = describe(Image.fromarray(data.coffee()))
    assert sum(d.colours.values()) == pytest.approx(1.0)
    assert set(d.colours) == set(COLOUR_NAMES)


def test_stoplist_names_real_imagenet_classes():
    from models.tagger import STOPLIST, imagenet_words

    assert STOPLIST <= set(imagenet_words())
