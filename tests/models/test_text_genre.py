import numpy as np
import pytest

from models.features import vector_size
from models.genre import GenreModel, Recipe
from models.text_genre import TextModel, blend, text_trust

GENRES = ["Country", "HipHop"]
WORDS = {0: ["honky tonk", "cowboy road", "whiskey river", "tonk country"], 1: ["gangsta rap", "mixtape beats", "rap gangsta", "beats crew"]}


def tiny_set(n: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    targets = np.arange(n) % 2
    vectors = rng.normal(size=(n, vector_size())).astype(np.float32)
    vectors[:, 0] += np.where(targets == 0, 0.3, -0.3)  # a weak image signal
    texts = [WORDS[t][(i // 2) % 4] if i % 5 else "" for i, t in enumerate(targets)]
    return vectors, targets, texts


@pytest.fixture(scope="module")
def model():
    vectors, targets, texts = tiny_set()
    return GenreModel.fit(vectors, targets, GENRES, Recipe(text_weight=0.5, text_ngram=(2, 4), text_C=10.0),
                          texts=texts)


def test_no_text_gets_exactly_the_image_probabilities(model):
    vectors, _, _ = tiny_set(6, seed=1)
    image = model.image_proba(vectors)
    np.testing.assert_array_equal(model.predict_proba(vectors, ["", "  ", "", "", "", ""]), image)
    np.testing.assert_array_equal(model.predict_proba(vectors), image)


def test_read_text_moves_the_answer_toward_its_genre(model):
    vectors, _, _ = tiny_set(2, seed=2)
    image = model.image_proba(vectors)
    read = model.predict_proba(vectors, ["HONKYTONK COWBOY", "GANGSTA RAP"])
    assert read[0, 0] > image[0, 0] and read[1, 1] > image[1, 1]
    np.testing.assert_allclose(read.sum(axis=1), 1.0)


def test_image_only_recipe_fits_no_text_model():
    vectors, targets, texts = tiny_set()
    plain = GenreModel.fit(vectors, targets, GENRES, Recipe(), texts=texts)
    assert not plain.reads_text
    np.testing.assert_array_equal(plain.predict_proba(vectors[:3], ["COWBOY"] * 3), plain.image_proba(vectors[:3]))


def test_a_model_pickled_before_reading_answers_image_only(model):
    old = GenreModel.__new__(GenreModel)
    old.__dict__.update({k: v for k, v in model.__dict__.items() if k != "text"})
    vectors, _, _ = tiny_set(3, seed=3)
    np.testing.assert_array_equal(old.predict_proba(vectors, ["COWBOY"] * 3), model.image_proba(vectors))


def test_blend_is_geometric_and_leaves_rows_without_text_alone():
    image = np.array([[0.8, 0.2], [0.5, 0.5]])
    text = np.array([[0.2, 0.8], [0.9, 0.1]])
    out = blend(image, text, 0.5, np.array([True, False]))
    np.testing.assert_allclose(out[0], [0.5, 0.5])  # sqrt(.8*.2) = sqrt(.2*.8)
    np.testing.assert_array_equal(out[1], image[1])
    np.testing.assert_array_equal(blend(image, text, 0.0, np.array([True, True])), image)


def test_pushing_words_name_the_words_behind_a_genre():
    texts = [w for pair in zip(WORDS[0], WORDS[1]) for w in pair] * 3
    targets = np.array([0, 1] * 12)
    text = TextModel((2, 4), C=10.0).fit(texts, targets)
    assert text.pushing_words("COWBOY RAP", 0) == ["cowboy"]
    assert text.pushing_words("COWBOY RAP", 1) == ["rap"]


def test_sharpness_below_one_softens_only_rows_with_text():
    image = np.array([[0.8, 0.2], [0.7, 0.3]])
    text = np.array([[0.9, 0.1], [0.9, 0.1]])
    has = np.array([True, False])
    sharp, soft = blend(image, text, 0.5, has, 1.0), blend(image, text, 0.5, has, 0.5)
    assert 0.5 < soft[0, 0] < sharp[0, 0]  # same ranking, less confident
    np.testing.assert_array_equal(soft[1], image[1])


def test_sharpness_above_one_sharpens_only_rows_with_text():
    image = np.array([[0.6, 0.4], [0.7, 0.3]])
    text = np.array([[0.7, 0.3], [0.9, 0.1]])
    has = np.array([True, False])
    plain, sharp = blend(image, text, 0.5, has, 1.0), blend(image, text, 0.5, has, 2.0)
    assert plain[0, 0] < sharp[0, 0] < 1  # same ranking, more confident
    np.testing.assert_array_equal(sharp[1], image[1])


def test_a_genre_with_no_text_trust_keeps_its_image_evidence():
    image = np.array([[0.5, 0.3, 0.2]])
    text = np.array([[0.6, 0.399, 0.001]])  # the text half has barely seen genre 2
    has = np.array([True])
    full, trusted = blend(image, text, 0.5, has), blend(image, text, np.array([0.5, 0.5, 0.0]), has)
    assert full[0, 2] < 0.02 < trusted[0, 2]  # vetoed at full weight, not without trust
    np.testing.assert_allclose(blend(image, text, np.array([0.5, 0.5, 0.5]), has), full)


def test_text_trust_grows_with_the_covers_with_text_up_to_the_fewest_of_a_base_genre():
    np.testing.assert_allclose(text_trust(np.array([600, 500, 14, 0]), 500), [1.0, 1.0, 0.028, 0.0])
    np.testing.assert_allclose(text_trust(np.array([3, 0]), 0), [1.0, 0.0])  # no base texts: no division by zero


def test_a_model_pickled_before_per_genre_trust_blends_at_the_recipe_weight(model):
    old = GenreModel.__new__(GenreModel)
    old.__dict__.update({k: v for k, v in model.__dict__.items() if k != "trust"})
    vectors, _, _ = tiny_set(3, seed=3)
    np.testing.assert_array_equal(old.text_weights, [0.5, 0.5])
    np.testing.assert_allclose(old.predict_proba(vectors, ["COWBOY"] * 3), model.predict_proba(vectors, ["COWBOY"] * 3))
