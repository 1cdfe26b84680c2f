"""Retraining and vote-writing speed.

    python benchmarks/bench_retrain.py [--feedback 10000] [--votes 1000 10000] [--json]

1. Retrain: the full committed base set plus N synthetic voted covers (noisy copies of base covers,
   labelled with their genre) in a Store-made database; the shipped model is the champion. Reports
   the whole `retrain()` call (lock, read, fit, evaluate both models, write, switch, prune) and the
   feedback read on its own. It runs with alpha 0 (every challenger promoted) so the write path is
   timed too, and reports the paired test's p-value, which decides at the default alpha (0.05). Target: 30 s for 10,000 covers.
   The time is the classifier's fit, mostly: it depends on the recipe the served model names.
2. Votes: N concurrent `Store.vote` calls (asyncio.gather on one Store, as the bot makes them),
   each a distinct voter on one of N recorded predictions; votes per second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from feedback.reader import load_feedback  # noqa: E402
from feedback.records import PredictionRecord  # noqa: E402
from feedback.store import Store, default_path  # noqa: E402
from models import artifact as artifacts  # noqa: E402
from training.promotion import ALPHA  # noqa: E402
from training.retrain import retrain  # noqa: E402
from training.train import GenreData  # noqa: E402

TARGET_S = 30.0


def record(n: int, vector: np.ndarray, genres: list[str]) -> PredictionRecord:
    probabilities = {g: (0.6 if i == n % len(genres) else 0.1) for i, g in enumerate(genres)}
    return PredictionRecord(platform="discord", source_kind="upload", source_ref=f"bench-{n}",
                            image_sha256=f"{n:064x}", model_version="bench", probabilities=probabilities,
                            popularity=50.0, tags=[("guitar", 0.8)], features=vector, requester_id=f"user{n}")


async def fill(db: Path, data: GenreData, n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    rows = rng.choice(data.train_rows, n, replace=True)
    async with await Store.open(db) as store:
        for i, row in enumerate(rows):
            vector = data.vectors[row] * (1 + rng.normal(size=data.vectors.shape[1]).astype(np.float32) * 0.05)
            prediction = await store.record_prediction(record(i, vector, data.genres))
            await store.vote(prediction, f"voter{i}", sorted(data.label_sets[row])[0])


def bench_retrain(n: int) -> dict:
    data = GenreData.load(artifacts.BASE_FEATURES)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        db = default_path(data_dir)
        started = time.perf_counter()
        asyncio.run(fill(db, data, n))
        fill_s = time.perf_counter() - started
        started = time.perf_counter()
        feedback = load_feedback(db, data.genres, data.vectors.shape[1])
        read_s = time.perf_counter() - started
        started = time.perf_counter()
        result = retrain(db, data_dir, alpha=0.0, progress=sys.stderr.isatty())
        total_s = time.perf_counter() - started
        recipe = result_recipe(data_dir, result)
    return {
        "feedback_covers": n,
        "base_train": result.counts.base_train,
        "feedback_train": result.counts.feedback_train,
        "feedback_held_out": result.counts.feedback_held_out,
        "fill_db_s": round(fill_s, 2),
        "read_feedback_s": round(read_s, 3),
        "retrain_s": round(total_s, 2),
        "target_s": TARGET_S,
        "meets_target": total_s <= TARGET_S,
        "status": result.status,
        "recipe": recipe,
        "paired_p_value": None if result.paired is None else result.paired.p_value,
        "default_alpha_decision": "reject" if result.paired and result.paired.p_value < ALPHA
        and result.paired.champion_only > result.paired.challenger_only else "promote",
        "reason": result.reason,
        "rows_read": len(feedback.train) + len(feedback.held_out),
    }


def result_recipe(data_dir: Path, result) -> dict | None:
    path = data_dir / "models" / str(result.version)
    return artifacts.read_manifest(path)["recipe"] if path.is_dir() else None


async def vote_rate(n: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        async with await Store.open(Path(tmp) / "sleeve.db") as store:
            genres = ["Country", "Electronic", "HipHop", "Pop", "Rock"]
            vector = np.zeros(1382, np.float32)
            ids = [await store.record_prediction(record(i, vector, genres)) for i in range(n)]
            started = time.perf_counter()
            labels = await asyncio.gather(*(store.vote(p, f"voter{i}", genres[i % 5]) for i, p in enumerate(ids)))
            elapsed = time.perf_counter() - started
            assert all(labels)
            stored = (await store.stats()).votes
    return {"votes": n, "seconds": round(elapsed, 3), "votes_per_s": round(n / elapsed), "stored": stored}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feedback", type=int, default=10_000, help="synthetic voted covers (0: skip)")
    parser.add_argument("--votes", type=int, nargs="*", default=[1_000, 10_000], help="concurrent votes per run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)  # sklearn's SVC(probability=True) notice

    report: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}"}
    report["votes"] = [asyncio.run(vote_rate(n)) for n in args.votes]
    for v in report["votes"]:
        print(f"votes: {v['votes']:>6} concurrent -> {v['votes_per_s']:>7} votes/s ({v['seconds']} s)", file=sys.stderr)
    if args.feedback:
        r = report["retrain"] = bench_retrain(args.feedback)
        verdict = "meets" if r["meets_target"] else "MISSES"
        print(f"retrain: {r['base_train']} base + {r['feedback_train']} feedback covers "
              f"({r['feedback_held_out']} held out): {r['retrain_s']} s, {verdict} the {TARGET_S:.0f} s target "
              f"(reading feedback {r['read_feedback_s']} s; {r['status']}; at alpha {ALPHA}: "
              f"{r['default_alpha_decision']}; recipe {r['recipe']})", file=sys.stderr)
    if args.json:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
