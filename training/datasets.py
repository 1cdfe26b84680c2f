"""Labelled cover sets: a labels CSV (`file,genres[,popularity]`) or a folder per genre."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp"}


@dataclass(frozen=True)
class Sample:
    path: Path
    genres: frozenset[str]  # may be empty (e.g. a popularity-only row)
    popularity: float | None = None


def parse_genres(text: str) -> frozenset[str]:
    return frozenset(g.strip() for g in (text or "").split(";") if g.strip())


def read_labels_csv(csv_path: Path, images_dir: Path | None = None) -> list[Sample]:
    """Rows of a labels CSV; `file` is relative to images_dir (default: the CSV's folder)."""
    root = images_dir or csv_path.parent
    samples = []
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "file" not in reader.fieldnames:
            raise ValueError(f"{csv_path}: a labels CSV needs a 'file' column (and 'genres' and/or 'popularity')")
        for row in reader:
            popularity = row.get("popularity")
            samples.append(Sample(
                path=root / row["file"],
                genres=parse_genres(row.get("genres", "")),
                popularity=float(popularity) if popularity not in (None, "") else None,
            ))
    return samples


def read_folder_tree(root: Path) -> list[Sample]:
    """root/GENRE/*.jpg; the same cover (identical bytes) filed under several genres gets all of them."""
    by_content: dict[str, set[str]] = {}
    paths: dict[str, Path] = {}
    for genre_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(genre_dir.rglob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                key = hashlib.sha256(path.read_bytes()).hexdigest()
                by_content.setdefault(key, set()).add(genre_dir.name)
                paths.setdefault(key, path)
    return [Sample(path=paths[key], genres=frozenset(genres)) for key, genres in by_content.items()]


def load_samples(source: Path, images_dir: Path | None = None) -> list[Sample]:
    if source.is_dir():
        labels = source / "labels.csv"
        return read_labels_csv(labels, images_dir) if labels.exists() else read_folder_tree(source)
    return read_labels_csv(source, images_dir)


def genre_names(samples: list[Sample]) -> list[str]:
    return sorted(set().union(*(s.genres for s in samples)))
