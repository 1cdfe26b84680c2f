import numpy as np

from models.distinctive import DistinctiveTag, distinctive_tags, genre_totals

VOCAB = ["dark", "face", "guitar", "neon", "red", "cowboy hat"]
GENRES = ["Country", "Electronic", "Rock"]


def names(result: dict[str, list[DistinctiveTag]]) -> dict[str, list[str]]:
    return {genre: [t.tag for t in tags] for genre, tags in result.items()}


def test_tag_in_one_top_n_only_is_distinctive():
    # Summed scores per genre (rows) and tag (columns), top-2 per genre.
    totals = np.array([
        [5, 9, 1, 0, 0, 8],  # Country: face, cowboy hat
        [7, 1, 0, 9, 0, 0],  # Electronic: neon, dark
        [9, 8, 6, 0, 1, 0],  # Rock: dark, face
    ], dtype=float)
    counts = np.array([10, 10, 10])
    result = names(distinctive_tags(totals, counts, VOCAB, GENRES, top_n=2, rank="share"))
    assert result["Country"] == ["cowboy hat"]  # 'face' is in Rock's top-2 too
    assert result["Electronic"] == ["neon"]  # 'dark' is in Rock's top-2 too
    assert result["Rock"] == ["red", "guitar", "face"]  # its top-2 is shared, so the highest-lift tags stand in


def test_genre_left_empty_falls_back_to_lift():
    totals = np.array([
        [9, 8, 0, 0, 1, 0],
        [9, 8, 0, 0, 0, 0],
        [9, 8, 5, 0, 0, 0],
    ], dtype=float)
    counts = np.array([10, 10, 10])
    result = names(distinctive_tags(totals, counts, VOCAB, GENRES, top_n=2, fallback_k=1))
    # Every genre shares the same top-2, so all fall back: Rock's guitar has the highest lift there.
    assert result["Rock"] == ["guitar"]
    assert result["Country"] == ["red"]
    assert all(result[g] for g in ["Country", "Rock"])


def test_no_genre_ends_empty_when_any_tag_has_lift():
    rng = np.random.default_rng(0)
    totals = rng.random((3, 6)) * 10
    totals[:, :2] = 20  # the same two tags top every genre
    result = distinctive_tags(totals, np.array([10, 10, 10]), VOCAB, GENRES, top_n=2)
    assert all(result[g] for g in GENRES)


def test_genre_totals_count_multi_genre_rows_in_each_genre():
    scores = np.array([[1.0, 0, 0, 0, 0, 0], [0, 1.0, 0, 0, 0, 0]])
    totals, counts = genre_totals(scores, [{"Rock", "Country"}, {"Rock"}], GENRES)
    assert counts.tolist() == [1, 0, 2]
    assert totals[2, :2].tolist() == [1.0, 1.0] and totals[0, 0] == 1.0


def test_distinctive_tags_carry_lift_share_and_support():
    # 10 covers per genre; 'cowboy hat' scores 8 in Country's 10 covers and 0 elsewhere.
    totals = np.array([
        [5, 9, 1, 0, 0, 8],
        [7, 1, 0, 9, 0, 0],
        [9, 8, 6, 0, 1, 0],
    ], dtype=float)
    carriers = np.array([[4, 9, 1, 0, 0, 7], [6, 1, 0, 9, 0, 0], [9, 8, 6, 0, 1, 0]])
    result = distinctive_tags(totals, np.array([10, 10, 10]), VOCAB, GENRES, top_n=2, carriers=carriers, rank="share")
    [hat] = result["Country"]
    assert hat.tag == "cowboy hat"
    assert hat.share == 0.8  # 8 / 10 covers
    assert hat.lift == 3.0  # 0.8 in Country / (8 / 30) overall
    assert hat.support == 7


def test_distinctive_tag_reads_old_and_new_tags_json_entries():
    assert DistinctiveTag.from_json("brown") == DistinctiveTag("brown")
    new = DistinctiveTag("skull", 3.1, 0.12, 40)
    assert DistinctiveTag.from_json(new.to_dict()) == new


def test_lift_ranking_keeps_tags_common_everywhere_out_of_the_tops():
    # 'dark' is the most frequent tag of every genre (lift 1); ranked by lift, each genre's own tag
    # tops its list and 'dark' is distinctive of none.
    totals = np.array([
        [9, 0, 0, 0, 0, 5],  # Country: cowboy hat
        [9, 0, 0, 5, 0, 0],  # Electronic: neon
        [9, 0, 5, 0, 0, 0],  # Rock: guitar
    ], dtype=float)
    counts = np.array([10, 10, 10])
    by_share = names(distinctive_tags(totals, counts, VOCAB, GENRES, top_n=2, rank="share"))
    by_lift = names(distinctive_tags(totals, counts, VOCAB, GENRES, top_n=1))
    assert by_lift == {"Country": ["cowboy hat"], "Electronic": ["neon"], "Rock": ["guitar"]}
    assert all("dark" not in tags for tags in by_lift.values())
    assert by_share["Country"] == ["cowboy hat"]  # top-2 by share: dark (shared) + its own


def test_lift_ranking_ignores_tags_below_the_minimum_share():
    # 'red' is on 1 of 100 Rock covers and none elsewhere (lift 3), 'guitar' on 30 (lift 1.5).
    totals = np.array([[0, 0, 10, 0, 0, 0], [0, 0, 10, 0, 0, 0], [0, 0, 30, 0, 1, 0]], dtype=float)
    counts = np.array([100, 100, 100])
    rock = names(distinctive_tags(totals, counts, VOCAB, GENRES, top_n=2, min_share=0.02))["Rock"]
    assert rock == ["guitar"]
    assert names(distinctive_tags(totals, counts, VOCAB, GENRES, top_n=2, min_share=0.005))["Rock"] == ["red", "guitar"]
