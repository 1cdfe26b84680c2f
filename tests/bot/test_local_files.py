"""Reading image files named by people: only regular files, never more than the limit, never blocking."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.local_files import LocalFileError, looks_like_path, parse_path, read_image_file

LIMIT = 1000


def test_reads_a_regular_file(tmp_path: Path) -> None:
    file = tmp_path / "cover.jpg"
    file.write_bytes(b"\xff\xd8" + b"x" * 10)
    assert read_image_file(file, LIMIT) == b"\xff\xd8" + b"x" * 10


def test_refuses_a_file_over_the_limit_before_reading_it(tmp_path: Path) -> None:
    file = tmp_path / "big.png"
    file.write_bytes(b"x" * (LIMIT + 1))
    with pytest.raises(LocalFileError, match=r"^That image is bigger than 1000 bytes\.$"):
        read_image_file(file, LIMIT)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_a_file_that_claims_no_size_is_still_read_no_further_than_the_limit() -> None:
    assert os.stat("/proc/self/status").st_size == 0  # the kind of file that passes is_file()
    with pytest.raises(LocalFileError, match="bigger than 100 bytes"):
        read_image_file(Path("/proc/self/status"), 100)


def test_refuses_a_folder(tmp_path: Path) -> None:
    with pytest.raises(LocalFileError, match="That's a folder"):
        read_image_file(tmp_path, LIMIT)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_refuses_devices() -> None:
    with pytest.raises(LocalFileError, match="not a regular file"):
        read_image_file(Path("/dev/zero"), LIMIT)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_without_a_writer_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "cover.jpg"
    os.mkfifo(fifo)
    with pytest.raises(LocalFileError, match="not a regular file"):
        read_image_file(fifo, LIMIT)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LocalFileError, match="^There's no such file.$"):
        read_image_file(tmp_path / "nope.jpg", LIMIT)


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("'/covers/My Cover.jpg'", "/covers/My Cover.jpg"),
        ('"/covers/My Cover.jpg"', "/covers/My Cover.jpg"),
        (r"/covers/My\ Cover\ \(1\).jpg", "/covers/My Cover (1).jpg"),
        ("file:///covers/My%20Cover.jpg", "/covers/My Cover.jpg"),
        ("FILE://localhost/covers/a.png", "/covers/a.png"),
        ("  /covers/a.png  ", "/covers/a.png"),
    ],
)
def test_parse_path_undoes_quoting_escapes_and_file_urls(typed: str, meant: str) -> None:
    assert parse_path(typed) == Path(meant)


def test_parse_path_refuses_a_file_url_on_another_machine() -> None:
    with pytest.raises(LocalFileError, match="on this machine, not on server"):
        parse_path("file://server/covers/a.png")


def test_parse_path_names_an_unknown_user() -> None:
    with pytest.raises(LocalFileError, match="There's no user called 'nosuchuser_sleeve'"):
        parse_path("~nosuchuser_sleeve/x.jpg")


@pytest.mark.parametrize("text", ["./a", "~/x", "covers/a", "A.JPG", "'cover.png'", "file:///a"])
def test_looks_like_path(text: str) -> None:
    assert looks_like_path(text)


@pytest.mark.parametrize("text", ["what is this", "rock", "hello there"])
def test_plain_words_do_not_look_like_paths(text: str) -> None:
    assert not looks_like_path(text)
