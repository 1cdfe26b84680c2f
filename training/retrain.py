"""Fold people's votes back into the genre model; serve the result only when it is not worse.

    retrain(db_path, data_dir) -> RetrainResult

1. Take the retrain lock in the database (`training.runs`: a second run is refused while one is
   alive; a crashed or stale one is recovered).
2. Champion = the served model (`models.registry`, falling back as it does). Challenger = a genre
   model with the champion's recipe, fitted on the base set's training rows plus the labelled
   feedback's training rows (`training.feedback`). It only uses `Recipe`, `fit_genre` and
   `evaluate_genre`, so it does not care which classifier the recipe names.
3. Both are evaluated on (a) the base set's fixed validation split and (b) the held-out feedback
   slice. The challenger is promoted when its top-1 on (a) is at least the champion's minus
   `tolerance` and at least the original model's (the shipped one, normally) minus `tolerance`, so
   small drops cannot add up over promotions; and, when (b) has rows, its top-1 on (b) is not lower
   than the champion's. With no labelled feedback, or the very feedback the champion was fitted on
   (same fingerprint), nothing is fitted and the run is rejected.
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
import threading
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from models import artifact as artifacts
from models.distinctive import distinctive_tags, genre_totals
from models.genre import Recipe
from models.registry import SHIPPED, ModelRegistry, registry_root
from training import runs
from training.extract import tag_matrix
from training.feedback import HELD_OUT_SHARE, Feedback, load_feedback
from training.train import DEFAULT_TOP_N, GenreData, evaluate_genre, fit_genre

log = logging.getLogger(__name__)

CRASH_ENV = "SLEEVE_RETRAIN_CRASH_AT"
CHECKPOINTS = ("after_lock", "after_fit", "after_write", "after_switch", "after_record")
HEARTBEAT_EVERY_S = 30.0
BUSY_TIMEOUT_S = 10.0
EPSILON = 1e-9
NO_NEW_FEEDBACK = "no new feedback since the served model: nothing was fitted"


class RetrainError(RuntimeError):
    """Retraining cannot run or could not finish."""


class RetrainBusy(RetrainError):
    """Another retrain holds the lock."""


class LockLost(RetrainError):
    """Another process took this run's lock over (it judged this run dead); nothing was switched."""


@dataclass
class RetrainResult:
    status: str  # "promoted", "rejected" or "dry_run"
    promote: bool  # the decision (in a dry run: what would have happened)
    reason: str
    version: str | None  # the challenger's version name; written and served only when promoted
    champion: str  # the version served when the run started ("shipped" for the shipped model)
    champion_version: str  # the champion's manifest version
    run_id: int | None
    dry_run: bool
    counts: dict[str, Any]
    metrics: dict[str, dict[str, dict | None]]  # champion/challenger -> base_validation/feedback_held_out
    tolerance: float
    seconds: float = 0.0
    pruned: list[str] = field(default_factory=list)
    # The model this lineage of retrains started from (the shipped one, normally) and its top-1 on
    # the base validation split: the floor that tolerance is measured from too (see `decide`).
    origin: dict[str, Any] | None = None

    def to_dict(self, confusion: bool = False) -> dict[str, Any]:
        """Plain JSON-ready data; confusion matrices are left out unless asked for."""
        data = asdict(self)
        if not confusion:
            data["metrics"] = {who: {k: _brief(v) for k, v in m.items()} for who, m in self.metrics.items()}
        return data


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
    tolerance: float = 0.01,
    include_spotify: bool = False,
    min_votes: int = 1,
    admin_weight: float = 1.0,
    keep: int = 5,
    trigger: str = "cli",
    progress: bool = True,
    base_features: str | os.PathLike[str] | None = None,
    held_out_share: float = HELD_OUT_SHARE,
) -> RetrainResult:
    """Retrain, evaluate, and promote when not worse; `dry_run` trains and evaluates but writes nothing.

    Raises RetrainBusy while another run holds the lock, FileNotFoundError without a database.
    """
    if trigger not in runs.TRIGGERS:
        raise ValueError(f"trigger must be one of {sorted(runs.TRIGGERS)}, not {trigger!r}")
    started = time.monotonic()
    db_path = Path(db_path)
    if not db_path.is_file():
        raise FileNotFoundError(f"no feedback database at {db_path} (the bot creates it on its first start)")
    registry = ModelRegistry(registry_root(data_dir))
    spec = shipped_spec()
    lock = None if dry_run else RunLock.acquire(db_path, trigger)
    bar = tqdm(total=4, desc="retrain", unit="step", disable=not progress)
    try:
        checkpoint("after_lock")
        if lock is not None:
            lock.reconcile(registry)
        bar.set_postfix_str("loading")
        champion_name, _, champion = registry.current(spec)
        data = GenreData.load(Path(base_features) if base_features else artifacts.BASE_FEATURES)
        feedback = load_feedback(db_path, data.genres, data.vectors.shape[1], include_spotify=include_spotify,
                                 min_votes=min_votes, admin_weight=admin_weight, held_out_share=held_out_share)
        counts = _counts(data, feedback, include_spotify)
        log.info("retraining: %s", counts)
        bar.update()
        result = RetrainResult(
            status="dry_run" if dry_run else "rejected", promote=False, reason="", version=None,
            champion=champion_name, champion_version=champion.version, run_id=lock.run_id if lock else None,
            dry_run=dry_run, counts=counts, metrics={}, tolerance=tolerance,
        )
        if not len(feedback.train):
            result.reason = "no labelled feedback to learn from: nothing was fitted"
            bar.update(3)
            challenger = None
        elif _feedback_fingerprint(champion) == feedback.fingerprint:
            result.reason = NO_NEW_FEEDBACK
            bar.update(3)
            challenger = None
        else:
            bar.set_postfix_str(f"fitting on {len(data.train_rows)} + {len(feedback.train)} covers")
            recipe = Recipe.from_dict(champion.manifest["recipe"])
            model = fit_genre(data, recipe, extra=(feedback.train.vectors, feedback.train.label_sets),
                              extra_texts=feedback.train.texts)
            checkpoint("after_fit")
            bar.update()
            bar.set_postfix_str("evaluating")
            metrics = _evaluate(champion.genre, model, data, feedback)  # base_validation is never None
            result.metrics = metrics
            result.origin = _origin(champion, metrics["champion"]["base_validation"]["top1"], data, spec)
            result.promote, result.reason = decide(result.metrics, tolerance, result.origin)
            bar.update()
            challenger = (model, recipe)
        if dry_run:
            result.seconds = round(time.monotonic() - started, 3)
            bar.close()
            return result
        assert lock is not None
        result.version = registry.new_name(lock.version_names()) if challenger else None
        if challenger is not None and result.version is not None and result.promote:
            bar.set_postfix_str(f"writing {result.version}")
            model, recipe = challenger
            artifact = _artifact(result, model, recipe, champion, data, feedback, spec, trigger,
                                 include_spotify=include_spotify, min_votes=min_votes, admin_weight=admin_weight,
                                 held_out_share=held_out_share)
            path = artifacts.save(artifact, registry.path(result.version))
            checkpoint("after_write")
            lock.check()
            registry.promote(result.version, spec)
            checkpoint("after_switch")
            result.status = "promoted"
            result.seconds = round(time.monotonic() - started, 3)
            lock.finish(result, path=path)
            checkpoint("after_record")
            result.pruned = registry.prune(keep)
        else:
            result.seconds = round(time.monotonic() - started, 3)
            lock.finish(result, path=None)
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


def decide(metrics: dict, tolerance: float, origin: dict | None = None) -> tuple[bool, str]:
    """(promote?, why) from both models' metrics on base validation (a) and held-out feedback (b).

    `origin` ({"version", "base_validation_top1"}: the model the retrains started from, normally the
    shipped one) is a floor as well: measured only against the champion, a drop within the tolerance
    at every promotion would add up over many promotions.
    """
    champion_a = metrics["champion"]["base_validation"]["top1"]
    challenger_a = metrics["challenger"]["base_validation"]["top1"]
    base = f"base validation top-1 {challenger_a:.3f} vs champion {champion_a:.3f} (tolerance {tolerance:.3f})"
    if challenger_a < champion_a - tolerance - EPSILON:
        return False, f"{base}: fell by more than the tolerance"
    if origin is not None and origin.get("base_validation_top1") is not None:
        origin_a = float(origin["base_validation_top1"])
        base += f", original model {origin.get('version', '?')} {origin_a:.3f}"
        if challenger_a < origin_a - tolerance - EPSILON:
            return False, f"{base}: fell more than the tolerance below the original model"
    held = metrics["challenger"]["feedback_held_out"]
    if held is None:
        return True, f"{base}; no held-out feedback yet"
    champion_b, challenger_b = metrics["champion"]["feedback_held_out"]["top1"], held["top1"]
    feedback = f"held-out feedback top-1 {challenger_b:.3f} vs champion {champion_b:.3f} on {held['n']} covers"
    if challenger_b < champion_b - EPSILON:
        return False, f"{base}; {feedback}: worse on held-out feedback"
    return True, f"{base}; {feedback}"


def _feedback_fingerprint(model: artifacts.Artifact) -> str | None:
    """The fingerprint of the feedback a retrained model was fitted on (None for other models)."""
    feedback = (model.manifest.get("data") or {}).get("feedback")
    return feedback.get("fingerprint") if isinstance(feedback, dict) else None


def _origin(champion: artifacts.Artifact, champion_top1: float, data: GenreData, spec: dict) -> dict[str, Any]:
    """The model this lineage started from and its base-validation top-1 (see `decide`).

    A champion not made by retraining (the shipped model, or one trained by hand) is its own origin.
    A retrained champion carries its origin in its manifest; when that is the shipped model, or the
    manifest predates the record (retrains start from the shipped model), the shipped model is
    re-evaluated on this run's validation rows, so the numbers compare like with like.
    """
    retrained = champion.manifest.get("retrain")
    if not isinstance(retrained, dict):
        return {"version": champion.version, "base_validation_top1": champion_top1}
    recorded = retrained.get("origin")
    shipped_version = artifacts.read_manifest(artifacts.SHIPPED_DIR).get("version")
    if isinstance(recorded, dict) and recorded.get("version") != shipped_version \
            and isinstance(recorded.get("base_validation_top1"), (int, float)):
        return {"version": recorded.get("version"), "base_validation_top1": float(recorded["base_validation_top1"])}
    shipped = artifacts.load(artifacts.SHIPPED_DIR, spec)
    val = data.validation_rows
    top1 = evaluate_genre(shipped.genre, data.vectors[val], [data.label_sets[i] for i in val], data.texts_of(val))["top1"]
    return {"version": shipped.version, "base_validation_top1": float(top1)}


def _counts(data: GenreData, feedback: Feedback, include_spotify: bool) -> dict[str, Any]:
    c = feedback.counts
    return {
        "base_train": int(len(data.train_rows)),
        "base_validation": int(len(data.validation_rows)),
        "feedback_train": c.train,
        "feedback_held_out": c.held_out,
        "feedback_voted_covers": c.voted_covers,
        "feedback_unlabelled": c.unlabelled,
        "suggestion_votes": c.suggestion_votes,
        "suggestions": c.suggestions,
        "spotify_excluded": c.spotify_excluded,
        "include_spotify": include_spotify,
        "wrong_dimension": c.wrong_dimension,
    }


def _evaluate(champion, challenger, data: GenreData, feedback: Feedback) -> dict:
    val = data.validation_rows
    base = (data.vectors[val], [data.label_sets[i] for i in val], data.texts_of(val))
    held = (feedback.held_out.vectors, feedback.held_out.label_sets, feedback.held_out.texts) if len(feedback.held_out) else None
    return {
        name: {
            "base_validation": evaluate_genre(model, *base),
            "feedback_held_out": evaluate_genre(model, *held) if held else None,
        }
        for name, model in (("champion", champion), ("challenger", challenger))
    }


def _brief(metrics: dict | None) -> dict | None:
    return None if metrics is None else {k: v for k, v in metrics.items() if k != "confusion"}


def _artifact(result: RetrainResult, model, recipe: Recipe, champion: artifacts.Artifact, data: GenreData,
              feedback: Feedback, spec: dict, trigger: str, **options: Any) -> artifacts.Artifact:
    top_n = int(champion.manifest.get("distinctive_top_n", DEFAULT_TOP_N))
    challenger = result.metrics["challenger"]
    manifest = {
        "version": result.version,
        "created": datetime.now(UTC).isoformat(timespec="microseconds"),
        "genres": data.genres,
        "feature_spec": spec,
        "recipe": recipe.to_dict(),
        "distinctive_top_n": top_n,
        "data": {
            **{k: v for k, v in champion.manifest.get("data", {}).items() if k != "feedback"},
            "train": int(len(data.train_rows)),
            "validation": int(len(data.validation_rows)),
            "feedback": {**result.counts, "fingerprint": feedback.fingerprint, **options},
        },
        "metrics": {
            "validation": challenger["base_validation"],
            "feedback_held_out": challenger["feedback_held_out"],
            "popularity": {**champion.manifest.get("metrics", {}).get("popularity", {}),
                           "copied_from": champion.version},
        },
        "retrain": {
            "parent": champion.version,
            "trigger": trigger,
            "tolerance": result.tolerance,
            "reason": result.reason,
            "origin": result.origin,
            "champion_metrics": {k: _brief(v) for k, v in result.metrics["champion"].items()},
        },
    }
    distinctive = _distinctive(data, feedback, top_n)
    return artifacts.Artifact(manifest, model, champion.popularity, data.vocabulary, distinctive)


def _distinctive(data: GenreData, feedback: Feedback, top_n: int) -> dict[str, list[str]]:
    rows = data.train_rows
    scores = np.concatenate([data.tag_matrix[rows], tag_matrix(feedback.train.tags, data.vocabulary)])
    labels = [data.label_sets[i] for i in rows] + list(feedback.train.label_sets)
    totals, counts = genre_totals(scores, labels, data.genres)
    return distinctive_tags(totals, counts, data.vocabulary, data.genres, top_n=top_n)


# -- the lock and the database records ------------------------------------------------------------


def _connect(db_path: Path) -> sqlite3.Connection:
    """Read-write, never creating the file; autocommit, so every transaction is explicit."""
    uri = f"file:{urllib.parse.quote(str(db_path.resolve()))}?mode=rw"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    return conn


class RunLock:
    """This process's 'running' row in retrain_runs, kept alive by a heartbeat thread."""

    def __init__(self, db_path: Path, conn: sqlite3.Connection, run_id: int):
        self.db_path = db_path
        self.run_id = run_id
        self._conn = conn
        self._db_lock = threading.Lock()  # one connection, used by the heartbeat thread too
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"retrain-heartbeat-{run_id}", daemon=True)
        self._thread.start()

    @classmethod
    def acquire(cls, db_path: Path, trigger: str) -> RunLock:
        conn = _connect(db_path)
        try:
            run_id = runs.try_start(conn, trigger, os.getpid(), time.time())
            if run_id is None:
                holder = conn.execute(
                    "SELECT id, pid, started FROM retrain_runs WHERE status = 'running'").fetchone()
                who = f"run {holder[0]}, process {holder[1]}" if holder else "another run"
                raise RetrainBusy(f"another retrain is running ({who}); try again when it has finished")
        except sqlite3.OperationalError as exc:
            conn.close()
            raise RetrainError(f"{db_path} is not a Sleeve feedback database (or is locked): {exc}") from exc
        except BaseException:
            conn.close()
            raise
        return cls(db_path, conn, run_id)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_EVERY_S):
            try:
                with self._db_lock:
                    alive = runs.heartbeat(self._conn, self.run_id, time.time())
            except sqlite3.Error as exc:
                log.warning("retrain heartbeat failed: %s", exc)
                continue
            if not alive:
                self._lost.set()
                return

    def check(self) -> None:
        """Raise LockLost if another process has taken over (before anything is switched)."""
        with self._db_lock:
            status = self._conn.execute("SELECT status FROM retrain_runs WHERE id = ?", (self.run_id,)).fetchone()
        if self._lost.is_set() or status is None or status[0] != "running":
            raise LockLost(f"retrain run {self.run_id} lost its lock (marked {status[0] if status else 'gone'})")

    def version_names(self) -> set[str]:
        with self._db_lock:
            return {row[0] for row in self._conn.execute("SELECT version FROM model_versions")}

    def reconcile(self, registry: ModelRegistry) -> None:
        """Record the served version as promoted if a crash came between the switch and the record."""
        name = registry.current_name()
        if not name or name == SHIPPED:
            return
        with self._db_lock:
            row = self._conn.execute("SELECT promoted FROM model_versions WHERE version = ?", (name,)).fetchone()
            if row is not None and row[0] == 1:
                return
            try:
                manifest = artifacts.read_manifest(registry.path(name))
            except artifacts.ArtifactError:
                return  # damaged: the registry serves something else and says so
            metrics = {k: _brief(v) if isinstance(v, dict) else v for k, v in manifest.get("metrics", {}).items()}
            runs.record_model_version(self._conn, name, metrics, str(registry.path(name)), True, time.time())
            log.warning("model version %s is served but was not recorded as promoted; recorded it now", name)

    def finish(self, result: RetrainResult, path: Path | None) -> None:
        """Record the challenger's version and close the run, in one transaction."""
        summary = result.to_dict()
        metrics = summary["metrics"].get("challenger") or {}
        now = time.time()
        with self._db_lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                if result.version is not None:
                    runs.record_model_version(self._conn, result.version, metrics,
                                              None if path is None else str(path), result.status == "promoted", now)
                if not runs.finish(self._conn, self.run_id, result.status, summary, now):
                    raise LockLost(f"retrain run {self.run_id} was no longer running when it finished")
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        self._finished = True

    def fail(self, exc: BaseException) -> None:
        if getattr(self, "_finished", False):
            return
        summary = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
        try:
            with self._db_lock:
                runs.finish(self._conn, self.run_id, "failed", summary, time.time())
        except sqlite3.Error as db_exc:
            log.warning("could not mark retrain run %s failed: %s", self.run_id, db_exc)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with self._db_lock:
            self._conn.close()
