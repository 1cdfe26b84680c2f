import csv
import json
import subprocess
import sys

from tests.conftest import ROOT


def write_subset(discogs_dir, spotify_dir, path, n=50):
    """A labels CSV in the shared format over ~50 real covers from both sets, with popularity."""
    rows = []
    with open(discogs_dir / "labels.csv", newline="") as f:
        rows += [{"file": str(discogs_dir / r["file"]), "genres": r["genres"], "popularity": ""} for r in list(csv.DictReader(f))[: n // 2]]
    with open(spotify_dir / "labels.csv", newline="") as f:
        rows += [{"file": str(spotify_dir / r["file"]), "genres": r["genres"], "popularity": r["popularity"]} for r in list(csv.DictReader(f))[: n // 2]]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["file", "genres", "popularity"])
        writer.writeheader()
        writer.writerows(rows)


def run_evaluate(*args):
    return subprocess.run([sys.executable, "-m", "training", "evaluate", *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_evaluate_json_on_shared_covers(discogs_dir, spotify_dir, tmp_path):
    labels = tmp_path / "labels.csv"
    write_subset(discogs_dir, spotify_dir, labels)
    done = run_evaluate("--labels", labels, "--images", "/", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {"n", "top1", "top2", "macro_f1", "per_genre", "spearman", "mae", "mae_median_baseline"} <= set(result)
    assert 0 < result["n"] <= 50
    assert 0.0 <= result["top1"] <= result["top2"] <= 1.0
    assert set(result["per_genre"]) == {"Country", "Electronic", "HipHop", "Pop", "Rock"}


def test_evaluate_text_report(discogs_dir, spotify_dir, tmp_path):
    labels = tmp_path / "labels.csv"
    write_subset(discogs_dir, spotify_dir, labels, n=10)
    done = run_evaluate("--labels", labels, "--images", "/")
    assert done.returncode == 0, done.stderr
    for words in ("top-1 accuracy", "top-2 accuracy", "macro-F1", "per-genre recall", "confusion", "median"):
        assert words in done.stdout


def test_evaluate_missing_path_is_a_clear_error(tmp_path):
    done = run_evaluate("--labels", tmp_path / "nope.csv", "--images", tmp_path)
    assert done.returncode == 2 and "does not exist" in done.stderr


def test_figures_draw_the_shipped_models_confusion_matrices(tmp_path):
    done = subprocess.run([sys.executable, "-m", "training", "figures", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for name in ("confusion_validation.png", "confusion_spotify.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
