"""The feedback simulation end to end on a tiny set: real service, store, retrain and registry."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from tests.bot.fake_spotify import COVERS
from training import cli
from training.simulate import Cover, _score, read_covers, simulate
from training.train import GenreData


def tiny_labels(tmp_path: Path, spotify_dir: Path, rows: list[tuple[str, str, str]]) -> Path:
    path = tmp_path / "labels.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "genres", "playlists"])
        writer.writerows(rows)
    return path


def test_rows_are_read_by_the_column_asked_for(tmp_path: Path, spotify_dir: Path) -> None:
    labels = tiny_labels(tmp_path, spotify_dir, [
        (f"images/{COVERS[0]}", "Pop", "Folk|2021"), (f"images/{COVERS[1]}", "", "Jazz"),
        (f"images/{COVERS[2]}", "Polka", ""), ("images/missing.jpg", "Rock", "Folk")])
    known = ["Country", "Electronic", "HipHop", "Pop", "Rock"]
    assert [c.label for c in read_covers(labels, spotify_dir, "genres", known, None)] == ["Pop"]
    assert [c.label for c in read_covers(labels, spotify_dir, "playlists", known, "Folk")] == ["Folk"]


def test_a_tiny_simulation_votes_retrains_and_scores(tmp_path: Path, spotify_dir: Path, small_base_path: Path) -> None:
    genres = ["Pop", "Rock", "Pop", "Rock", "Pop", "Rock"]
    labels = tiny_labels(tmp_path, spotify_dir, [(f"images/{c}", g, "") for c, g in zip(COVERS[:6], genres)])

    sim = simulate(labels, spotify_dir, 4, step=2, base_features=small_base_path)

    assert (sim.voted, sim.held_out) == (4, 2)
    assert [p.votes for p in sim.checkpoints] == [0, 2, 4]
    assert sim.checkpoints[0].status == "start" and {p.status for p in sim.checkpoints[1:]} <= {"promoted", "rejected"}
    assert all(0 <= p.base_top1 <= 1 and p.held_out_n == 2 for p in sim.checkpoints)


def test_the_command_prints_json_and_draws_the_curve(tmp_path: Path, spotify_dir: Path, small_base_path: Path,
                                                     capsys) -> None:
    labels = tiny_labels(tmp_path, spotify_dir, [(f"images/{c}", "", "Folk") for c in COVERS[:4]])
    png = tmp_path / "curve.png"
    code = cli.main(["simulate-feedback", "--labels", str(labels), "--images", str(spotify_dir), "--votes", "3",
                     "--column", "playlists", "--genre", "Folk", "--min-covers", "2", "--step", "3",
                     "--base-features", str(small_base_path), "--plot", str(png), "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["genre"] == "Folk" and result["checkpoints"][-1]["new_genre_n"] == 1
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


class ReadingOnlyModel:
    """Right only when given each cover's read text: the genre is the text itself."""

    genres = ["Pop", "Rock"]

    def predict_proba(self, vectors, texts=None):
        if texts is None:
            return np.tile([0.0, 1.0], (len(vectors), 1))  # always Rock
        return np.array([[1.0, 0.0] if t == "Pop" else [0.0, 1.0] for t in texts])


def test_checkpoints_score_the_model_with_what_covers_read(tmp_path: Path) -> None:
    labels = [frozenset({"Pop"}), frozenset({"Pop"}), frozenset({"Rock"}), frozenset({"Pop"})]
    base = GenreData(np.zeros((4, 2), np.float32), labels, np.array([True, True, True, False]), ["Pop", "Rock"],
                     ["a", "b", "c", "d"], np.zeros((4, 0), np.float32), [], texts=["Pop", "Pop", "", "Pop"],
                     sources=["discogs", "discogs", "musicbrainz", "discogs"])
    held_out = [Cover(tmp_path / "x.jpg", "Pop"), Cover(tmp_path / "y.jpg", "Rock")]
    model = SimpleNamespace(genre=ReadingOnlyModel(), version="v")

    point = _score("start", model, 0, base, np.zeros((2, 2), np.float32), ["Pop", ""], held_out, None)

    assert point.base_top1 == 1.0 and point.held_out_top1 == 1.0
    assert point.base_top1_by_source == {"discogs": 1.0, "musicbrainz": 1.0}
