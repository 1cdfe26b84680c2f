import logging

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from models import reader as reader_module
from models.reader import Reader, Reading, TextBox


@pytest.fixture(scope="module")
def reader():
    return Reader(threads=1)


def cover_with(words: list[str], size: int = 300) -> Image.Image:
    image = Image.new("RGB", (size, size), (250, 245, 235))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=size // 8)
    for row, word in enumerate(words):
        draw.text((size // 10, size // 10 + row * size // 4), word, fill=(20, 20, 30), font=font)
    return image


def test_reads_drawn_words(reader):
    reading = reader.read(cover_with(["GREATEST", "HITS"]))
    assert "GREATEST" in reading.text.upper()
    assert "HITS" in reading.text.upper()
    assert reading.text.upper().index("GREATEST") < reading.text.upper().index("HITS")  # top to bottom
    assert all(0.5 <= b.confidence <= 1 for b in reading.boxes)


def test_boxes_are_in_input_pixels(reader):
    reading = reader.read(cover_with(["LIVE"], size=600))
    (box,) = [b for b in reading.boxes if "LIVE" in b.text.upper()]
    xs, ys = zip(*box.box)
    assert 40 <= min(xs) and max(xs) <= 400 and 40 <= min(ys) and max(ys) <= 200


def test_blank_cover_reads_nothing(reader):
    assert reader.read(Image.new("RGB", (300, 300), (128, 30, 200))).text == ""


@pytest.mark.parametrize("size", [(1, 40000), (40000, 1), (8, 8), (3000, 200)])
def test_pathological_shapes_read_nothing_and_log_once(reader, size, caplog):
    image = Image.new("RGB", size, "white")
    reader._warned.clear()
    with caplog.at_level(logging.WARNING, logger="models.reader"):
        assert reader.read(image) == Reading()
        assert reader.read(image) == Reading()
    assert len(caplog.records) == 1


def test_rotated_and_huge_covers_do_not_fail(reader):
    assert isinstance(reader.read(cover_with(["ROCK"]).rotate(90, expand=True)), Reading)
    huge = cover_with(["POP"], size=300).resize((4000, 4000))
    assert "POP" in reader.read(huge).text.upper()


def test_an_ocr_failure_gives_an_empty_reading(reader, monkeypatch, caplog):
    def broken(array):
        raise RuntimeError("onnx exploded")

    monkeypatch.setattr(reader._engine.text_det, "infer", broken)
    reader._warned.clear()
    with caplog.at_level(logging.WARNING, logger="models.reader"):
        assert reader.read(cover_with(["JAZZ"])) == Reading()
    assert "onnx exploded" in caplog.text


def test_only_the_largest_boxes_are_recognised(monkeypatch):
    monkeypatch.setattr(reader_module, "MAX_BOXES", 1)
    small_reader = Reader(threads=1)
    image = Image.new("RGB", (300, 300), "white")
    draw = ImageDraw.Draw(image)
    draw.text((20, 20), "TINY", fill="black", font=ImageFont.load_default(size=16))
    draw.text((20, 150), "HUGE", fill="black", font=ImageFont.load_default(size=70))
    assert small_reader.read(image).text.upper() == "HUGE"


def test_reading_text_joins_boxes():
    box = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
    reading = Reading((TextBox("A", 0.9, box), TextBox("B", 0.8, box)))
    assert reading.text == "A B"
    assert reading.boxes[0].area == pytest.approx(1.0)
    assert Reading().text == ""


def test_freed_ocr_buffers_go_back_after_each_reading_even_a_failed_one(reader, monkeypatch):
    trims = []
    monkeypatch.setattr(reader_module, "release_memory", lambda: trims.append(1))
    assert "JAZZ" in reader.read(cover_with(["JAZZ"])).text.upper()
    assert len(trims) == 1

    def broken(array):
        raise RuntimeError("onnx exploded")

    monkeypatch.setattr(reader._engine.text_det, "infer", broken)
    reader.read(cover_with(["JAZZ"]))
    assert len(trims) == 2


@pytest.mark.parametrize("shape", [(384, 384), (384, 290), (100, 384)])
def test_detector_input_is_what_rapidocr_would_feed_it(reader, shape):
    array = np.random.default_rng(0).integers(0, 256, (*shape, 3), dtype=np.uint8)
    theirs = reader._engine.text_det.get_preprocess(max(shape))(array)
    ours = reader_module._detector_input(array)
    assert ours.shape == theirs.shape and ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_the_recogniser_pads_short_words_only_to_rec_min_width(monkeypatch):
    monkeypatch.setattr(reader_module, "REC_MIN_WIDTH", 160)
    narrow = Reader(threads=1)
    widths = []
    session = narrow._engine.text_rec.session

    def recording(batch):
        widths.append(batch.shape[-1])
        return session(batch)

    monkeypatch.setattr(narrow._engine.text_rec, "session", recording)
    assert "POP" in narrow.read(cover_with(["POP"])).text.upper()
    assert widths == [160]  # RapidOCR's own default pads every crop to 320


def test_the_detector_runs_rapidocrs_model_with_an_arena(reader):
    session = reader._engine.text_det.infer.session
    assert session.get_session_options().enable_cpu_mem_arena
    from rapidocr_onnxruntime import RapidOCR

    theirs = RapidOCR(use_cls=False, print_verbose=False, det_limit_type="max")
    array, _ = reader_module._prepare(cover_with(["GREATEST", "HITS"]))
    ours = reader._detect(array)
    found, _ = theirs.text_det(array)
    assert len(ours) == 2
    np.testing.assert_allclose(ours, np.asarray(found))
