"""Model versions on disk, and which one is served. Files only: no database, no network.

    DATA_DIR/models/
        v20261122-101500/      a complete artifact directory (written by models.artifact.save)
        v20261123-101500/
        CURRENT                one line: the served version's name, or "shipped"

`CURRENT` is switched atomically (temp file, fsync, os.replace, fsync of the folder), so a
reader sees the old name or the new one, never half a file. With no `CURRENT` the model shipped
with the code (`models/artifacts/base`) is served. If the version `CURRENT` names is missing or
damaged, `current_dir` logs a WARNING and serves the newest older version that loads (versions
are ordered by the manifest's `created`, then by name), and finally the shipped model.

Version names are `v` + UTC timestamp (`models.artifact.new_version`), made unique with `-2`,
`-3`…; "shipped" is reserved for the shipped model.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from models import artifact as artifacts

log = logging.getLogger(__name__)

CURRENT_FILE = "CURRENT"
SHIPPED = "shipped"
MODELS_FOLDER = "models"
TEMP_GRACE_S = 3600.0  # leftovers of an interrupted save older than this are removed by prune
_GENERATED = re.compile(r"^v(\d{8}-\d{6})(?:-\d+)?$")  # models.artifact.new_version, made unique
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_REQUIRED = (artifacts.MANIFEST, artifacts.GENRE_FILE, artifacts.POPULARITY_FILE, artifacts.TAGS_FILE)


class RegistryError(RuntimeError):
    """A version that does not exist or cannot be served, or nothing to roll back to."""


@dataclass(frozen=True)
class VersionInfo:
    version: str
    path: Path
    created: float | None  # unix seconds, from the manifest's `created`; None when unreadable
    current: bool
    problem: str | None  # why it cannot be served (files and manifest only), None when it looks whole


def registry_root(data_dir: str | os.PathLike[str]) -> Path:
    return Path(data_dir) / MODELS_FOLDER


def valid_name(name: str) -> bool:
    return bool(_NAME.match(name)) and name != SHIPPED and name != CURRENT_FILE


class ModelRegistry:
    def __init__(self, root: str | os.PathLike[str], shipped_dir: Path = artifacts.SHIPPED_DIR):
        self.root = Path(root)
        self.shipped_dir = Path(shipped_dir)

    # -- reading ----------------------------------------------------------------------------------

    def path(self, version: str) -> Path:
        if version == SHIPPED:
            return self.shipped_dir
        if not valid_name(version):
            raise RegistryError(f"not a model version name: {version!r}")
        return self.root / version

    def current_name(self) -> str | None:
        """The name in CURRENT, or None when there is no CURRENT (the shipped model is served)."""
        try:
            text = (self.root / CURRENT_FILE).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("cannot read %s: %s", self.root / CURRENT_FILE, exc)
            return ""
        if text != SHIPPED and not valid_name(text):
            log.warning("%s holds %r, which is not a version name", self.root / CURRENT_FILE, text[:100])
            return ""
        return text

    def versions(self) -> list[VersionInfo]:
        """The versions under root, oldest first."""
        if not self.root.is_dir():
            return []
        current = self.current_name()
        found = []
        for entry in self.root.iterdir():
            if entry.is_dir() and valid_name(entry.name):
                found.append(VersionInfo(entry.name, entry, _created(entry), entry.name == current, _problem(entry)))
        return sorted(found, key=_order)

    def current(self, expected_spec: dict) -> tuple[str, Path, artifacts.Artifact]:
        """(name, directory, loaded artifact) of the model to serve, falling back as the module says.

        Raises ArtifactError only when even the shipped model cannot be loaded.
        """
        name = self.current_name()
        if name is None or name == SHIPPED:
            return SHIPPED, self.shipped_dir, artifacts.load(self.shipped_dir, expected_spec)
        if name == "":
            problem: str | None = "CURRENT is unreadable"
            older = list(reversed(self.versions()))
        else:
            loaded, problem = _try_load(self.root / name, expected_spec)
            if loaded is not None:
                return name, self.root / name, loaded
            older = self._older_than(name)
        log.warning("model version %s cannot be served (%s); falling back to an older version", name or "?", problem)
        for info in older:
            loaded, why = _try_load(info.path, expected_spec)
            if loaded is not None:
                log.warning("serving model version %s instead of %s", info.version, name or "?")
                return info.version, info.path, loaded
            log.warning("model version %s cannot be served either (%s)", info.version, why)
        log.warning("serving the shipped model %s instead of %s", self.shipped_dir, name or "?")
        return SHIPPED, self.shipped_dir, artifacts.load(self.shipped_dir, expected_spec)

    def current_dir(self, expected_spec: dict) -> Path:
        """The served model's directory: CURRENT if it loads, else an older version that does, else shipped."""
        name = self.current_name()
        if name is None or name == SHIPPED:
            return self.shipped_dir
        try:
            return self.current(expected_spec)[1]
        except artifacts.ArtifactError:
            return self.shipped_dir  # the caller's own load reports why

    # -- changing ---------------------------------------------------------------------------------

    def promote(self, version: str, expected_spec: dict | None = None) -> None:
        """Serve `version` from now on (atomic switch of CURRENT).

        Refuses a version that is missing or damaged; with `expected_spec` it must also load.
        """
        if version != SHIPPED:
            path = self.path(version)
            problem = _problem(path) if expected_spec is None else _try_load(path, expected_spec)[1]
            if problem is not None:
                raise RegistryError(f"cannot serve model version {version}: {problem}")
        self.root.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{CURRENT_FILE}-", suffix=".tmp", dir=self.root)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(version + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.root / CURRENT_FILE)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        _fsync_folder(self.root)
        log.info("model version %s is now served", version)

    def rollback(self, version: str | None = None, expected_spec: dict | None = None) -> str:
        """Serve `version`, or (None) the newest servable version older than the current one.

        Older than the oldest version is the shipped model ("shipped"). Returns the version now served.
        """
        if version is not None:
            self.promote(version, expected_spec)
            return version
        name = self.current_name()
        if name is None or name == SHIPPED:
            raise RegistryError("the shipped model is served: there is nothing older to roll back to")
        for info in self._older_than(name) if name else reversed(self.versions()):
            problem = info.problem if expected_spec is None else _try_load(info.path, expected_spec)[1]
            if problem is None:
                self.promote(info.version, expected_spec)
                return info.version
            log.warning("skipping model version %s: %s", info.version, problem)
        self.promote(SHIPPED)
        return SHIPPED

    def prune(self, keep: int) -> list[str]:
        """Delete all but the `keep` newest versions; never the current one (nor the shipped model).

        Also removes leftovers of interrupted writes older than TEMP_GRACE_S. Returns the names deleted.
        """
        if keep < 0:
            raise ValueError("keep must be >= 0")
        versions = self.versions()
        current = self.current_name()
        kept = {v.version for v in versions[max(0, len(versions) - keep):]} if keep else set()
        deleted = []
        for info in versions:
            if info.version in kept or info.version == current:
                continue
            if info.path.resolve() == self.shipped_dir.resolve():
                continue
            shutil.rmtree(info.path, ignore_errors=True)
            deleted.append(info.version)
            log.info("pruned model version %s", info.version)
        self._remove_leftovers()
        return deleted

    def new_name(self, taken: set[str] | frozenset[str] = frozenset()) -> str:
        """A fresh version name: v + UTC timestamp, with -2, -3… if it is on disk or in `taken`."""
        base = artifacts.new_version()
        name, n = base, 1
        while name in taken or (self.root / name).exists():
            n += 1
            name = f"{base}-{n}"
        return name

    # -- helpers ----------------------------------------------------------------------------------

    def _older_than(self, name: str) -> list[VersionInfo]:
        """Versions created before `name`, newest first. When `name` is missing or its manifest is
        unreadable, it is placed by its name, since generated names sort by time."""
        versions = self.versions()
        position = next((i for i, v in enumerate(versions) if v.version == name and v.created is not None), None)
        older = versions[:position] if position is not None else [v for v in versions if v.version < name]
        return list(reversed(older))

    def _remove_leftovers(self) -> None:
        if not self.root.is_dir():
            return
        now = time.time()
        for entry in self.root.iterdir():
            if not entry.name.startswith("."):
                continue
            try:
                if now - entry.stat().st_mtime < TEMP_GRACE_S:
                    continue
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
            except OSError:
                continue


def resolve_model_dir(
    model_dir_override: str | os.PathLike[str] | None, data_dir: str | os.PathLike[str], expected_spec: dict
) -> Path:
    """The model to serve: MODEL_DIR when set (used as is), else the registry's current, else shipped."""
    if model_dir_override:
        return Path(model_dir_override)
    return ModelRegistry(registry_root(data_dir)).current_dir(expected_spec)


def _problem(path: Path) -> str | None:
    """Cheap check without the feature spec: folder, files and a readable manifest."""
    if not path.is_dir():
        return f"{path} does not exist"
    missing = [name for name in _REQUIRED if not (path / name).is_file()]
    if missing:
        return f"missing {', '.join(missing)}"
    try:
        manifest = artifacts.read_manifest(path)
    except artifacts.ArtifactError as exc:
        return str(exc)
    if not isinstance(manifest, dict) or "genres" not in manifest or "feature_spec" not in manifest:
        return f"{path / artifacts.MANIFEST} lacks genres or feature_spec"
    return None


def _try_load(path: Path, expected_spec: dict) -> tuple[artifacts.Artifact | None, str | None]:
    problem = _problem(path)
    if problem is not None:
        return None, problem
    try:
        return artifacts.load(path, expected_spec), None
    except Exception as exc:  # a damaged pickle raises almost anything; all mean "cannot serve"
        return None, f"{type(exc).__name__}: {exc}"


def _created(path: Path) -> float | None:
    try:
        return datetime.fromisoformat(artifacts.read_manifest(path)["created"]).timestamp()
    except (artifacts.ArtifactError, KeyError, TypeError, ValueError):
        return None


def _order(info: VersionInfo) -> tuple[float, str]:
    """Creation order: the manifest's time, else the time in a generated name, else the folder's mtime."""
    if info.created is not None:
        return info.created, info.version
    match = _GENERATED.match(info.version)
    if match:
        return datetime.strptime(match[1], "%Y%m%d-%H%M%S").replace(tzinfo=UTC).timestamp(), info.version
    try:
        return info.path.stat().st_mtime, info.version
    except OSError:
        return 0.0, info.version


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
