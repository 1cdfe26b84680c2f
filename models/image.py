"""Loading cover images from untrusted bytes: validate, decode safely, normalise to RGB."""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

MAX_BYTES = 15 * 1024 * 1024
MAX_PIXELS = 40_000_000
# Only formats covers come in; Pillow can open many more (EPS hands data to Ghostscript).
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")  # multi-picture JPEGs (MPO) open as JPEG
MB = 1024 * 1024

# Pillow refuses headers above 2x this outright and warns above it; load_image refuses anything
# above MAX_PIXELS from the header alone, before a single pixel is decoded, so the warning is noise.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
Image.init()  # register every plugin so FORMATS can be named
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
ImageFile.LOAD_TRUNCATED_IMAGES = False


class ImageError(ValueError):
    """The bytes are not a cover we can use; str(error) is a message fit to show a person."""


def load_image(data: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode image bytes (JPEG, PNG, WebP, GIF, …) into an upright RGB image, or raise ImageError."""
    if not data:
        raise ImageError("That file is empty.")
    if len(data) > max_bytes:
        raise ImageError(f"That image is too large ({len(data) / MB:.1f} MB; the limit is {max_bytes / MB:.0f} MB).")
    try:
        image: Image.Image = Image.open(io.BytesIO(data), formats=FORMATS)
        _check_pixels(image, max_pixels)
        image.seek(0)  # GIF / animated WebP: first frame
        image.load()
        image = ImageOps.exif_transpose(image)
        return _to_rgb(image)
    except Image.DecompressionBombError as exc:
        raise ImageError(f"That image has too many pixels (the limit is {max_pixels / 1e6:.0f} megapixels).") from exc
    except UnidentifiedImageError as exc:
        raise ImageError("That doesn't look like an image (I read JPEG, PNG, WebP and GIF).") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        if isinstance(exc, ImageError):
            raise
        raise ImageError("That image is damaged or cut off, so I can't read it.") from exc


def _check_pixels(image: Image.Image, max_pixels: int) -> None:
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageError("That image has no pixels.")
    if width * height > max_pixels:
        raise ImageError(f"That image has too many pixels (the limit is {max_pixels / 1e6:.0f} megapixels).")


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
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
    values = np.asarray(image, dtype=np.float64)
    top = float(values.max(initial=0.0))
    if image.mode.startswith("I;16") or 255 < top <= 65535:
        high = 65535.0
    else:
        high = 255.0 if top <= 255 else top
    return Image.fromarray(np.clip(values / high * 255.0, 0, 255).astype(np.uint8))
