import numpy as np

from training.text_tuning import FOLDS, text_folds


def test_covers_reading_the_same_text_share_a_fold():
    genres = ["Country", "HipHop", "Rock"]
    texts = [f"artist {i % 30}" if i % 4 else "" for i in range(150)]  # 30 texts read by several covers each
    texts[7] = "ARTIST  7"  # the same text once normalised (case, spaces)
    label_sets = [frozenset({genres[i % 3]}) for i in range(150)]
    folds = text_folds(texts, label_sets)
    assert len(folds) == FOLDS
    held = np.concatenate([h for _, h in folds])
    assert sorted(held.tolist()) == list(range(150))  # each cover held out exactly once
    fold_of = {int(i): k for k, (_, h) in enumerate(folds) for i in h}
    for text in {" ".join(t.lower().split()) for t in texts if t}:
        same = [i for i, t in enumerate(texts) if " ".join(t.lower().split()) == text]
        assert len({fold_of[i] for i in same}) == 1, text
    untexted = [i for i, t in enumerate(texts) if not t]
    assert len({fold_of[i] for i in untexted}) == FOLDS  # covers without text are not one big group
