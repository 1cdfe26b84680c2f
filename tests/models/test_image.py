import io
import math
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from models.image import DECODE_SIDE, MAX_PIXELS, ImageError, describe_size, load_image


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def gradient(mode: str = "RGB", size=(64, 48)) -> Image.Image:
    x = np.linspace(0, 255, size[0], dtype=np.uint8)
    rgb = np.stack([np.tile(x, (size[1], 1))] * 3, axis=-1)
    rgb[..., 1] = 30
    return Image.fromarray(rgb).convert(mode)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP"])
def test_common_formats_load_as_rgb(fmt):
    image = load_image(encode(gradient(), fmt))
    assert image.mode == "RGB"
    assert image.size == (64, 48)


def test_png_with_alpha_is_flattened_on_white():
    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    image = load_image(encode(rgba, "PNG"))
    assert image.mode == "RGB"
    assert image.getpixel((5, 5)) == (255, 255, 255)


@pytest.mark.parametrize("mode", ["L", "CMYK", "P", "I;16"])
def test_other_modes_normalise_to_rgb(mode):
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    image = load_image(encode(gradient().convert(mode), fmt))
    assert image.mode == "RGB"


def test_gif_takes_first_frame():
    frames = [Image.new("RGB", (8, 8), colour) for colour in [(255, 0, 0), (0, 0, 255)]]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    image = load_image(buffer.getvalue())
    r, g, b = image.getpixel((4, 4))
    assert r > 200 and b < 50


def test_exif_rotation_is_applied():
    image = gradient(size=(40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when shown
    loaded = load_image(encode(image, "JPEG", exif=exif.tobytes()))
    assert loaded.size == (20, 40)


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (b"this is not an image at all", "doesn't look like an image"),
    (b"<html><body>hello</body></html>", "doesn't look like an image"),
])
def test_rejects_empty_and_non_images(data, words):
    with pytest.raises(ImageError, match=words):
        load_image(data)


def test_rejects_truncated_file():
    data = encode(gradient(size=(300, 300)), "JPEG")
    with pytest.raises(ImageError, match="damaged or cut off"):
        load_image(data[: len(data) // 2])


def test_rejects_more_than_15_mb():
    with pytest.raises(ImageError, match="bigger than 15 MB"):
        load_image(b"\xff\xd8" + b"\0" * (15 * 1024 * 1024))


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a huge size: a decompression bomb's header, never decoded."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [6400, 20000, 100000])
def test_rejects_decompression_bombs_before_decoding(side):
    assert side * side > MAX_PIXELS
    with pytest.raises(ImageError, match="too many pixels"):
        load_image(_png_header_only(side, side))


def test_accepts_just_under_the_pixel_limit_header():
    # 6000×6000 = 36 MP is allowed by the size check (it then fails only because the data is fake).
    with pytest.raises(ImageError, match="damaged or cut off"):
        load_image(_png_header_only(6000, 6000))


def test_image_error_is_a_value_error_with_a_human_message():
    with pytest.raises(ValueError) as info:
        load_image(b"nope")
    assert "Traceback" not in str(info.value) and str(info.value).endswith(".")


def test_16_bit_greyscale_keeps_its_tones():
    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (8, 1))
    image = load_image(encode(Image.fromarray(ramp), "PNG"))
    values = np.asarray(image)[..., 0]
    assert values.min() == 0 and values.max() == 255
    assert 100 < values[0, 32] < 160  # mid-grey stays mid-grey, not clipped to white


def test_transparent_colour_in_an_rgb_png_becomes_white():
    rgb = Image.new("RGB", (4, 4), (0, 0, 0))
    image = load_image(encode(rgb, "PNG", transparency=(0, 0, 0)))
    assert image.getpixel((1, 1)) == (255, 255, 255)


@pytest.mark.parametrize("fmt", ["TIFF", "PPM", "TGA"])
def test_formats_covers_do_not_come_in_are_refused(fmt):
    with pytest.raises(ImageError, match="doesn't look like an image"):
        load_image(encode(gradient(), fmt))


def test_size_message_names_the_limit_it_was_given():
    with pytest.raises(ImageError, match=r"^That image is bigger than 1000 bytes\.$"):
        load_image(b"\xff\xd8" + b"\0" * 1000, max_bytes=1000)


@pytest.mark.parametrize(
    ("n", "words"),
    [(15 * 1024 * 1024, "15 MB"), (1536 * 1024, "1.5 MB"), (1024, "1 KB"), (200 * 1024, "200 KB"), (1000, "1000 bytes")],
)
def test_describe_size(n, words):
    assert describe_size(n) == words


def test_large_pictures_are_shrunk_keeping_their_shape():
    image = load_image(encode(gradient(size=(3000, 1500)), "PNG"))
    assert image.size == (DECODE_SIDE, DECODE_SIDE // 2) and image.mode == "RGB"


def test_large_jpegs_are_decoded_small():
    image = load_image(encode(gradient(size=(4096, 2048)), "JPEG"))
    assert image.size == (DECODE_SIDE, DECODE_SIDE // 2)


def test_large_16_bit_greyscale_is_shrunk_before_conversion():
    ramp = np.tile(np.linspace(0, 65535, 2048).astype(np.uint16), (1024, 1))
    image = load_image(encode(Image.fromarray(ramp), "PNG"))
    assert image.size == (DECODE_SIDE, DECODE_SIDE // 2)
    values = np.asarray(image)[..., 0]
    assert values[0, 0] < 5 and values[0, -1] > 250 and 100 < values[0, DECODE_SIDE // 2] < 160


def test_exif_rotation_is_applied_to_a_shrunk_picture():
    wide = gradient(size=(2048, 1024))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    image = load_image(encode(wide, "JPEG", exif=exif.tobytes()))
    assert image.size == (DECODE_SIDE // 2, DECODE_SIDE)


def _png_with_text(n_bytes: int) -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "x" * n_bytes, zip=True)  # compresses to almost nothing
    return encode(gradient(), "PNG", pnginfo=info)


def test_png_with_huge_text_is_called_too_much_metadata_not_damaged():
    with pytest.raises(ImageError, match="too much metadata"):
        load_image(_png_with_text(80 * 1024 * 1024))


def _jpeg_with_broken_exif() -> bytes:
    """EXIF whose one tag claims 5000 bytes past the end of the block: Pillow warns and skips it."""
    ifd = b"II*\x00" + struct.pack("<IH", 8, 1) + struct.pack("<HHII", 0x010E, 2, 5000, 26) + struct.pack("<I", 0)
    return encode(gradient(), "JPEG", exif=b"Exif\x00\x00" + ifd)


def test_pillow_warnings_never_reach_the_user(recwarn):
    assert load_image(_jpeg_with_broken_exif()).size == (64, 48)
    with pytest.raises(ImageError, match="too many pixels"):
        load_image(_png_header_only(7000, 7000))  # between the limit and twice it: Pillow only warns
    assert [str(w.message) for w in recwarn] == []


def test_large_transparent_pictures_are_shrunk_and_flattened():
    rgba = Image.new("RGBA", (3000, 3000), (0, 0, 0, 0))
    image = load_image(encode(rgba, "PNG"))
    assert image.size == (DECODE_SIDE, DECODE_SIDE) and image.getpixel((10, 10)) == (255, 255, 255)


def test_webp_has_its_own_lower_pixel_cap():
    from models.image import MAX_WEBP_PIXELS

    side = math.isqrt(MAX_WEBP_PIXELS) + 1
    with pytest.raises(ImageError, match="too many pixels"):
        load_image(encode(Image.new("RGB", (side, side)), "WEBP", lossless=True))
