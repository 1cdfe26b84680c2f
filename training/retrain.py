"""Fold people's votes back into the genre model; serve the result only when it is not worse.

    retrain(db_path, data_dir) -> training.result.RetrainResult

1. Take the retrain lock in the database (`feedback.lock`: a second run is refused while one is
   alive; a crashed or stale one is recovered).
2. Champion = the served model (`models.registry`, falling back as it does). Challenger = a genre
   model with the champion's recipe, fitted on the base set's training rows plus the labelled
   feedback's training rows (`feedback.reader`). It only uses `Recipe` and `fit_genre`, so it does
   not care which classifier the recipe names.
3. Both are scored on the same covers: (a) the base set's fixed validation split and (b) the
   held-out feedback slice. A paired test on (a) + (b) decides (`training.promotion`): rejected
   when significantly worse than the champion, or than the original model (the shipped one,
   normally) on (a); promoted otherwise. With no labelled feedback, or the very feedback the
   champion was fitted on (same fingerprint), nothing is fitted and the run is rejected.
4. Promotion: write the version (models.artifact.save: temp dir + rename), switch CURRENT
   atomically, record the version and the run in the database, prune old versions. A rejected
   challenger is recorded (model_versions, promoted = 0, no path) but not written.

Choices:
- Distinctive tags are recomputed from the base training rows' tag scores plus the feedback
  training covers' stored tags, labelled by the votes, with the champion's top N. Stored tags are
  only those scoring at least `models.tagger.MIN_SCORE`, so a feedback cover adds nothing for its
  weak tags; with no feedback the result equals the base model's tags.
- The popularity model is copied from the champion (votes say nothing about popularity).
- The expected feature spec is the shipped model's: the base features were extracted with it,
  so every retrained model is made for it too.
- The champion is re-evaluated on every run instead of trusting its manifest, so both models are
  scored by the same code on the same rows.
- Without labelled feedback to learn from, nothing is fitted and the run is 'rejected'.

Crash safety: the served model changes only at the atomic switch of CURRENT, and the database is
only written in short transactions, so a kill at any point leaves either the old model served or
the new one completely written and served; the next run recovers the lock. See `checkpoint` for
the fault-injection points the tests use.
"""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from feedback.labels import NewGenres, canonical_genre, genres_to_add
from feedback.lock import TRIGGERS, LockLost, RetrainBusy, RunLock
from feedback.reader import HELD_OUT_SHARE, Feedback, approved_genres, load_feedback
from models import artifact as artifacts
from models.distinctive import DistinctiveTag
from models.genre import GenreModel, Recipe
from models.registry import SHIPPED, ModelRegistry, registry_root
from training.extract import tag_matrix
from training.metrics import genre_metrics
from training.promotion import ALPHA, below_floor, decide, paired_test
from training.result import (
    Counts,
    NewGenre,
    Origin,
    RetrainResult,
    Scores,
    Split,
    Status,
)
from training.splits import topk_hits
from training.train import DEFAULT_TOP_N, GenreData, distinctive_of, fit_genre

log = logging.getLogger(__name__)

CRASH_ENV = "SLEEVE_RETRAIN_CRASH_AT"
CHECKPOINTS = ("after_lock", "after_fit", "after_write", "after_switch", "after_record")
NO_NEW_FEEDBACK = "no new feedback since the served model: nothing was fitted"


class RetrainError(RuntimeError):
    """Retraining cannot run or could not finish."""


__all__ = ["LockLost", "RetrainBusy", "RetrainError", "RetrainResult", "retrain"]


def checkpoint(name: str) -> None:
    """Fault injection for the crash-safety tests (tests/training/test_retrain.py).

    When the environment variable SLEEVE_RETRAIN_CRASH_AT equals `name` (one of CHECKPOINTS),
    the process kills itself with SIGKILL right here: no except/finally blocks, no atexit, no
    flush, just like an OOM kill or a power cut. Unset (always, in production) it does nothing.
    """
    assert name in CHECKPOINTS, name
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))


def shipped_spec() -> dict:
    """The feature spec of the shipped model, which the base features were extracted with."""
    return artifacts.read_manifest(artifacts.SHIPPED_DIR)["feature_spec"]


def retrain(
    db_path: str | os.PathLike[str],
    data_dir: str | os.PathLike[str],
    *,
    dry_run: bool = False,
    alpha: float = ALPHA,
    include_spotify: bool = False,
    min_votes: int = 1,
    admin_weight: float = 1.0,
    keep: int = 5,
    trigger: str = "cli",
    progress: bool = True,
    base_features: str | os.PathLike[str] | None = None,
    held_out_share: float = HELD_OUT_SHARE,
    new_genres: NewGenres = "admin",
    new_genre_min_covers: int = 25,
) -> RetrainResult:
    """Retrain, evaluate, and promote unless worse (`training.promotion`); `dry_run` writes nothing.

    Raises RetrainBusy while another run holds the lock, FileNotFoundError without a database.
    """
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger must be one of {sorted(TRIGGERS)}, not {trigger!r}")
    started = time.monotonic()
    db_path = Path(db_path)
    if not db_path.is_file():
        raise FileNotFoundError(f"no feedback database at {db_path} (the bot creates it on its first start)")
    registry = ModelRegistry(registry_root(data_dir))
    spec = shipped_spec()
    lock = None if dry_run else _acquire(db_path, trigger)
    bar = tqdm(total=4, desc="retrain", unit="step", disable=not progress)
    try:
        checkpoint("after_lock")
        if lock is not None:
            _reconcile(lock, registry)
        bar.set_postfix_str("loading")
        champion_name, _, champion = registry.current(spec)
        data = GenreData.load(Path(base_features) if base_features else artifacts.BASE_FEATURES)
        def read(genres: list[str]) -> Feedback:
            return load_feedback(db_path, genres, data.vectors.shape[1], include_spotify=include_spotify,
                                 min_votes=min_votes, admin_weight=admin_weight, held_out_share=held_out_share)

        feedback = read(data.genres)
        added = _added_genres(champion, data, feedback, db_path, new_genres, new_genre_min_covers)
        if added:
            feedback = read([*data.genres, *added])
        counts = _counts(data, feedback, include_spotify)
        log.info("retraining: %s", counts)
        bar.update()
        status: Status = "dry_run" if dry_run else "rejected"
        result = RetrainResult(status=status, promoted=False, reason="", champion=champion_name,
                               champion_version=champion.version, counts=counts,
                               run_id=lock.run_id if lock else None)
        challenger = None
        if not len(feedback.train):
            result = replace(result, reason="no labelled feedback to learn from: nothing was fitted")
            bar.update(3)
        elif _feedback_fingerprint(champion) == feedback.fingerprint:
            result = replace(result, reason=NO_NEW_FEEDBACK)
            bar.update(3)
        else:
            bar.set_postfix_str(f"fitting on {len(data.train_rows)} + {len(feedback.train)} covers")
            recipe = Recipe.from_dict(champion.manifest["recipe"])
            model = fit_genre(data, recipe, extra=(feedback.train.vectors, feedback.train.label_sets),
                              extra_texts=feedback.train.texts, new_genres=added)
            checkpoint("after_fit")
            bar.update()
            bar.set_postfix_str("evaluating")
            scored = _evaluate(champion.genre, model, data, feedback, set(data.genres))
            origin, origin_hits = _origin(champion, scored["champion"].base.metrics["top1"], data, spec)
            result = _compared(result, scored, origin, origin_hits, alpha)
            result = replace(result, new_genres=_new_genre_recall(model, feedback, added))
            bar.update()
            challenger = (model, recipe, scored)
        if dry_run:
            bar.close()
            return replace(result, seconds=round(time.monotonic() - started, 3))
        assert lock is not None
        if challenger is not None:
            result = replace(result, version=registry.new_name(lock.version_names()))
        if challenger is not None and result.promoted:
            assert result.version is not None
            bar.set_postfix_str(f"writing {result.version}")
            model, recipe, scored = challenger
            artifact = _artifact(result, scored, model, recipe, champion, data, feedback, spec, trigger,
                                 include_spotify=include_spotify, min_votes=min_votes, admin_weight=admin_weight,
                                 held_out_share=held_out_share)
            path = artifacts.save(artifact, registry.path(result.version))
            checkpoint("after_write")
            lock.check()
            registry.promote(result.version, spec)
            checkpoint("after_switch")
            result = replace(result, status="promoted", seconds=round(time.monotonic() - started, 3))
            _finish(lock, result, scored, path)
            checkpoint("after_record")
            result = replace(result, pruned=tuple(registry.prune(keep)))
        else:
            result = replace(result, seconds=round(time.monotonic() - started, 3))
            _finish(lock, result, challenger[2] if challenger else None, None)
        bar.update()
        bar.close()
        log.info("retrain %s: %s", result.status, result.reason)
        return result
    except BaseException as exc:
        bar.close()
        if lock is not None:
            lock.fail(exc)
        raise
    finally:
        if lock is not None:
            lock.close()


@dataclass(frozen=True)
class Scored:
    """One model on one split: its metrics (for the manifest) and per-cover top-1 hits (for pairing)."""

    metrics: dict[str, Any]
    hits: np.ndarray


@dataclass(frozen=True)
class ModelScores:
    base: Scored
    held_out: Scored | None


def _compared(result: RetrainResult, scored: dict[str, ModelScores], origin: Origin,
              origin_hits: np.ndarray | None, alpha: float) -> RetrainResult:
    """The result with both splits' numbers, the paired test and the decision filled in."""
    old, new = scored["champion"], scored["challenger"]
    both = [old.base.hits, *([old.held_out.hits] if old.held_out else [])]
    both_new = [new.base.hits, *([new.held_out.hits] if new.held_out else [])]
    pooled = paired_test(np.concatenate(both), np.concatenate(both_new), alpha=alpha)
    tests = {"all covers": pooled}
    if old.held_out is not None:
        tests["base validation"] = paired_test(old.base.hits, new.base.hits, alpha=alpha)
    if origin_hits is not None:
        tests[f"base validation vs the original model {origin.version}"] = paired_test(
            origin_hits, new.base.hits, alpha=alpha)
    promote, reason = decide(tests)
    if promote and origin_hits is None and below_floor(new.base.hits, origin.base_validation_top1, alpha):
        promote, reason = False, (f"{reason}; but significantly below the original model {origin.version}'s "
                                  f"base-validation top-1 {origin.base_validation_top1:.3f}")
    held = None if old.held_out is None or new.held_out is None else Split(
        Scores.of(old.held_out.metrics), Scores.of(new.held_out.metrics))
    return replace(result, promoted=promote, reason=reason, paired=pooled, origin=origin,
                   base_validation=Split(Scores.of(old.base.metrics), Scores.of(new.base.metrics)),
                   feedback_held_out=held)


def _feedback_fingerprint(model: artifacts.Artifact) -> str | None:
    """The fingerprint of the feedback a retrained model was fitted on (None for other models)."""
    feedback = (model.manifest.get("data") or {}).get("feedback")
    return feedback.get("fingerprint") if isinstance(feedback, dict) else None


def _origin(champion: artifacts.Artifact, champion_top1: float, data: GenreData,
            spec: dict) -> tuple[Origin, np.ndarray | None]:
    """The model this lineage started from, and its base-validation hits when it can be paired.

    A champion not made by retraining (the shipped model, or one trained by hand) is its own origin
    (no second test). A retrained champion carries its origin in its manifest; when that is the
    shipped model, or the manifest predates the record, the shipped model is scored on this run's
    validation rows, so the floor is a paired test too. Any other origin is known only by its
    recorded top-1.
    """
    retrained = champion.manifest.get("retrain")
    if not isinstance(retrained, dict):
        return Origin(champion.version, float(champion_top1)), None
    recorded = retrained.get("origin")
    shipped_version = artifacts.read_manifest(artifacts.SHIPPED_DIR).get("version")
    if isinstance(recorded, dict) and recorded.get("version") != shipped_version \
            and isinstance(recorded.get("base_validation_top1"), (int, float)):
        return Origin(str(recorded.get("version")), float(recorded["base_validation_top1"])), None
    shipped = artifacts.load(artifacts.SHIPPED_DIR, spec)
    val = data.validation_rows
    scored = _score(shipped.genre, data.vectors[val], [data.label_sets[i] for i in val], data.texts_of(val))
    return Origin(shipped.version, float(scored.metrics["top1"])), scored.hits


def _counts(data: GenreData, feedback: Feedback, include_spotify: bool) -> Counts:
    c = feedback.counts
    return Counts(
        base_train=int(len(data.train_rows)),
        base_validation=int(len(data.validation_rows)),
        feedback_train=c.train,
        feedback_held_out=c.held_out,
        feedback_voted_covers=c.voted_covers,
        feedback_unlabelled=c.unlabelled,
        suggestion_votes=c.suggestion_votes,
        suggestions=dict(c.suggestions),
        spotify_excluded=c.spotify_excluded,
        include_spotify=include_spotify,
        wrong_dimension=c.wrong_dimension,
    )


def _score(model: GenreModel, vectors: np.ndarray, label_sets: list[frozenset[str]], texts: list[str]) -> Scored:
    probabilities = model.predict_proba(vectors, texts)
    return Scored(genre_metrics(probabilities, label_sets, model.genres),
                  topk_hits(probabilities, label_sets, model.genres, 1).astype(bool))


def _evaluate(champion: GenreModel, challenger: GenreModel, data: GenreData, feedback: Feedback,
              old_genres: set[str]) -> dict[str, ModelScores]:
    """Both models on the same covers, old genres only: a class the champion lacks is scored apart."""
    val = data.validation_rows
    base = (data.vectors[val], [data.label_sets[i] for i in val], data.texts_of(val))
    rows = [i for i, labels in enumerate(feedback.held_out.label_sets) if labels <= old_genres]
    held = (feedback.held_out.vectors[rows], [feedback.held_out.label_sets[i] for i in rows],
            [feedback.held_out.texts[i] for i in rows]) if rows else None
    return {
        name: ModelScores(_score(model, *base), _score(model, *held) if held else None)
        for name, model in (("champion", champion), ("challenger", challenger))
    }


def _brief(metrics: dict | None) -> dict | None:
    return None if metrics is None else {k: v for k, v in metrics.items() if k != "confusion"}


def _artifact(result: RetrainResult, scored: dict[str, ModelScores], model: GenreModel, recipe: Recipe,
              champion: artifacts.Artifact, data: GenreData, feedback: Feedback, spec: dict, trigger: str,
              **options: Any) -> artifacts.Artifact:
    top_n = int(champion.manifest.get("distinctive_top_n", DEFAULT_TOP_N))
    new, old = scored["challenger"], scored["champion"]
    manifest = {
        "version": result.version,
        "created": datetime.now(UTC).isoformat(timespec="microseconds"),
        "genres": list(model.genres),
        "feature_spec": spec,
        "recipe": recipe.to_dict(),
        "distinctive_top_n": top_n,
        "data": {
            **{k: v for k, v in champion.manifest.get("data", {}).items() if k != "feedback"},
            "train": int(len(data.train_rows)),
            "validation": int(len(data.validation_rows)),
            "feedback": {**asdict(result.counts), "fingerprint": feedback.fingerprint, **options},
        },
        "metrics": {
            "validation": new.base.metrics,
            "feedback_held_out": new.held_out.metrics if new.held_out else None,
            "popularity": {**champion.manifest.get("metrics", {}).get("popularity", {}),
                           "copied_from": champion.version},
        },
        "retrain": {
            "parent": champion.version,
            "trigger": trigger,
            "reason": result.reason,
            "paired": None if result.paired is None else asdict(result.paired),
            "origin": None if result.origin is None else asdict(result.origin),
            "champion_metrics": {"base_validation": _brief(old.base.metrics),
                                 "feedback_held_out": _brief(old.held_out.metrics if old.held_out else None)},
        },
    }
    distinctive = _distinctive(data, feedback, top_n, list(model.genres))
    return artifacts.Artifact(manifest, model, champion.popularity, data.vocabulary, distinctive)


def _distinctive(data: GenreData, feedback: Feedback, top_n: int,
                 genres: list[str]) -> dict[str, list[DistinctiveTag]]:
    rows = data.train_rows
    scores = np.concatenate([data.tag_matrix[rows], tag_matrix(feedback.train.tags, data.vocabulary)])
    labels = [data.label_sets[i] for i in rows] + list(feedback.train.label_sets)
    return distinctive_of(scores, labels, data.vocabulary, genres, top_n)


def _added_genres(champion: artifacts.Artifact, data: GenreData, feedback: Feedback, db_path: Path,
                  mode: NewGenres, min_covers: int) -> list[str]:
    """Classes beyond the base set's: the champion's own (learnt from votes earlier), then suggestions
    that qualify under NEW_GENRES now (`feedback.labels.genres_to_add`)."""
    carried = [g for g in champion.genre.genres if g not in data.genres]
    approved = approved_genres(db_path) if mode == "admin" else []
    fresh = genres_to_add(feedback.suggested, mode, min_covers, approved)
    return [*carried, *(g for g in fresh if canonical_genre(g, carried) is None)]


def _new_genre_recall(model: GenreModel, feedback: Feedback, added: list[str]) -> tuple[NewGenre, ...]:
    """Each added genre's recall on the held-out votes for it: the share the challenger calls it."""
    out = []
    held = feedback.held_out
    top = [model.genres[i] for i in model.predict_proba(held.vectors, held.texts).argmax(axis=1)] if len(held) else []
    for genre in added:
        rows = [i for i, labels in enumerate(held.label_sets) if genre in labels]
        trained = sum(genre in labels for labels in feedback.train.label_sets)
        recall = sum(top[i] == genre for i in rows) / len(rows) if rows else None
        out.append(NewGenre(genre, trained, len(rows), recall))
    return tuple(out)


# -- the lock and the database records ------------------------------------------------------------


def _acquire(db_path: Path, trigger: str) -> RunLock:
    try:
        return RunLock.acquire(db_path, trigger)
    except sqlite3.OperationalError as exc:
        raise RetrainError(f"{db_path} is not a Sleeve feedback database (or is locked): {exc}") from exc


def _reconcile(lock: RunLock, registry: ModelRegistry) -> None:
    """Record the served version as promoted if a crash came between the switch and the record."""
    name = registry.current_name()
    if not name or name == SHIPPED or lock.is_recorded_promoted(name):
        return
    try:
        manifest = artifacts.read_manifest(registry.path(name))
    except artifacts.ArtifactError:
        return  # damaged: the registry serves something else and says so
    metrics = {k: _brief(v) if isinstance(v, dict) else v for k, v in manifest.get("metrics", {}).items()}
    lock.record_model_version(name, metrics, str(registry.path(name)), promoted=True)
    log.warning("model version %s is served but was not recorded as promoted; recorded it now", name)


def _finish(lock: RunLock, result: RetrainResult, scored: dict[str, ModelScores] | None, path: Path | None) -> None:
    """Record the challenger's version and close the run, in one transaction."""
    metrics = {} if scored is None else {"base_validation": _brief(scored["challenger"].base.metrics)}
    lock.finish(result.status, result.to_dict(), version=result.version, metrics=metrics,
                path=None if path is None else str(path))
