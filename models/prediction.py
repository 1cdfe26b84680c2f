"""The result of judging one cover, as every front end and the store sees it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class GenreScore:
    genre: str
    probability: float


@dataclass(frozen=True)
class Popularity:
    value: float
    low: float
    high: float
    # Spearman correlation of the model's guesses with the truth on validation; <= 0 means no skill.
    skill: float
    skill_note: str


@dataclass(frozen=True)
class Tag:
    tag: str
    score: float


@dataclass(frozen=True)
class Prediction:
    genres: list[GenreScore]  # all known genres, most likely first
    popularity: Popularity
    tags: list[Tag]  # most confident first
    distinctive_tags: dict[str, list[str]]  # genre -> the cover's tags distinctive of that genre (top genres only)
    model_version: str
    features: np.ndarray = field(repr=False, compare=False)  # float32 vector the genre model saw
    text: str = ""  # what the cover reads ("" when nothing legible)
    read_words: list[str] = field(default_factory=list)  # read words that push toward the top genre

    @property
    def top_genre(self) -> str:
        return self.genres[0].genre

    @property
    def margin(self) -> float:
        """Probability gap between the first and second guess (small = unsure)."""
        if len(self.genres) < 2:
            return 1.0
        return self.genres[0].probability - self.genres[1].probability

    def top(self, k: int = 3) -> list[GenreScore]:
        return self.genres[:k]

    def to_dict(self) -> dict:
        return {
            "genres": [{"genre": g.genre, "probability": round(g.probability, 4)} for g in self.genres],
            "popularity": {
                "value": round(self.popularity.value, 1),
                "low": round(self.popularity.low, 1),
                "high": round(self.popularity.high, 1),
                "skill": round(self.popularity.skill, 3),
                "skill_note": self.popularity.skill_note,
            },
            "tags": [{"tag": t.tag, "score": round(t.score, 3)} for t in self.tags],
            "distinctive_tags": self.distinctive_tags,
            "model_version": self.model_version,
            "text": self.text,
            "read_words": self.read_words,
        }
