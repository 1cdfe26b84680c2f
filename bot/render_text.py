"""Plain-text replies, for the console and text-only chats:

    Lanterns at Dusk — The Velvet Lanterns
    Rock        ██████░░░░  62%   why: dark, guitar
    Pop         ██░░░░░░░░  19%
    Electronic  ██░░░░░░░░  19%
    Popularity: ~31 (17–44) — covers barely predict popularity: …
    reads: LANTERNS AT DUSK
    Tags: dark, guitar, grainy
    Spotify says: psychedelic rock, indie rock · released 2019-04-12
    Model v20261122-044653 · Vote: reply with the right genre (Rock, Pop, …), or "ok" if Rock is right.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from bot.replies import Reply
from models.distinctive import DistinctiveTag
from models.prediction import Prediction

BAR_WIDTH = 10
TOP_GENRES = 3
MAX_TAGS = 8
READS_LIMIT = 80  # characters of a cover's text shown in a reply
DEFAULT_VOTE_HINT = 'Vote: reply with the right genre ({genres}), or "ok" if {top} is right.'


def bar(probability: float, width: int = BAR_WIDTH) -> str:
    filled = min(width, max(0, round(probability * width)))
    return "█" * filled + "░" * (width - filled)


def render_reply(reply: Reply, vote_hint: str | None = DEFAULT_VOTE_HINT) -> str:
    """The whole reply as text; vote_hint (with {genres} and {top}) is shown for recorded predictions."""
    if reply.kind != "prediction" or reply.prediction is None:
        return "\n".join(part for part in (reply.title, reply.text) if part)
    lines = [_title(reply), *genre_lines(reply.prediction)]
    if reply.text:
        lines.append(reply.text)
    reads = cover_text(reply.prediction.text)
    if reads:
        lines.append(f"reads: {reads}")
    lines.append(popularity_line(reply.prediction))
    if reply.prediction.tags:
        lines.append("Tags: " + ", ".join(t.tag for t in reply.prediction.tags[:MAX_TAGS]))
    if says := spotify_says(reply.spotify_genres, reply.release_date):
        lines.append("Spotify says: " + says)
    if reply.unsure:
        lines.append(unsure_line(reply.prediction))
    lines.append(_footer(reply, vote_hint))
    return "\n".join(lines)


def genre_lines(prediction: Prediction, k: int = TOP_GENRES) -> list[str]:
    top = prediction.top(k)
    width = max(len(g.genre) for g in top) + 2
    lines = []
    for g in top:
        line = f"{g.genre:<{width}}{bar(g.probability)} {g.probability * 100:3.0f}%"
        reasons = why(prediction, g.genre)
        lines.append(f"{line}   why: {', '.join(reasons)}" if reasons else line)
    return lines


def why(prediction: Prediction, genre: str) -> list[str]:
    """The genre's distinctive tags on this cover, and for the top genre the read words behind it."""
    reasons = list(prediction.distinctive_tags.get(genre, []))
    if genre == prediction.top_genre:
        reasons += [f'"{cover_text(w, 24)}"' for w in prediction.read_words]
    return reasons


def cover_text(text: str, limit: int = READS_LIMIT) -> str:
    """Read text fit for one reply line: control characters dropped, spaces collapsed, cut to limit.

    Escaping for markup and mentions is each front end's job; this only keeps the text short and
    on one line (no terminal escape codes reach the console).
    """
    printable = "".join(c if unicodedata.category(c)[0] != "C" else " " for c in text)
    flat = " ".join(printable.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def popularity_line(prediction: Prediction) -> str:
    p = prediction.popularity
    line = f"Popularity: ~{p.value:.0f} ({p.low:.0f}–{p.high:.0f})"
    return f"{line} — {p.skill_note}" if p.skill_note else line


def unsure_line(prediction: Prediction) -> str:
    first, second = prediction.genres[0].genre, prediction.genres[1].genre
    return f"I'm torn between {first} and {second} — which is it? Your vote teaches me."


def distinctive_label(tag: DistinctiveTag) -> str:
    """ "skull ×3.1": the tag and how many times more often it is on the genre's covers than on all."""
    return tag.tag if tag.lift is None else f"{tag.tag} ×{tag.lift:.1f}"


def render_tags(tags: Mapping[str, Sequence[DistinctiveTag]]) -> str:
    if not tags:
        return "I don't know that genre."
    lines = [f"{genre}: {', '.join(distinctive_label(t) for t in found) or '(none yet)'}" for genre, found in tags.items()]
    if any(t.lift is not None for found in tags.values() for t in found):
        lines.append("(×N: how many times more often the tag is on that genre's covers than on all covers)")
    return "\n".join(lines)


def render_stats(stats: dict[str, Any]) -> str:
    accuracy = stats["live_accuracy"]
    top1 = "no votes yet" if accuracy["top1"] is None else f"{accuracy['top1'] * 100:.0f}% of {accuracy['n']} voted"
    lines = [
        f"Model {stats['model_version']} ({', '.join(stats['genres'])})",
        f"Predictions: {stats['predictions']} ({stats['predictions_this_model']} by this model)",
        f"Votes: {stats['votes']} from {stats['voters']} people",
        f"Live accuracy: {top1}",
    ]
    per_genre = [f"{g} {v['correct']}/{v['total']}" for g, v in accuracy.get("per_genre", {}).items() if v["total"]]
    if per_genre:
        lines.append("  by genre: " + ", ".join(per_genre))
    if stats.get("suggestions"):
        lines.append("Suggested genres I don't know: " + ", ".join(f"{g} ({n})" for g, n in stats["suggestions"].items()))
    last = stats.get("last_retrain")
    if last:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(last["started"])) if last.get("started") else ""
        reason = f" — {last['reason']}" if last.get("reason") else ""
        lines.append(f"Last retrain: {last['status']} {when}{reason}".rstrip())
    return "\n".join(lines)


def _title(reply: Reply) -> str:
    if not reply.is_artist_guess:
        return reply.title
    if reply.n_covers == 0:
        return f"{reply.title} (artist — judged from their photo)"
    covers = "cover" if reply.n_covers == 1 else "covers"
    return f"{reply.title} (artist — judged from {reply.n_covers} {covers})"


def _footer(reply: Reply, vote_hint: str | None) -> str:
    assert reply.prediction is not None
    model = f"Model {reply.prediction.model_version}"
    if reply.prediction_id is None or not vote_hint:
        return model
    genres = ", ".join(g.genre for g in reply.prediction.genres)
    return f"{model} · " + vote_hint.format(genres=genres, top=reply.prediction.top_genre)


def spotify_says(genres: Sequence[str], release_date: str | None) -> str:
    """What Spotify told us about the item: its genres and release date ("" when nothing)."""
    released = [f"released {release_date}"] if release_date else []
    return " · ".join(part for part in (", ".join(genres), *released) if part)
