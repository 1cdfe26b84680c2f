"""Each style word on synthetic covers built to have it, and on ones built to lack it."""

import numpy as np
from PIL import Image, ImageDraw

from models.descriptors import describe
from models.tagger import all_scores

SIDE = 300
NO_LOGITS = np.zeros(1000, dtype=np.float32)  # a flat classifier: no objects, no lettering


def scores(image: Image.Image) -> dict[str, float]:
    return all_scores(describe(image), NO_LOGITS)


def from_array(values: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(values * 255, 0, 255).astype(np.uint8))


def noise(seed: int, sigma: float) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, sigma, (SIDE, SIDE, 1))


def blocks(seed: int = 0) -> Image.Image:
    """A flat-colour drawing: a few solid shapes, no texture."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (SIDE, SIDE), (240, 200, 40))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y = rng.integers(0, SIDE - 80, 2)
        draw.rectangle([x, y, x + 80, y + 60], fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    return image


def textured(seed: int = 0) -> Image.Image:
    """Photo-like: smooth shading plus sensor noise everywhere."""
    y, x = np.mgrid[0:SIDE, 0:SIDE] / SIDE
    base = np.stack([0.3 + 0.4 * x, 0.4 + 0.2 * y, 0.5 - 0.2 * x * y], axis=-1)
    return from_array(base + noise(seed, 0.1))


def test_sepia_print_is_sepia_and_a_blue_one_is_not():
    y, x = np.mgrid[0:SIDE, 0:SIDE] / SIDE
    tone = 0.35 + 0.4 * np.sin(3 * x + 2 * y) ** 2
    sepia = np.stack([tone, tone * 0.8, tone * 0.55], axis=-1)
    assert scores(from_array(sepia))["sepia"] >= 0.5
    assert scores(from_array(sepia[..., ::-1]))["sepia"] == 0.0


def test_faded_print_has_no_true_black():
    y, x = np.mgrid[0:SIDE, 0:SIDE] / SIDE
    picture = np.stack([0.2 + 0.6 * x, 0.2 + 0.6 * y, 0.2 + 0.6 * x * y], axis=-1)
    faded = 0.3 + 0.45 * picture.mean(axis=-1, keepdims=True) * np.array([1.0, 0.95, 0.9])
    assert scores(from_array(faded))["faded"] >= 0.5
    crisp = picture * 1.2 - 0.2  # true blacks, more contrast
    assert scores(from_array(crisp))["faded"] < 0.5


def test_smooth_gradient_is_a_gradient_and_a_busy_pattern_is_not():
    y, x = np.mgrid[0:SIDE, 0:SIDE] / SIDE
    ramp = np.stack([0.1 + 0.8 * x, 0.2 + 0.6 * x, 0.6 - 0.3 * y], axis=-1)
    assert scores(from_array(ramp))["gradient"] >= 0.5
    checks = ((np.floor(x * 30) + np.floor(y * 30)) % 2)[..., None] * np.ones(3)
    assert scores(from_array(checks))["gradient"] == 0.0


def test_noise_makes_textured_and_a_clean_image_is_not():
    y, x = np.mgrid[0:SIDE, 0:SIDE] / SIDE
    clean = np.stack([0.3 + 0.3 * x] * 3, axis=-1)
    assert scores(from_array(clean + noise(1, 0.2)))["textured"] >= 0.5  # heavy: the measure works at 96 px
    assert scores(from_array(clean))["textured"] == 0.0


def test_flat_shapes_are_graphic_and_noisy_shading_is_a_photo():
    drawn, photo = scores(blocks()), scores(textured())
    assert drawn["graphic"] >= 0.5 and drawn["photo"] == 0.0
    assert photo["photo"] >= 0.5 and photo["graphic"] == 0.0


def test_mirrored_cover_is_symmetric_and_its_left_half_alone_is_not():
    half = np.asarray(textured(3).resize((SIDE // 2, SIDE)), dtype=np.float32) / 255
    half = half * np.linspace(0.2, 1.0, SIDE // 2)[None, :, None]  # dark at the edge, light in the middle
    mirrored = np.concatenate([half, half[:, ::-1]], axis=1)
    assert scores(from_array(mirrored))["symmetric"] >= 0.5
    lopsided = np.concatenate([half, np.full_like(half, 0.9)], axis=1)
    assert scores(from_array(lopsided))["symmetric"] == 0.0
