from collections import Counter

from feedback.labels import (
    LiveAccuracy,
    Vote,
    label_from_votes,
    live_accuracy,
    suggestions,
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
    assert suggestions(ballot, KNOWN) == Counter({"vaporwave": 3})
    assert weighted_tally(ballot, KNOWN) == Counter({"rock": 1.0})


def test_no_suggestions_when_all_known():
    assert suggestions(votes("rock", "pop"), KNOWN) == Counter()


def test_live_accuracy():
    acc = live_accuracy([("rock", "rock"), ("rock", "jazz"), ("jazz", "jazz"), ("pop", "jazz")])
    assert acc.n == 4
    assert acc.top1 == 0.5
    assert acc.per_genre == {"jazz": (1, 3), "rock": (1, 1)}


def test_live_accuracy_empty():
    assert live_accuracy([]) == LiveAccuracy(n=0, top1=None, per_genre={})
