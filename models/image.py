"""Loading cover images from untrusted bytes: validate, decode safely, normalise to RGB.

A small file can hold a huge picture (a 92 KB PNG can be 40 megapixels of 16-bit grey), so
pictures are decoded as small as the format allows (JPEG's draft mode decodes at 1/2 to 1/8
scale) and shrunk to DECODE_SIDE before any mode conversion: the full-size picture exists once,
in its own mode, and every later copy is small.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

MAX_BYTES = 15 * 1024 * 1024
MAX_PIXELS = 40_000_000
# Pillow decodes WebP through two full-size RGBA buffers and a copy (about 16 bytes a pixel), and
# cannot decode it smaller, so WebP gets a lower cap; covers are never this large anyway.
MAX_WEBP_PIXELS = 4096 * 4096
# Longest side kept after decoding: features work on 320 px thumbnails (models.features), and
# shrinking to at least twice that first keeps them as sharp as shrinking the full picture.
DECODE_SIDE = 1024
# Only formats covers come in; Pillow can open many more (EPS hands data to Ghostscript).
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")  # multi-picture JPEGs (MPO) open as JPEG
KB = 1024
MB = 1024 * KB

# Pillow refuses headers above 2x this outright and warns above it; load_image refuses anything
# above MAX_PIXELS from the header alone, before a single pixel is decoded, so the warning is noise.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
Image.init()  # register every plugin so FORMATS can be named
ImageFile.LOAD_TRUNCATED_IMAGES = False

_EXIF_ORIENTATION = 0x0112
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_HIGH_DEPTH = ("I;16", "I;16B", "I;16L", "I", "F")


class ImageError(ValueError):
    """The bytes are not a cover we can use; str(error) is a message fit to show a person."""


def describe_size(n_bytes: int) -> str:
    """A byte count as people write it: "15 MB", "1.5 MB", "200 KB", "1000 bytes" (binary units)."""
    for unit, name in ((MB, "MB"), (KB, "KB")):
        if n_bytes >= unit:
            return f"{n_bytes / unit:.1f}".removesuffix(".0") + f" {name}"
    return f"{n_bytes} bytes"


def too_large_message(max_bytes: int) -> str:
    """The one wording for an image over the size limit, wherever it was found to be."""
    return f"That image is bigger than {describe_size(max_bytes)}."


def load_image(data: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode image bytes (JPEG, PNG, WebP, GIF, …) into an upright RGB image, or raise ImageError.

    Pictures larger than DECODE_SIDE on their longest side come back shrunk to it.
    """
    if not data:
        raise ImageError("That file is empty.")
    if len(data) > max_bytes:
        raise ImageError(too_large_message(max_bytes))
    try:
        with warnings.catch_warnings():
            # Pillow warns about odd but readable files (bad EXIF, palette transparency, huge
            # headers); the person gets an answer or an ImageError, never library noise on stderr.
            warnings.simplefilter("ignore")
            image: Image.Image = Image.open(io.BytesIO(data), formats=FORMATS)
            _check_pixels(image, min(max_pixels, MAX_WEBP_PIXELS) if image.format == "WEBP" else max_pixels)
            image.seek(0)  # GIF / animated WebP: first frame
            orientation = image.getexif().get(_EXIF_ORIENTATION)
            if image.format == "JPEG":
                image.draft(image.mode, (DECODE_SIDE, DECODE_SIDE))
            image.load()
            image = _shrink(image)
            if orientation in _TRANSPOSE:
                image = image.transpose(_TRANSPOSE[orientation])
            return _to_rgb(image)
    except Image.DecompressionBombError as exc:
        raise _too_many_pixels(max_pixels) from exc
    except UnidentifiedImageError as exc:
        raise ImageError("That doesn't look like an image (I read JPEG, PNG, WebP and GIF).") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        if isinstance(exc, ImageError):
            raise
        reason = str(exc).lower()
        if "text chunk" in reason or "max_text" in reason:  # a PNG text chunk over Pillow's cap: a zip bomb
            raise ImageError("That image carries too much metadata (text or colour profile) for me to read.") from exc
        raise ImageError("That image is damaged or cut off, so I can't read it.") from exc


def _check_pixels(image: Image.Image, max_pixels: int) -> None:
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageError("That image has no pixels.")
    if width * height > max_pixels:
        raise _too_many_pixels(max_pixels)


def _too_many_pixels(max_pixels: int) -> ImageError:
    return ImageError(f"That image has too many pixels (the limit is {max_pixels / 1e6:.0f} megapixels).")


def _shrink(image: Image.Image) -> Image.Image:
    """At most DECODE_SIDE on the longest side, averaging pixels (palette and 1-bit images: nearest).

    Pillow averages RGBA and LA through a premultiplied full-size copy, so very large ones are
    first sampled down to twice DECODE_SIDE, which needs no copy.
    """
    if max(image.size) <= DECODE_SIDE:
        return image
    if image.mode in ("P", "1"):
        return image.resize(_fit(image.size, DECODE_SIDE), Image.Resampling.NEAREST)
    if image.mode in ("RGBA", "LA") and max(image.size) > 2 * DECODE_SIDE:
        image = image.resize(_fit(image.size, 2 * DECODE_SIDE), Image.Resampling.NEAREST)
    return image.resize(_fit(image.size, DECODE_SIDE), Image.Resampling.BOX)


def _fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    width, height = size
    scale = side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in _HIGH_DEPTH:
        image = _to_8_bit(image)
    if image.mode == "RGB" and "transparency" not in image.info:
        return image
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _to_8_bit(image: Image.Image) -> Image.Image:
    """16-bit and float greyscale scaled into 0..255 (a plain convert would clip everything to white)."""
    values = np.asarray(image, dtype=np.float32)  # already shrunk: a small copy
    top = float(values.max(initial=0.0))
    if image.mode.startswith("I;16") or 255 < top <= 65535:
        high = 65535.0
    else:
        high = 255.0 if top <= 255 else top
    return Image.fromarray(np.clip(values * (255.0 / high), 0, 255).astype(np.uint8))
