"""Train a complete model artifact from a labelled cover set."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from models import artifact as artifacts
from models import popularity as pop
from models.distinctive import DistinctiveTag, distinctive_tags, genre_totals
from models.embedder import Embedder
from models.features import FeatureExtractor
from models.genre import GenreModel, Recipe
from models.reader import SETTINGS_VERSION, reader_version
from models.tagger import MIN_SCORE
from models.text_genre import has_text, text_trust
from models.text_tags import text_scores
from training.datasets import genre_names, load_samples
from training.extract import FeatureTable, extract
from training.metrics import genre_metrics
from training.reading import read_texts
from training.splits import SEED, expand_multilabel, primary_genre, validation_mask
from training.text_tuning import FOLDS, tune_text

log = logging.getLogger(__name__)
DEFAULT_TOP_N = 25
CACHE_DIR = Path(".cache")


@dataclass
class GenreData:
    """Everything retraining needs about the base set, without the images."""

    vectors: np.ndarray  # float32 (n, vector_dim)
    label_sets: list[frozenset[str]]
    validation: np.ndarray  # bool mask
    genres: list[str]
    files: list[str]
    tag_matrix: np.ndarray  # (n, len(vocabulary))
    vocabulary: list[str]
    texts: list[str] = field(default_factory=list)  # what each cover reads; empty: saved before reading
    sources: list[str] = field(default_factory=list)  # which labelled set each cover came from

    def __post_init__(self) -> None:
        self.texts = list(self.texts) or [""] * len(self.label_sets)
        self.sources = list(self.sources) or [""] * len(self.label_sets)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path, vectors=self.vectors.astype(np.float16), labels=np.array([";".join(sorted(s)) for s in self.label_sets]),
            validation=self.validation, genres=np.array(self.genres), files=np.array(self.files),
            tags=self.tag_matrix.astype(np.float16), vocabulary=np.array(self.vocabulary),
            texts=np.array(self.texts, dtype=str), sources=np.array(self.sources, dtype=str),
        )

    @classmethod
    def load(cls, path: Path) -> GenreData:
        with np.load(path) as data:
            return cls(
                vectors=data["vectors"].astype(np.float32),
                label_sets=[frozenset(s.split(";")) for s in data["labels"].tolist()],
                validation=data["validation"].astype(bool), genres=data["genres"].tolist(),
                files=data["files"].tolist(), tag_matrix=data["tags"].astype(np.float32),
                vocabulary=data["vocabulary"].tolist(),
                texts=data["texts"].tolist() if "texts" in data.files else [],
                sources=data["sources"].tolist() if "sources" in data.files else [],
            )

    def rows_from(self, source: str) -> np.ndarray:
        return np.array([i for i, s in enumerate(self.sources) if s == source], dtype=int)

    def texts_of(self, rows: np.ndarray) -> list[str]:
        return [self.texts[i] for i in rows]

    @property
    def train_rows(self) -> np.ndarray:
        return np.where(~self.validation)[0]

    @property
    def validation_rows(self) -> np.ndarray:
        return np.where(self.validation)[0]


MIN_COVERS_PER_GENRE = 5  # a stratified 20 % split needs a few covers of each primary genre


def check_trainable(label_sets: list[frozenset[str]], source: Path) -> None:
    """Clear errors for sets too small to split and train on, before any model code sees them."""
    primaries = Counter(primary_genre(labels) for labels in label_sets)
    if len(primaries) < 2:
        raise ValueError(f"{source}: need covers of at least two genres, found {sorted(primaries) or 'none'}")
    scarce = sorted(g for g, n in primaries.items() if n < MIN_COVERS_PER_GENRE)
    if scarce:
        raise ValueError(f"{source}: need at least {MIN_COVERS_PER_GENRE} covers per genre; too few for {', '.join(scarce)}")


def genre_data(table: FeatureTable, root: Path, texts: list[str] | None = None, source: str = "") -> GenreData:
    """The set's labelled covers with its own seeded, stratified validation split."""
    keep = [i for i, s in enumerate(table.samples) if s.genres]
    samples = [table.samples[i] for i in keep]
    label_sets = [s.genres for s in samples]
    check_trainable(label_sets, root)
    vocabulary = sorted(set().union(*(table.tag_scores[i] for i in keep)))
    tags = table.tag_matrix(vocabulary)[keep]
    files = [_relative(s.path, root) for s in samples]
    read = [texts[i] for i in keep] if texts is not None else []
    return GenreData(table.vectors[keep], label_sets, validation_mask(label_sets), genre_names(samples), files, tags,
                     vocabulary, read, [source] * len(keep))


def combine(parts: list[GenreData]) -> GenreData:
    """Several sets as one; each keeps its own validation split."""
    if len(parts) == 1:
        return parts[0]
    genres = sorted(set().union(*(p.genres for p in parts)))
    vocabulary = sorted(set().union(*(p.vocabulary for p in parts)))
    tags = np.zeros((sum(len(p.files) for p in parts), len(vocabulary)), dtype=np.float32)
    start = 0
    for p in parts:
        columns = [vocabulary.index(t) for t in p.vocabulary]
        tags[start:start + len(p.files), columns] = p.tag_matrix
        start += len(p.files)
    return GenreData(
        np.concatenate([p.vectors for p in parts]), [s for p in parts for s in p.label_sets],
        np.concatenate([p.validation for p in parts]), genres, [f for p in parts for f in p.files], tags, vocabulary,
        [t for p in parts for t in p.texts], [s for p in parts for s in p.sources])


def fit_genre(data: GenreData, recipe: Recipe, rows: np.ndarray | None = None,
              extra: tuple[np.ndarray, list[frozenset[str]]] | None = None,
              extra_texts: list[str] | None = None, new_genres: Sequence[str] = ()) -> GenreModel:
    """Fit on data's training rows (or `rows`), plus optional extra (vectors, label sets) rows and their
    texts; `new_genres` are classes beyond data's, learnt from the extra rows only (genres from votes)."""
    genres = [*data.genres, *new_genres]
    rows = data.train_rows if rows is None else rows
    index, targets = expand_multilabel(rows, [data.label_sets[i] for i in rows], genres)  # one per (cover, genre)
    vectors, texts = data.vectors[index], [data.texts[i] for i in index]
    support = _text_support(targets, texts, len(genres))
    if extra is not None and len(extra[0]):
        more, more_y = expand_multilabel(np.arange(len(extra[0])), extra[1], genres)
        keep = _balance_new(more_y, len(data.genres), np.bincount(targets, minlength=len(data.genres)))
        more_texts = extra_texts or [""] * len(extra[0])
        vectors, targets = np.concatenate([vectors, extra[0][more[keep]]]), np.concatenate([targets, more_y[keep]])
        texts += [more_texts[i] for i in more[keep]]
        support += _text_support(more_y, [more_texts[i] for i in more], len(genres))
    trust = text_trust(support, int(support[:len(data.genres)].min()))
    return GenreModel.fit(vectors, targets, genres, recipe, seed=SEED, texts=texts, trust=trust)


def _text_support(targets: np.ndarray, texts: list[str], n_genres: int) -> np.ndarray:
    """Per genre, how many of these (cover, genre) rows have text: before any repetition."""
    has = np.array([has_text(t) for t in texts], dtype=bool)
    return np.bincount(targets[has], minlength=n_genres) if len(targets) else np.zeros(n_genres, dtype=int)


def _balance_new(targets: np.ndarray, n_base: int, base_counts: np.ndarray) -> np.ndarray:
    """Rows of the extra (voted) rows to train on. A genre learnt from a few dozen votes next to base
    genres of hundreds of covers is almost never the argmax. Class-balanced weighting (scikit-learn's
    class_weight="balanced" rule, each class weighing what an average class weighs) for the new genres
    only: each one's votes are repeated until it has as many rows as the mean base genre. The base
    genres keep their weights, so the shipped model's balance between them is unchanged."""
    rows = [np.arange(len(targets))]
    if not len(targets) or targets.max() < n_base:
        return rows[0]
    present = base_counts[base_counts > 0]
    mean = float(present.mean()) if len(present) else 0.0
    for genre in range(n_base, int(targets.max()) + 1):
        own = np.flatnonzero(targets == genre)
        if len(own):
            rows += [own] * (max(1, round(mean / len(own))) - 1)
    return np.concatenate(rows)


def evaluate_genre(model: GenreModel, vectors: np.ndarray, label_sets: list[frozenset[str]],
                   texts: list[str] | None = None) -> dict:
    metrics = genre_metrics(model.predict_proba(vectors, texts), label_sets, model.genres)
    if texts is not None and model.reads_text:
        has = np.array([has_text(t) for t in texts], dtype=bool)
        for name, rows in (("with_text", has), ("without_text", ~has)):
            if rows.any():
                part = genre_metrics(model.predict_proba(vectors[rows], [t for t, h in zip(texts, rows, strict=True) if h]),
                                     [s for s, h in zip(label_sets, rows, strict=True) if h], model.genres)
                metrics[name] = {k: part[k] for k in ("n", "top1", "top2", "ece")}
    return metrics


def distinctive_from(data: GenreData, top_n: int, rows: np.ndarray | None = None) -> dict[str, list[DistinctiveTag]]:
    rows = data.train_rows if rows is None else rows
    return distinctive_of(data.tag_matrix[rows], [data.label_sets[i] for i in rows], data.vocabulary, data.genres, top_n)


def distinctive_of(scores: np.ndarray, label_sets: list[frozenset[str]], vocabulary: list[str], genres: list[str],
                   top_n: int) -> dict[str, list[DistinctiveTag]]:
    """Distinctive tags of a (covers x vocabulary) score table, with lift and support."""
    totals, counts = genre_totals(scores, label_sets, genres)
    carriers, _ = genre_totals((scores >= MIN_SCORE).astype(np.float32), label_sets, genres)
    return distinctive_tags(totals, counts, vocabulary, genres, top_n=top_n, carriers=carriers)


def fit_popularity(table: FeatureTable) -> tuple[pop.PopularityModel, dict]:
    rows = np.array([i for i, s in enumerate(table.samples) if s.popularity is not None])
    values = np.array([table.samples[i].popularity for i in rows], dtype=np.float64)
    rng = np.random.default_rng(SEED)
    held_out = rng.random(len(rows)) < 0.2
    model = pop.fit(table.vectors[rows[~held_out]], values[~held_out], seed=SEED)
    metrics = pop.calibrate(model, table.vectors[rows[held_out]], values[held_out])
    metrics.update(n_train=int((~held_out).sum()), n_validation=int(held_out.sum()))
    return model, metrics


def train(data_source: Path, out: Path, *, images_dir: Path | None = None, popularity_source: Path | None = None,
          check_source: Path | None = None, recipe: Recipe | None = None, top_n: int = DEFAULT_TOP_N,
          base_features_out: Path | None = None, version: str | None = None, progress: bool = True,
          embedder: Embedder | None = None, cache_dir: Path | None = CACHE_DIR, also: Sequence[Path] = (),
          read: bool = True) -> artifacts.Artifact:
    """also: more labelled sets to train on (each with its own validation split); read: read the
    covers' text and let cross-validation choose the text model and its blend weight."""
    recipe = recipe or Recipe()
    extractor = FeatureExtractor(embedder or Embedder(threads=2))
    table, data = load_genre_data(data_source, extractor, images_dir=images_dir, cache_dir=cache_dir,
                                  progress=progress, read=read)
    for extra_source in also:
        data = combine([data, load_genre_data(extra_source, extractor, cache_dir=cache_dir, progress=progress, read=read)[1]])
    tuning = None
    if read:
        tuning = tune_text(data, recipe)
        recipe = tuning.recipe
        log.info("text model chosen by CV: weight %.2f, n-grams %s, C %g (CV top-1 %.3f; image only %.3f)",
                 recipe.text_weight, recipe.text_ngram, recipe.text_C, tuning.cv_top1, tuning.cv_top1_image_only)
        log.info("blend sharpness chosen by CV: %.2f", recipe.text_sharpness)
    log.info("fitting the genre model on %d covers (%d held out)", len(data.train_rows), len(data.validation_rows))
    model = fit_genre(data, recipe)
    metrics = {"validation": validation_metrics(model, data)}
    for source in dict.fromkeys(data.sources):
        rows = np.intersect1d(data.rows_from(source), data.validation_rows)
        if len(also) and len(rows):
            metrics[f"validation:{source}"] = evaluate_genre(model, data.vectors[rows], [data.label_sets[i] for i in rows],
                                                             data.texts_of(rows))
    if tuning is not None:
        metrics["text_cv"] = {"log_loss": tuning.cv_log_loss, "top1": tuning.cv_top1,
                              "top1_image_only": tuning.cv_top1_image_only, "folds": FOLDS}
    if check_source is not None:
        metrics["cross_domain"] = cross_domain_check(model, check_source, extractor, progress, cache_dir, read=read)
    popularity, pop_metrics = _popularity_model(popularity_source, extractor, progress, cache_dir)
    metrics["popularity"] = pop_metrics
    provenance = _provenance(data_source, data, table, popularity_source, check_source)
    if also:
        provenance["also"] = [_display(p) for p in also]
    manifest: dict = {
        "version": version or artifacts.new_version(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "genres": data.genres,
        "feature_spec": extractor.spec,
        "recipe": recipe.to_dict(),
        "distinctive_top_n": top_n,
        "data": provenance,
        "metrics": metrics,
    }
    if read:
        manifest["reader"] = {"settings": SETTINGS_VERSION, "rapidocr-onnxruntime": reader_version()}
    artifact = artifacts.Artifact(manifest, model, popularity, data.vocabulary, distinctive_from(data, top_n))
    artifacts.save(artifact, out)
    if base_features_out is not None:
        data.save(base_features_out)
    return artifact


def load_genre_data(source: Path, extractor: FeatureExtractor, *, images_dir: Path | None = None,
                    cache_dir: Path | None = CACHE_DIR, progress: bool = True, read: bool = True) -> tuple[FeatureTable, GenreData]:
    table = extract(load_samples(source, images_dir), extractor, cache_dir=cache_dir, progress=progress)
    texts = None
    if read:
        readings = read_texts([s.path for s in table.samples], cache_dir, progress=progress)
        texts = [r.text for r in readings]
        for scores, reading in zip(table.tag_scores, readings, strict=True):  # text tags can be distinctive too
            scores.update(text_scores(reading))
    return table, genre_data(table, _dataset_root(source), texts, source=_display(source) or "")


def validation_metrics(model: GenreModel, data: GenreData) -> dict:
    rows = data.validation_rows
    return evaluate_genre(model, data.vectors[rows], [data.label_sets[i] for i in rows], data.texts_of(rows))


def cross_domain_check(model: GenreModel, source: Path, extractor: FeatureExtractor, progress: bool,
                       cache_dir: Path | None, read: bool = True) -> dict:
    """Accuracy on another labelled set's rows that carry one of the model's genres."""
    samples = [s for s in load_samples(source) if s.genres & set(model.genres)]
    table = extract(samples, extractor, cache_dir=cache_dir, progress=progress)
    texts = [r.text for r in read_texts([s.path for s in table.samples], cache_dir, progress=progress)] if read else None
    metrics = evaluate_genre(model, table.vectors, [s.genres for s in table.samples], texts)
    metrics["source"] = _display(source)
    return metrics


def _popularity_model(source: Path | None, extractor: FeatureExtractor, progress: bool, cache_dir: Path | None):
    if source is None:
        shipped = artifacts.SHIPPED_DIR
        model = pop.PopularityModel.load(shipped / artifacts.POPULARITY_FILE)
        return model, {**artifacts.read_manifest(shipped)["metrics"]["popularity"], "reused_from": "shipped model"}
    table = extract(load_samples(source), extractor, cache_dir=cache_dir, progress=progress)
    model, metrics = fit_popularity(table)
    metrics["source"] = _display(source)
    return model, metrics


def _provenance(source: Path, data: GenreData, table: FeatureTable, popularity_source: Path | None, check: Path | None) -> dict:
    return {
        "genre_source": _display(source),
        "labels_sha256": _labels_digest(source),
        "covers": len(data.files),
        "train": int(len(data.train_rows)),
        "validation": int(len(data.validation_rows)),
        "validation_split": {"seed": SEED, "share": float(data.validation.mean()), "stratified_on": "primary genre"},
        "skipped": len(table.skipped),
        "popularity_source": _display(popularity_source) if popularity_source else None,
        "cross_domain_source": _display(check) if check else None,
    }


def _labels_digest(source: Path) -> str | None:
    labels = source / "labels.csv" if source.is_dir() else source
    return hashlib.sha256(labels.read_bytes()).hexdigest() if labels.is_file() else None


def _dataset_root(source: Path) -> Path:
    return source if source.is_dir() else source.parent


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return path.name


def _display(path: Path | None) -> str | None:
    """Dataset paths as the last two parts, so manifests don't record someone's home directory."""
    return None if path is None else "/".join(Path(path).resolve().parts[-2:])
