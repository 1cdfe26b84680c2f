"""Hand-crafted cover descriptors: colour, light, edges/texture and faces.

Everything runs on small thumbnails so the whole set costs a few milliseconds per cover.

`Descriptors.vector()` is part of the stored feature vector (VERSION is in the feature spec), so it
stays as it is; the style measures and the stricter face check only feed the tagger.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from PIL import Image
from skimage import data as skdata
from skimage.feature import Cascade, local_binary_pattern

VERSION = "descriptors-v1"  # the stored vector's part; the style block below is not in it
STYLE_VERSION = "style-v1"  # bump when Style's measures change (cached covers are then recomputed)

COLOUR_NAMES = (
    "black", "white", "gray", "red", "orange", "yellow", "green", "teal", "blue", "purple", "pink", "brown",
)
WORKING_SIZE = 96  # edges, LBP and faces: small is fast and still finds cover-sized faces
COLOUR_SIZE = 64  # colour and light statistics
HSV_BINS = (8, 3, 3)
LBP_POINTS = 8
LBP_BINS = LBP_POINTS + 2  # 'uniform' patterns


@dataclass(frozen=True)
class Face:
    row: float  # top-left, as fractions of the cover
    col: float
    size: float  # side length as a fraction of the cover side


@dataclass(frozen=True)
class Style:
    """Measures behind the style tags; each in about 0..1 (see models.tagger.style_scores)."""

    warm_tint: float  # share of pixels in a dull orange-brown (sepia) tone
    black_level: float  # 2nd percentile of luminance: faded prints have no true black
    coarse_std: float  # luminance spread of an 8 x 8 thumbnail (large-scale change)
    fine_energy: float  # mean gradient at 64 px (small-scale change)
    grain: float  # mean absolute difference from a 3 x 3 median, on flat areas
    flat_share: float  # share of 3 x 3 neighbourhoods with (almost) one colour: drawn/graphic
    symmetry: float  # 1 - left/right difference relative to the image's own variation
    people_faces: int  # faces that pass the stricter check (skin tone, not a flat patch)


@dataclass(frozen=True)
class Descriptors:
    brightness: float  # mean value (HSV V), 0..1
    contrast: float  # std of luminance, 0..~0.5
    saturation: float  # mean HSV saturation, 0..1
    colorfulness: float  # Hasler & Süsstrunk, scaled to ~0..1
    hue_spread: float  # 1 - resultant length of saturation-weighted hues (0 = one hue)
    edge_density: float  # share of pixels on a strong edge
    colours: dict[str, float]  # share of the cover per basic colour name
    palette: list[tuple[str, float, str]]  # dominant colours: (name, share, hex)
    hsv_hist: np.ndarray
    lbp_hist: np.ndarray
    faces: list[Face]
    style: Style | None = None

    @property
    def face_count(self) -> int:
        return len(self.faces)

    @property
    def largest_face_area(self) -> float:
        return max((f.size**2 for f in self.faces), default=0.0)

    def vector(self) -> np.ndarray:
        scalars = [
            self.brightness, self.contrast, self.saturation, self.colorfulness, self.hue_spread,
            self.edge_density, min(self.face_count, 3) / 3, self.largest_face_area,
        ]
        colours = [self.colours[name] for name in COLOUR_NAMES]
        return np.concatenate([scalars, colours, self.hsv_hist, self.lbp_hist]).astype(np.float32)


def vector_size() -> int:
    return 8 + len(COLOUR_NAMES) + int(np.prod(HSV_BINS)) + LBP_BINS


def describe(image: Image.Image, style: bool = True) -> Descriptors:
    """Compute all descriptors of an RGB image (style=False: without the style block, for timing)."""
    working = image.resize((WORKING_SIZE, WORKING_SIZE), Image.Resampling.BILINEAR)
    colour = working.resize((COLOUR_SIZE, COLOUR_SIZE), Image.Resampling.BILINEAR)
    small = np.asarray(colour, dtype=np.float32) / 255
    hsv = np.asarray(colour.convert("HSV"), dtype=np.float32) / 255
    grey = np.asarray(working.convert("L"), dtype=np.float32) / 255
    names = name_pixels(hsv)
    faces = detect_faces(grey)
    colours = {name: float(np.mean(names == i)) for i, name in enumerate(COLOUR_NAMES)}
    return Descriptors(
        brightness=float(hsv[..., 2].mean()),
        contrast=float(grey.std()),
        saturation=float(hsv[..., 1].mean()),
        colorfulness=colorfulness(small),
        hue_spread=hue_spread(hsv),
        edge_density=edge_density(grey),
        colours=colours,
        palette=palette(small, names),
        hsv_hist=hsv_histogram(hsv),
        lbp_hist=lbp_histogram(grey),
        faces=faces,
        style=measure_style(small, hsv, grey, faces) if style else None,
    )


def name_pixels(hsv: np.ndarray) -> np.ndarray:
    """Index into COLOUR_NAMES for every pixel of an HSV (0..1) array."""
    h, s, v = hsv[..., 0] * 360, hsv[..., 1], hsv[..., 2]
    out = np.full(h.shape, COLOUR_NAMES.index("gray"), dtype=np.int8)
    chromatic = (s >= 0.25) & (v >= 0.2)
    hue_edges = [(15, "red"), (40, "orange"), (70, "yellow"), (160, "green"), (200, "teal"), (255, "blue"),
                 (290, "purple"), (335, "pink"), (361, "red")]
    lower = 0.0
    for upper, name in hue_edges:
        out[chromatic & (h >= lower) & (h < upper)] = COLOUR_NAMES.index(name)
        lower = upper
    brown = chromatic & (h >= 10) & (h < 45) & (v < 0.6)
    out[brown] = COLOUR_NAMES.index("brown")
    pink = chromatic & ((h < 15) | (h >= 335)) & (s < 0.5) & (v > 0.7)
    out[pink] = COLOUR_NAMES.index("pink")
    out[v < 0.2] = COLOUR_NAMES.index("black")
    out[(s < 0.25) & (v >= 0.2) & (v < 0.8)] = COLOUR_NAMES.index("gray")
    out[(s < 0.15) & (v >= 0.8)] = COLOUR_NAMES.index("white")
    return out


def palette(rgb: np.ndarray, names: np.ndarray, k: int = 4, min_share: float = 0.05) -> list[tuple[str, float, str]]:
    """The k most common colour names with their mean colour, largest first."""
    counts = np.bincount(names.ravel(), minlength=len(COLOUR_NAMES)) / names.size
    result = []
    for index in np.argsort(counts)[::-1][:k]:
        if counts[index] < min_share:
            break
        mean = rgb[names == index].mean(axis=0)
        hex_colour = "#" + "".join(f"{int(round(c * 255)):02x}" for c in mean)
        result.append((COLOUR_NAMES[index], float(counts[index]), hex_colour))
    return result


def colorfulness(rgb: np.ndarray) -> float:
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg, yb = r - g, 0.5 * (r + g) - b
    value = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    return float(min(value / 0.6, 1.0))  # 0.6 ≈ an extremely colourful image


def hue_spread(hsv: np.ndarray) -> float:
    angle = hsv[..., 0] * 2 * np.pi
    weight = hsv[..., 1] * hsv[..., 2]
    total = weight.sum()
    if total < 1e-6:
        return 0.0
    resultant = np.hypot((weight * np.cos(angle)).sum(), (weight * np.sin(angle)).sum()) / total
    return float(1.0 - resultant)


def edge_density(grey: np.ndarray, threshold: float = 0.15) -> float:
    gy, gx = np.gradient(grey)
    return float(np.mean(np.hypot(gx, gy) > threshold / 2))


def hsv_histogram(hsv: np.ndarray) -> np.ndarray:
    hist, _ = np.histogramdd(hsv.reshape(-1, 3), bins=HSV_BINS, range=((0, 1), (0, 1), (0, 1)))
    return (hist.ravel() / hsv[..., 0].size).astype(np.float32)


def lbp_histogram(grey: np.ndarray) -> np.ndarray:
    codes = local_binary_pattern((grey * 255).astype(np.uint8), LBP_POINTS, 1, method="uniform")
    hist = np.bincount(codes.astype(np.int64).ravel(), minlength=LBP_BINS)[:LBP_BINS]
    return (hist / codes.size).astype(np.float32)


def measure_style(rgb: np.ndarray, hsv: np.ndarray, grey: np.ndarray, faces: list[Face]) -> Style:
    """Style measures from the 64 px RGB/HSV and the 96 px grey thumbnails."""
    h, sat, val = hsv[..., 0] * 360, hsv[..., 1], hsv[..., 2]
    luminance = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    side = luminance.shape[0]
    coarse = luminance.reshape(8, side // 8, 8, side // 8).mean(axis=(1, 3))
    gy, gx = np.gradient(luminance)
    neighbours = _neighbourhoods(grey)
    spread = neighbours.max(axis=0) - neighbours.min(axis=0)
    flat = spread <= 4 / 255
    return Style(
        warm_tint=float(np.mean((h >= 18) & (h < 50) & (sat >= 0.12) & (sat < 0.5) & (val > 0.2))),
        black_level=float(np.percentile(luminance, 2)),
        coarse_std=float(coarse.std()),
        fine_energy=float(np.mean(np.hypot(gx, gy))),
        grain=_grain(grey, neighbours, spread, flat),
        flat_share=float(flat.mean()),
        symmetry=_symmetry(luminance),
        people_faces=sum(1 for face in faces if _looks_like_skin(rgb, face)),
    )


def _neighbourhoods(grey: np.ndarray) -> np.ndarray:
    """The 9 shifted copies of the image that make each pixel's 3 x 3 neighbourhood (border repeated)."""
    padded = np.pad(grey, 1, mode="edge")
    return np.stack([padded[r:r + grey.shape[0], c:c + grey.shape[1]] for r in range(3) for c in range(3)])


def _grain(grey: np.ndarray, neighbours: np.ndarray, spread: np.ndarray, flat: np.ndarray) -> float:
    """Pixel noise where the picture itself is smooth: film grain, photocopy speckle, fine texture."""
    smooth = (spread < 0.12) & ~flat  # no real edge nearby; perfectly flat areas have no grain to measure
    if smooth.mean() < 0.1:
        return 0.0
    median = np.partition(neighbours[:, smooth], 4, axis=0)[4]
    return float(np.abs(grey[smooth] - median).mean())


def _symmetry(grey: np.ndarray) -> float:
    spread = np.abs(grey - grey.mean()).mean()
    if spread < 0.02:
        return 0.0  # a flat cover is trivially symmetric; say nothing
    return float(1.0 - np.abs(grey - grey[:, ::-1]).mean() / (2 * spread))


def _looks_like_skin(rgb: np.ndarray, face: Face) -> bool:
    """A detection is a face only if its centre is skin-coloured (any skin tone), or the cover is
    greyscale and the box is not a flat patch. Cuts the cascade's hits on patterns and text."""
    side = rgb.shape[0]
    r0, c0 = int((face.row + face.size * 0.25) * side), int((face.col + face.size * 0.25) * side)
    r1, c1 = max(r0 + 1, int((face.row + face.size * 0.75) * side)), max(c0 + 1, int((face.col + face.size * 0.75) * side))
    patch = rgb[r0:r1, c0:c1].reshape(-1, 3)
    if patch.size == 0:
        return False
    r, g, b = patch[:, 0], patch[:, 1], patch[:, 2]
    if patch.std() < 0.04:
        return False
    if (np.abs(r - g) < 0.03).mean() > 0.9 and (np.abs(g - b) < 0.03).mean() > 0.9:
        return True  # greyscale: no colour to check
    # Kovac et al.'s RGB skin rule, loosened for scans; half the centre must pass.
    skin = (r > 0.35) & (g > 0.15) & (b > 0.08) & (r > g) & (r > b) & (r - np.minimum(g, b) > 0.05)
    return bool(skin.mean() >= 0.5)


_local = threading.local()


def _cascade() -> Cascade:
    # One cascade per thread: the detector keeps scratch state while it scans.
    if not hasattr(_local, "cascade"):
        _local.cascade = Cascade(skdata.lbp_frontal_face_cascade_filename())
    return _local.cascade


def detect_faces(grey: np.ndarray) -> list[Face]:
    """Frontal faces in a square greyscale (0..1) thumbnail."""
    side = grey.shape[0]
    found = _cascade().detect_multi_scale(
        grey.astype(np.float64), scale_factor=1.3, step_ratio=1.2, min_size=(16, 16), max_size=(side, side),
        min_neighbor_number=1,
    )
    return [Face(row=d["r"] / side, col=d["c"] / side, size=d["width"] / side) for d in found]
