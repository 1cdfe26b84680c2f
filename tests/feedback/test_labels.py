from collections import Counter

import pytest

from feedback.labels import (
    MAX_LABEL_CHARS,
    LiveAccuracy,
    Suggestion,
    Vote,
    canonical_genre,
    clean_label,
    genre_key,
    label_from_votes,
    live_accuracy,
    suggested_genres,
    weighted_tally,
)

KNOWN = {"rock", "jazz", "pop"}


def votes(*labels: str, admins: tuple[str, ...] = ()) -> list[Vote]:
    return [Vote(voter_id=f"v{i}", label=label, is_admin=label in admins) for i, label in enumerate(labels)]


def test_majority_wins():
    assert label_from_votes(votes("rock", "jazz", "rock"), KNOWN) == "rock"


def test_single_vote_is_enough_by_default():
    assert label_from_votes(votes("jazz"), KNOWN) == "jazz"


def test_no_votes_no_label():
    assert label_from_votes([], KNOWN) is None


def test_tie_gives_no_label():
    assert label_from_votes(votes("rock", "jazz"), KNOWN) is None
    assert label_from_votes(votes("rock", "jazz", "pop", "pop", "rock"), KNOWN) is None


def test_plurality_is_enough():
    assert label_from_votes(votes("rock", "rock", "jazz", "pop"), KNOWN) == "rock"


def test_min_votes_counts_voters_for_known_genres():
    assert label_from_votes(votes("rock", "rock"), KNOWN, min_votes=3) is None
    assert label_from_votes(votes("rock", "rock", "jazz"), KNOWN, min_votes=3) == "rock"
    assert label_from_votes(votes("rock", "rock", "vaporwave"), KNOWN, min_votes=3) is None
    assert label_from_votes(votes("rock", "rock"), KNOWN, min_votes=2, admin_weight=5) == "rock"


def test_admin_weight_breaks_what_would_be_a_tie():
    ballot = votes("rock", "jazz", admins=("jazz",))
    assert label_from_votes(ballot, KNOWN) is None
    assert label_from_votes(ballot, KNOWN, admin_weight=2) == "jazz"


def test_admin_weight_can_outvote_majority():
    ballot = votes("rock", "rock", "jazz", admins=("jazz",))
    assert label_from_votes(ballot, KNOWN, admin_weight=2) is None  # 2 vs 2: tie
    assert label_from_votes(ballot, KNOWN, admin_weight=3) == "jazz"


def test_admin_weight_does_not_satisfy_min_votes():
    assert label_from_votes(votes("jazz", admins=("jazz",)), KNOWN, min_votes=2, admin_weight=2) is None


def test_unknown_genre_is_a_suggestion_never_a_label():
    ballot = votes("vaporwave", "vaporwave", "vaporwave", "rock")
    assert label_from_votes(ballot, KNOWN) == "rock"
    assert label_from_votes(votes("vaporwave"), KNOWN) is None
    assert suggested_genres([ballot], KNOWN) == [Suggestion("vaporwave", covers=1, votes=3)]
    assert weighted_tally(ballot, KNOWN) == Counter({"rock": 1.0})


def test_no_suggestions_when_all_known():
    assert suggested_genres([votes("rock", "pop")], KNOWN) == []


# -- normalisation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["jazz", " Jazz ", "JAZZ", "ｊａｚｚ", "Ja\u200bzz", "jaz\u00adz"])
def test_spellings_of_one_genre_share_a_key(spelling: str) -> None:
    assert genre_key(spelling) == "jazz"
    assert canonical_genre(spelling, ["Rock", "Jazz"]) == "Jazz"


@pytest.mark.parametrize("spelling", ["Hip-Hop", "hip hop", "HIP_HOP", "hip\u2011hop", "HipHop"])
def test_spaces_and_hyphens_do_not_make_another_genre(spelling: str) -> None:
    assert canonical_genre(spelling, ["HipHop", "Rock"]) == "HipHop"


def test_a_zero_width_space_does_not_turn_a_known_genre_into_a_suggestion() -> None:
    ballot = votes("Rock\u200b", "\u200bRock")
    assert label_from_votes(ballot, {"Rock"}) == "Rock"
    assert suggested_genres([ballot], {"Rock"}) == []


def test_clean_label_strips_escapes_and_controls_and_caps_the_length() -> None:
    assert clean_label("\x1b[31mRed\x1b[0m \x1b]0;title\x07metal\r\n") == "Red metal"
    assert clean_label("\x1b[2J\x1b[Hpolka\x07\x00") == "polka"
    assert clean_label("\u202eklop") == "klop"  # a bidi override is a format character
    assert clean_label("  lo-fi   hip   hop ") == "lo-fi hip hop"
    assert len(clean_label("x" * 5_000_000)) == MAX_LABEL_CHARS
    assert clean_label("\u200b\u200b") == "" and genre_key("\x1b[0m") == ""


def test_suggestions_count_distinct_covers_and_merge_spellings() -> None:
    ballots = [votes("polka", "Polka", "POLKA"), votes(" Polka "), votes("K-pop"), votes("kpop", "Rock")]
    assert suggested_genres(ballots, {"Rock"}) == [
        Suggestion("Polka", covers=2, votes=4),
        Suggestion("K-pop", covers=2, votes=2),
    ]


def test_live_accuracy():
    acc = live_accuracy([("rock", "rock"), ("rock", "jazz"), ("jazz", "jazz"), ("pop", "jazz")])
    assert acc.n == 4
    assert acc.top1 == 0.5
    assert acc.per_genre == {"jazz": (1, 3), "rock": (1, 1)}


def test_live_accuracy_empty():
    assert live_accuracy([]) == LiveAccuracy(n=0, top1=None, per_genre={})
