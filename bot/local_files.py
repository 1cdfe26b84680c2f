"""Reading an image file named on the command line or typed into the console, safely.

A path comes from a person, so it may be quoted, backslash-escaped, a file:// URL, or name
something that is not a file at all (a folder, a FIFO, /dev/zero). Only regular files are read,
never more than the size limit allows, and a FIFO never blocks the reader.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from urllib.parse import unquote, urlsplit

from models.image import describe_size

_QUOTES = ("'", '"')
_ESCAPED = re.compile(r"\\(.)")
_NOT_REGULAR = "That's not a regular file (a device, a pipe or a socket); I only read image files."
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".jfif", ".png", ".webp", ".gif", ".bmp")


class LocalFileError(Exception):
    """The path cannot be read as an image file; str(error) is a message fit to show a person."""


def parse_path(text: str) -> Path:
    """The file a person meant: quotes and shell backslash escapes undone, file:// URLs and ~ expanded."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in _QUOTES:
        text = text[1:-1]
    elif "\\" in text and os.sep == "/":
        text = _ESCAPED.sub(r"\1", text)  # what a terminal's drag and drop types: My\ Cover.jpg
    if text.lower().startswith("file://"):
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise LocalFileError(f"I can only read files on this machine, not on {parts.netloc}.")
        text = unquote(parts.path)
    try:
        return Path(text).expanduser()
    except RuntimeError:  # ~name for a user that does not exist
        user = text.split("/", 1)[0]
        raise LocalFileError(f"There's no user called {user[1:]!r} on this machine.") from None


def looks_like_path(text: str) -> bool:
    """Whether text was probably meant as a file path (so "no such file" beats "I don't understand")."""
    text = text.strip().strip("".join(_QUOTES))
    return (
        "/" in text
        or text.startswith(("~", "."))
        or text.lower().startswith("file:")
        or text.lower().endswith(_IMAGE_SUFFIXES)
    )


def read_image_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file no larger than max_bytes, or LocalFileError saying what is wrong.

    Blocking: call it from a worker thread when an event loop is running.
    """
    try:
        info = os.stat(path)
        _check_regular(info.st_mode)
        _check_size(info.st_size, max_bytes)
        # O_NONBLOCK: should a FIFO replace the file after the stat, opening it still returns at once.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
        with os.fdopen(fd, "rb") as file:
            _check_regular(os.fstat(file.fileno()).st_mode)
            data = file.read(max_bytes + 1)  # /proc and friends claim size 0: never trust st_size alone
    except FileNotFoundError:
        raise LocalFileError("There's no such file.") from None
    except PermissionError:
        raise LocalFileError("I'm not allowed to read that file.") from None
    except BlockingIOError:
        raise LocalFileError(_NOT_REGULAR) from None
    except OSError as exc:
        raise LocalFileError(f"I couldn't read that file ({exc.strerror or exc}).") from None
    if data is None:  # a non-blocking read with nothing there
        raise LocalFileError(_NOT_REGULAR)
    _check_size(len(data), max_bytes)
    return data


def _check_regular(mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise LocalFileError("That's a folder; give me an image file inside it.")
    if not stat.S_ISREG(mode):
        raise LocalFileError(_NOT_REGULAR)


def _check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise LocalFileError(f"That image is bigger than {describe_size(max_bytes)}.")
