"""Handing freed heap memory back to the system.

glibc keeps memory that big decodes and onnxruntime's per-run buffers freed (the recogniser's
session runs without an arena, so each run's activations are plain mallocs): without a trim, reading
80 covers one after another grew the process by 210 MB when both OCR sessions ran that way; with
the detector's arena, 200 covers peak 52 MB higher without the trim than with it (model card).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable


def release_memory() -> None:
    if _malloc_trim is not None:
        _malloc_trim(0)


def _load_malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc only; elsewhere a no-op
    except (OSError, AttributeError):
        return None


_malloc_trim = _load_malloc_trim()
