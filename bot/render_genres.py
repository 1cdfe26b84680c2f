"""/genres as plain text (console, Telegram); Discord escapes the same lines for its markdown."""

from __future__ import annotations

from bot.service.genres import GenresReport

MAX_SHOWN = 15


def genre_lines(report: GenresReport) -> list[str]:
    lines = [f"Genres I know: {', '.join(report.known)}."]
    if not report.pending:
        lines.append("Nobody has voted for a genre I don't know yet.")
    else:
        lines.append(f"Suggested by votes (new genres: {report.mode}, {report.min_covers} covers needed):")
        for genre in report.pending[:MAX_SHOWN]:
            notes = [f"{genre.covers} cover{'s' if genre.covers != 1 else ''}"]
            if genre.approved:
                notes.append("approved")
            if genre.next_retrain:
                notes.append("added at the next retrain")
            lines.append(f"- {genre.name}: {', '.join(notes)}")
        if len(report.pending) > MAX_SHOWN:
            lines.append(f"…and {len(report.pending) - MAX_SHOWN} more.")
    if report.mode == "admin":
        lines.append("Admins: /genres approve NAME adds one at the next retrain once it has enough covers.")
    return lines


def render_genres(report: GenresReport) -> str:
    return "\n".join(genre_lines(report))
