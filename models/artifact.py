"""Versioned model artifacts: a directory with manifest.json, the genre and popularity models,
and the tag table. Loading checks the feature spec against the running code."""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import joblib

from models.distinctive import DistinctiveTag
from models.genre import GenreModel
from models.popularity import PopularityModel

MANIFEST = "manifest.json"
GENRE_FILE = "genre.joblib"
POPULARITY_FILE = "popularity.npz"
TAGS_FILE = "tags.json"
SHIPPED_DIR = Path(__file__).resolve().parent / "artifacts" / "base"
BASE_FEATURES = Path(__file__).resolve().parent / "artifacts" / "base_features.npz"

log = logging.getLogger(__name__)
_warned_unknown_sklearn: set[Path] = set()


class ArtifactError(RuntimeError):
    """An artifact directory is missing, damaged, or made for other code."""


@dataclass
class Artifact:
    manifest: dict
    genre: GenreModel
    popularity: PopularityModel
    vocabulary: list[str]
    distinctive: dict[str, list[DistinctiveTag]]

    @property
    def version(self) -> str:
        return self.manifest["version"]

    @property
    def genres(self) -> list[str]:
        return self.manifest["genres"]


def library_versions() -> dict[str, str]:
    names = ["numpy", "scikit-learn", "scikit-image", "onnxruntime", "pillow"]
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "missing"
    return versions


def new_version(prefix: str = "v") -> str:
    return prefix + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


def save(artifact: Artifact, directory: Path) -> Path:
    """Write the artifact into directory atomically: a temp dir beside it, then one rename."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    try:
        temp.chmod(0o755)  # mkdtemp makes it private; a model directory is ordinary readable data
        joblib.dump(artifact.genre, temp / GENRE_FILE, compress=3)
        artifact.popularity.save(temp / POPULARITY_FILE)
        (temp / TAGS_FILE).write_text(json.dumps(
            {"vocabulary": artifact.vocabulary,
             "distinctive": {g: [t.to_dict() for t in tags] for g, tags in artifact.distinctive.items()}},
            indent=1, ensure_ascii=False))
        manifest = {**artifact.manifest, "libraries": library_versions()}
        manifest.setdefault("created", datetime.now(UTC).isoformat(timespec="seconds"))
        (temp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
        _fsync_files(temp)
        if directory.exists():  # keep the old version until the new one is in place
            old = directory.with_name(f".{directory.name}-old-{os.getpid()}")
            os.replace(directory, old)
            os.replace(temp, directory)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(temp, directory)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return directory


def read_manifest(directory: Path) -> dict:
    path = Path(directory) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ArtifactError(f"{directory} is not a Sleeve model: {MANIFEST} is missing") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path} is damaged: {exc}") from exc


def read_distinctive(directory: Path) -> dict[str, list[DistinctiveTag]]:
    """Just the distinctive tags of an artifact (no models loaded): for listings."""
    path = Path(directory) / TAGS_FILE
    try:
        return _distinctive(json.loads(path.read_text(encoding="utf-8"))["distinctive"])
    except FileNotFoundError as exc:
        raise ArtifactError(f"{directory} is not a Sleeve model: {TAGS_FILE} is missing") from exc
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path} is damaged: {exc}") from exc


def _distinctive(table: dict) -> dict[str, list[DistinctiveTag]]:
    return {genre: [DistinctiveTag.from_json(t) for t in items] for genre, items in table.items()}


def load(directory: Path, expected_spec: dict) -> Artifact:
    directory = Path(directory)
    manifest = read_manifest(directory)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("genres"), list) or "version" not in manifest:
        raise ArtifactError(f"model {directory} is damaged: {MANIFEST} lacks a version or genres")
    check_spec(manifest.get("feature_spec", {}), expected_spec, directory)
    check_sklearn(manifest, directory)
    try:
        genre = joblib.load(directory / GENRE_FILE)
        popularity = PopularityModel.load(directory / POPULARITY_FILE)
        tags = json.loads((directory / TAGS_FILE).read_text(encoding="utf-8"))
        vocabulary = tags["vocabulary"]
        distinctive = _distinctive(tags["distinctive"])
    except Exception as exc:  # unpickling damaged bytes can raise almost anything
        raise ArtifactError(f"model {directory} is damaged or incomplete: {type(exc).__name__}: {exc}") from exc
    if not isinstance(genre, GenreModel) or genre.genres != manifest["genres"]:
        raise ArtifactError(f"model {directory}: {GENRE_FILE} is not a genre model for the manifest's genres")
    return Artifact(manifest, genre, popularity, vocabulary, distinctive)


def check_spec(found: dict, expected: dict, directory: Path) -> None:
    differences = sorted(k for k in set(found) | set(expected) if found.get(k) != expected.get(k))
    if differences:
        details = "; ".join(f"{k}: model has {found.get(k)!r}, code makes {expected.get(k)!r}" for k in differences)
        raise ArtifactError(
            f"model {directory} was trained on different features than this code computes ({details}). "
            "Retrain it with `python -m training train`, or use a model made for this version of Sleeve."
        )


def check_sklearn(manifest: dict, directory: Path, installed: str | None = None) -> None:
    """Refuse a model pickled by another minor version of scikit-learn: its estimators may unpickle
    into something that predicts differently, or not at all. A model that does not say which
    version made it is loaded, with one warning."""
    installed = installed or metadata.version("scikit-learn")
    libraries = manifest.get("libraries")
    recorded = libraries.get("scikit-learn") if isinstance(libraries, dict) else None
    if not isinstance(recorded, str) or _minor(recorded) is None:
        if directory not in _warned_unknown_sklearn:
            _warned_unknown_sklearn.add(directory)
            log.warning("model %s does not record its scikit-learn version; loading it anyway", directory)
        return
    if _minor(recorded) != _minor(installed):
        wanted = ".".join(map(str, _minor(recorded) or ()))
        raise ArtifactError(
            f"model {directory} was saved with scikit-learn {recorded}, but {installed} is installed, and "
            "pickled models are only safe within one minor version. Install the matching version "
            f"(pip install 'scikit-learn=={wanted}.*'), or retrain with `python -m training train`."
        )


def _minor(version: str) -> tuple[int, int] | None:
    match = re.match(r"(\d+)\.(\d+)", version)
    return (int(match[1]), int(match[2])) if match else None


def _fsync_files(directory: Path) -> None:
    for path in directory.iterdir():
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
