"""The text read from each cover of a labelled set, cached per image so a set is read only once.

The cache is one append-only JSON-lines file per reader settings version under the cache folder
(`.cache/ocr/<version>.jsonl`), keyed by the sha256 of the image bytes: a copy of `.cache/` lets
another checkout train without a reading pass, and an interrupted pass resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from models.image import ImageError, load_image
from models.reader import SETTINGS_VERSION, Reader, Reading, TextBox

DEFAULT_CACHE = Path(".cache")


def cache_file(cache_dir: Path) -> Path:
    return Path(cache_dir) / "ocr" / (re.sub(r"[^A-Za-z0-9.-]+", "_", SETTINGS_VERSION) + ".jsonl")


def load_cache(path: Path) -> dict[str, Reading]:
    readings: dict[str, Reading] = {}
    if not path.exists():
        return readings
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by an interrupted pass
                continue
            readings[row["sha256"]] = Reading(
                tuple(TextBox(t, c, tuple(map(tuple, b))) for t, c, b in row["boxes"]), row.get("area", 1.0))
    return readings


def read_texts(paths: Sequence[Path], cache_dir: Path | None = DEFAULT_CACHE, reader: Reader | None = None,
               progress: bool = True) -> list[Reading]:
    """One Reading per path (empty for a file that cannot be read as an image)."""
    cache_path = cache_file(cache_dir) if cache_dir is not None else None
    cached = load_cache(cache_path) if cache_path is not None else {}
    out: list[Reading] = []
    handle = None
    try:
        for path in tqdm(paths, desc="reading text", unit="cover", disable=not progress):
            try:
                data = Path(path).read_bytes()
            except OSError:
                out.append(Reading())
                continue
            key = hashlib.sha256(data).hexdigest()
            if key not in cached:
                try:
                    image = load_image(data)
                except ImageError:
                    out.append(Reading())
                    continue
                reader = reader or Reader(threads=1)
                cached[key] = reader.read(image)
                if cache_path is not None:
                    if handle is None:
                        cache_path.parent.mkdir(parents=True, exist_ok=True)
                        handle = cache_path.open("a", encoding="utf-8")
                    handle.write(json.dumps(_row(key, cached[key]), ensure_ascii=False) + "\n")
                    handle.flush()
            out.append(cached[key])
    finally:
        if handle is not None:
            handle.close()
    return out


def _row(key: str, reading: Reading) -> dict:
    return {"sha256": key, "area": reading.image_area,
            "boxes": [[b.text, round(b.confidence, 4), [[round(x, 1), round(y, 1)] for x, y in b.box]]
                      for b in reading.boxes]}
