import numpy as np
import pytest
from PIL import Image

from training import cli
from training.compare import compare_experiments
from training.experiments import Experiment, Searched, predict_views, shipped_recipe, training_rows, view, view_embeddings


def halves(left, right, size=(10, 10)):
    image = Image.new("RGB", size, right)
    image.paste(Image.new("RGB", (size[0] // 2, size[1]), left), (0, 0))
    return image


def test_flip_mirrors_and_crop_keeps_the_centre():
    image = halves((255, 0, 0), (0, 0, 255), size=(100, 50))
    assert view(image, "full") is image
    assert view(image, "flip").getpixel((0, 0)) == (0, 0, 255)
    crop = view(image, "crop")
    assert crop.size == (80, 40)
    assert crop.getpixel((0, 0)) == (255, 0, 0)
    assert view(image, "crop-flip").getpixel((0, 0)) == (0, 0, 255)


class FakeViews:
    def __init__(self, matrices):
        self.matrices = matrices

    def get(self, name, blocks):
        return self.matrices[name]


def test_training_rows_repeat_multi_genre_covers_per_view_and_group_them():
    full = np.arange(8, dtype=float).reshape(4, 2)
    views = FakeViews({"full": full, "flip": -full})
    experiment = Experiment("x", shipped_recipe, views=("full", "flip"))
    labels = [frozenset({"A"}), frozenset({"A", "B"}), frozenset({"B"}), frozenset({"B"})]
    x, y, groups = training_rows(experiment, views, np.array([1, 2]), labels, ["A", "B"])
    assert y.tolist() == [0, 1, 1, 0, 1, 1]
    assert groups.tolist() == [1, 1, 2, 1, 1, 2]
    assert x.tolist() == [[2, 3], [2, 3], [4, 5], [-2, -3], [-2, -3], [-4, -5]]


class Echo:
    """Returns its input as probabilities; knows classes 0 and 2 of three."""

    classes_ = np.array([0, 2])

    def predict_proba(self, x):
        return x


def test_predict_views_averages_over_views_in_genre_order():
    views = FakeViews({"full": np.array([[1.0, 0.0]]), "flip": np.array([[0.0, 1.0]])})
    experiment = Experiment("x", shipped_recipe, views=("full", "flip"))
    assert predict_views(Echo(), experiment, views, np.array([0]), 3).tolist() == [[0.5, 0.0, 0.5]]


def test_searched_picks_from_its_grid_with_covers_kept_whole():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(1, 0.3, (30, 4)), rng.normal(-1, 0.3, (30, 4))])
    y = np.repeat([0, 1], 30)
    from sklearn.linear_model import LogisticRegression

    model = Searched(LogisticRegression(), {"C": [0.1, 10.0]}).fit(x, y, groups=np.arange(60) // 2)
    assert model.best_params_["C"] in {0.1, 10.0}
    assert (model.predict_proba(x).argmax(axis=1) == y).mean() == 1.0


class CountingEmbedder:
    sha256 = "f" * 64

    def __init__(self):
        self.calls = 0

    def embed(self, images):
        self.calls += 1
        return np.array([np.asarray(i, dtype=np.float32).mean(axis=(0, 1)) for i in images]), None


def test_view_embeddings_are_cached(tmp_path):
    paths = []
    for i, colour in enumerate([(255, 0, 0), (0, 255, 0)]):
        paths.append(tmp_path / f"{i}.png")
        halves(colour, (0, 0, 0)).save(paths[-1])
    embedder = CountingEmbedder()
    first = view_embeddings(paths, "flip", embedder, tmp_path / "cache", progress=False)
    again = view_embeddings(paths, "flip", embedder, tmp_path / "cache", progress=False)
    assert embedder.calls == 1
    np.testing.assert_array_equal(first, again)
    assert first[0, 0] > 0 and first[1, 1] > 0


@pytest.fixture
def two_colour_genres(tmp_path):
    """Red covers are 'Warm', blue ones 'Cold': any working experiment separates them."""
    rng = np.random.default_rng(7)
    for genre, colour in [("Warm", (220, 40, 30)), ("Cold", (30, 60, 220))]:
        (tmp_path / genre).mkdir()
        for i in range(10):
            noise = rng.integers(-30, 30, (64, 64, 3))
            pixels = np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / genre / f"{i}.png")
    return tmp_path


def test_compare_experiments_end_to_end(two_colour_genres, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the feature cache goes to ./.cache
    experiment = Experiment("flip views", shipped_recipe, views=("full", "flip"))
    rows = compare_experiments(two_colour_genres, two_colour_genres, [experiment], progress=False)
    assert [row["recipe"] for row in rows] == ["flip views"]
    assert rows[0]["top1"] == 1.0 and rows[0]["check_top1"] == 1.0
    assert list((tmp_path / ".cache").glob("view-flip-*.npy"))


def test_cli_experiments_flag_runs_the_experiments_table(monkeypatch, capsys, tmp_path):
    called = {}

    def fake(data, check, progress):
        called["args"] = (data, check, progress)
        return [{"recipe": "r", "top1": 0.5, "top2": 0.7, "macro_f1": 0.4, "ece": 0.1, "check_top1": 0.3, "fit_seconds": 1.0}]

    monkeypatch.setattr("training.compare.compare_experiments", fake)
    assert cli.main(["compare", "--data", str(tmp_path), "--check", str(tmp_path), "--experiments", "--no-progress"]) == 0
    assert called["args"] == (tmp_path, tmp_path, False)
    assert "| r | 0.500 | 0.700 |" in capsys.readouterr().out


def test_learning_curve_on_shares_of_the_training_covers(two_colour_genres, tmp_path, monkeypatch):
    from training.compare import learning_curve, learning_curve_markdown

    monkeypatch.chdir(tmp_path)
    rows = learning_curve(two_colour_genres, two_colour_genres, shares=(0.5, 1.0), repeats=2, progress=False)
    assert [(r["covers"], r["runs"]) for r in rows] == [(8, 2), (16, 1)]
    assert all(r["top1"] == 1.0 for r in rows)
    assert "| 16 (100.0%) | 1 | 1.000 (0.000) |" in learning_curve_markdown(rows)


def test_cli_table_flags_exclude_each_other(tmp_path):
    with pytest.raises(SystemExit):
        cli.main(["compare", "--data", str(tmp_path), "--check", str(tmp_path), "--experiments", "--learning-curve"])


def test_calibration_folds_keep_a_covers_views_together():
    """Calibrating on one view of a cover the SVC was fitted on would make it look far surer than it is."""
    from sklearn.svm import SVC

    from training.experiments import Calibrated

    rng = np.random.default_rng(3)
    covers = rng.normal(size=(60, 4))
    labels = np.arange(60) % 2
    # Two views per cover, rows shuffled: a splitter that ignores groups (even a plain KFold, which
    # would keep adjacent pairs together) puts some cover's two views in different folds.
    order = rng.permutation(120)
    x, y, groups = np.repeat(covers, 2, axis=0)[order], np.repeat(labels, 2)[order], np.repeat(np.arange(60), 2)[order]
    model = Calibrated(SVC()).fit(x, y, groups)
    folds = model.model_[-1].cv
    assert len(folds) == 5
    assert sorted(np.concatenate([held_out for _, held_out in folds]).tolist()) == list(range(120))
    for fitted, held_out in folds:
        assert not set(groups[fitted]) & set(groups[held_out])
    assert model.predict_proba(covers).shape == (60, 2)


def test_compare_recipes_table(two_colour_genres, tmp_path, monkeypatch):
    from models.genre import Recipe
    from training.compare import compare, markdown

    monkeypatch.chdir(tmp_path)
    rows = compare(two_colour_genres, two_colour_genres, {"logistic regression": Recipe()}, progress=False)
    assert rows[0]["top1"] == 1.0 and rows[0]["check_top1"] == 1.0
    assert markdown(rows).splitlines()[2].startswith("| logistic regression | 1.000 | 1.000 |")


def test_rbf_kernel_map_is_similarity_to_the_training_rows():
    from training.experiments import RBFKernelMap

    landmarks = np.array([[1.0, 0.0], [0.0, 1.0]])
    kernel = RBFKernelMap(gamma=0.5).fit(landmarks)
    got = kernel.transform(np.array([[1.0, 0.0], [0.0, 0.0]]))
    np.testing.assert_allclose(got, [[1.0, np.exp(-1.0)], [np.exp(-0.5), np.exp(-0.5)]], rtol=1e-6)


def test_searched_parameters_are_named_without_step_prefixes():
    from training.compare import _chosen

    assert _chosen({"logisticregression__C": 30, "rbfkernelmap__gamma": 4}) == " → C=30, gamma=4"
    assert _chosen(None) == ""
