from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image

from models.embedder import CLASSES_PATH, DEFAULT_PATH, REGIONS, Embedder, imagenet_classes
from models.onnx_graph import OnnxFormatError, with_feature_map


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture(scope="module")
def images() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [
        Image.fromarray(skimage.data.chelsea()),
        Image.fromarray(skimage.data.coffee()),
        Image.fromarray(rng.integers(0, 256, (97, 130, 3), dtype=np.uint8)),
    ]


def test_classes_file_has_1000_names():
    lines = CLASSES_PATH.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1000
    assert all(line.strip() == line and line for line in lines)
    assert imagenet_classes() == lines


@pytest.mark.parametrize("n", [1, 3])
def test_shapes_and_dtypes(embedder, images, n):
    emb, logits = embedder.embed(images[:n])
    assert emb.shape == (n, Embedder.DIM) and emb.dtype == np.float32
    assert logits.shape == (n, Embedder.N_CLASSES) and logits.dtype == np.float32
    assert np.isfinite(emb).all() and np.isfinite(logits).all()


def test_empty_input(embedder):
    emb, logits = embedder.embed([])
    assert emb.shape == (0, Embedder.DIM) and emb.dtype == np.float32
    assert logits.shape == (0, Embedder.N_CLASSES) and logits.dtype == np.float32


def test_deterministic(embedder, images):
    a = embedder.embed(images)
    b = embedder.embed(images)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_batch_equals_single(embedder, images):
    emb, logits = embedder.embed(images)
    for i, img in enumerate(images):
        e1, l1 = embedder.embed([img])
        np.testing.assert_allclose(e1[0], emb[i], atol=1e-4, rtol=0)
        np.testing.assert_allclose(l1[0], logits[i], atol=1e-4, rtol=0)


def test_preprocess_range():
    imgs = [
        Image.new("RGB", (10, 20), (0, 0, 0)),
        Image.new("RGB", (300, 50), (255, 255, 255)),
        Image.fromarray(skimage.data.astronaut()),
    ]
    x = Embedder.preprocess(imgs)
    assert x.shape == (3, 3, 224, 224) and x.dtype == np.float32
    np.testing.assert_allclose(x[0], -127 / 128)
    np.testing.assert_allclose(x[1], 1.0)
    assert -127 / 128 - 1e-6 <= x.min() and x.max() <= 1.0 + 1e-6
    assert x[2].std() > 0.1


def test_chelsea_is_a_cat(embedder):
    _, logits = embedder.embed([Image.fromarray(skimage.data.chelsea())])
    assert "cat" in imagenet_classes()[int(np.argmax(logits[0]))]


def model_card_digest() -> str:
    """The embedder's sha256 as the model card records it."""
    card = (Path(__file__).resolve().parents[2] / "models" / "MODEL_CARD.md").read_text()
    match = re.search(r"efficientnet_lite0\.onnx`: [\d,]+ bytes, sha256\s+`([0-9a-f]{64})`", card)
    assert match, "the model card no longer records the embedder's digest"
    return match.group(1)


def test_sha256_is_the_model_card_digest(embedder):
    assert embedder.sha256 == model_card_digest()
    assert embedder.sha256 == hashlib.sha256(DEFAULT_PATH.read_bytes()).hexdigest()
def test_region_head_uses_the_graphs_own_classifier(embedder: Embedder):
    """A feature map equal to the embedding everywhere must give the cover's own logits in every region."""
    image = Image.new("RGB", (300, 300), (200, 40, 40))
    embedding, logits, regions = embedder.embed_regions([image])
    assert regions.shape == (1, len(REGIONS), 1000)
    flat_map = np.broadcast_to(embedding[:, :, None, None], (1, Embedder.DIM, 7, 7))
    np.testing.assert_allclose(embedder.region_logits(flat_map)[0], np.repeat(logits, len(REGIONS), axis=0), atol=1e-3)


def test_onnx_reader_refuses_what_is_not_a_classifier_graph():
    with pytest.raises(OnnxFormatError):
        with_feature_map(b"\x0a\x03abc")  # a protobuf with no graph field
