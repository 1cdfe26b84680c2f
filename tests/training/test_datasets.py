import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT
from training.datasets import load_samples, read_folder_tree
from training.train import check_trainable


def write_cover(path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def test_folder_tree_keeps_covers_that_share_a_file_name(tmp_path):
    for i in range(3):
        write_cover(tmp_path / "Jazz" / f"{i:03}.png", seed=i)
        write_cover(tmp_path / "Metal" / f"{i:03}.png", seed=100 + i)
    samples = read_folder_tree(tmp_path)
    assert len(samples) == 6
    assert sorted(sorted(s.genres) for s in samples) == [["Jazz"]] * 3 + [["Metal"]] * 3


def test_folder_tree_merges_the_same_cover_filed_twice(tmp_path):
    write_cover(tmp_path / "Jazz" / "a.png", seed=1)
    write_cover(tmp_path / "Soul" / "copy-of-a.png", seed=1)
    [sample] = read_folder_tree(tmp_path)
    assert sample.genres == {"Jazz", "Soul"}


def test_labels_csv_is_used_when_present(tmp_path):
    write_cover(tmp_path / "img" / "x.png", seed=1)
    (tmp_path / "labels.csv").write_text("file,genres,popularity\nimg/x.png,Jazz;Soul,42\n")
    [sample] = load_samples(tmp_path)
    assert sample.genres == {"Jazz", "Soul"} and sample.popularity == 42.0


@pytest.mark.parametrize("labels, words", [
    ([frozenset({"Jazz"})] * 10, "at least two genres"),
    ([frozenset({"Jazz"})] * 10 + [frozenset({"Metal"})] * 2, "too few for Metal"),
])
def test_sets_too_small_to_train_on_are_refused_clearly(tmp_path, labels, words):
    with pytest.raises(ValueError, match=words):
        check_trainable(labels, tmp_path)


def test_train_cli_reports_a_too_small_set_without_a_traceback(tmp_path):
    for i in range(3):
        write_cover(tmp_path / "covers" / "Jazz" / f"{i}.png", seed=i)
    write_cover(tmp_path / "covers" / "Metal" / "0.png", seed=9)
    done = subprocess.run([sys.executable, "-m", "training", "train", "--data", str(tmp_path / "covers"),
                           "--out", str(tmp_path / "model"), "--no-progress"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "need at least 5 covers per genre" in done.stderr and "Traceback" not in done.stderr
