"""The retrain job's result: one typed contract, written once as JSON by `python -m training retrain
--json` and parsed once by the bot (`RetrainResult.from_json`). Front ends render this type only."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from training.promotion import PairedTest

Status = Literal["promoted", "rejected", "dry_run"]


@dataclass(frozen=True)
class Scores:
    """One model on one split."""

    n: int
    top1: float
    top2: float
    macro_f1: float

    @classmethod
    def of(cls, metrics: dict[str, Any]) -> Scores:
        """From `training.metrics.genre_metrics`' dict."""
        return cls(int(metrics["n"]), float(metrics["top1"]), float(metrics["top2"]), float(metrics["macro_f1"]))


@dataclass(frozen=True)
class Split:
    """Champion (served) and challenger (retrained) on the same covers."""

    champion: Scores
    challenger: Scores

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Split:
        return cls(Scores(**data["champion"]), Scores(**data["challenger"]))


@dataclass(frozen=True)
class Counts:
    base_train: int = 0
    base_validation: int = 0
    feedback_train: int = 0
    feedback_held_out: int = 0
    feedback_voted_covers: int = 0
    feedback_unlabelled: int = 0
    suggestion_votes: int = 0
    suggestions: dict[str, int] = field(default_factory=dict)  # genre -> distinct covers
    spotify_excluded: int = 0
    include_spotify: bool = False
    wrong_dimension: int = 0


@dataclass(frozen=True)
class Origin:
    """The model this lineage of retrains started from (the shipped one, normally): the floor."""

    version: str
    base_validation_top1: float


@dataclass(frozen=True)
class NewGenre:
    """A class the challenger learnt from votes (NEW_GENRES), scored on its held-out votes."""

    name: str
    train_covers: int
    held_out_covers: int
    recall: float | None  # share of its held-out covers the challenger calls it; None without any


@dataclass(frozen=True)
class RetrainResult:
    status: Status
    promoted: bool  # the decision (in a dry run: what would have happened)
    reason: str
    champion: str  # the registry name served when the run started ("shipped" for the shipped model)
    champion_version: str  # the champion's manifest version
    counts: Counts
    version: str | None = None  # the challenger's version name; written and served only when promoted
    run_id: int | None = None
    base_validation: Split | None = None
    feedback_held_out: Split | None = None
    paired: PairedTest | None = None  # challenger vs champion on both splits' covers together
    origin: Origin | None = None
    new_genres: tuple[NewGenre, ...] = ()
    seconds: float = 0.0
    pruned: tuple[str, ...] = ()

    @property
    def dry_run(self) -> bool:
        return self.status == "dry_run"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RetrainResult:
        def optional(key: str, build: Any) -> Any:
            return None if data.get(key) is None else build(data[key])

        return cls(
            status=data["status"],
            promoted=bool(data["promoted"]),
            reason=str(data["reason"]),
            champion=str(data["champion"]),
            champion_version=str(data["champion_version"]),
            counts=Counts(**data["counts"]),
            version=data.get("version"),
            run_id=data.get("run_id"),
            base_validation=optional("base_validation", Split.from_dict),
            feedback_held_out=optional("feedback_held_out", Split.from_dict),
            paired=optional("paired", lambda d: PairedTest(**d)),
            origin=optional("origin", lambda d: Origin(**d)),
            new_genres=tuple(NewGenre(**g) for g in data.get("new_genres", ())),
            seconds=float(data.get("seconds", 0.0)),
            pruned=tuple(data.get("pruned", ())),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> RetrainResult:
        """Raises ValueError when the text is not a retrain result."""
        try:
            return cls.from_dict(json.loads(text))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a retrain result: {exc}") from exc
