"""A retrain result (`training.result.RetrainResult`) as text, for every front end.

The pieces are plain text: Discord puts them into an embed, Telegram and the console print them.
Nothing here comes from users except new genre names, which callers escape for their platform.
"""

from __future__ import annotations

from training.promotion import PairedTest
from training.result import RetrainResult, Split

STATUS_WORDS = {"promoted": "promoted", "rejected": "kept the current model", "dry_run": "dry run"}


def headline(result: RetrainResult) -> str:
    if result.status == "promoted":
        return f"✅ Promoted {result.version}: it is answering now."
    if result.status == "dry_run":
        return "Dry run: nothing was written."
    return f"The current model ({result.champion_version}) stays."


def difference_line(paired: PairedTest) -> str:
    """The challenger's top-1 difference with its interval, in points."""
    return (f"New vs old top-1: {paired.difference * 100:+.1f} points "
            f"(95% CI {paired.low * 100:+.1f} to {paired.high * 100:+.1f}; McNemar p = {paired.p_value:.3f}, "
            f"{paired.n} covers) — {paired.verdict}")


def new_genre_lines(result: RetrainResult) -> list[str]:
    """One line per genre learnt from votes (its name is people's text: callers escape it)."""
    lines = []
    for genre in result.new_genres:
        recall = ("no held-out votes yet" if genre.recall is None
                  else f"recall {genre.recall:.2f} on {genre.held_out_covers} held-out covers")
        lines.append(f"New genre {genre.name}: learnt from {genre.train_covers} voted covers, {recall}")
    return lines


def metric_rows(result: RetrainResult) -> list[tuple[str, str, str]]:
    """(label, old, new) for each split the models were compared on."""
    rows: list[tuple[str, str, str]] = []
    for name, split in (("base validation", result.base_validation), ("held-out votes", result.feedback_held_out)):
        if split is not None:
            rows += _split_rows(name, split)
    return rows


def _split_rows(name: str, split: Split) -> list[tuple[str, str, str]]:
    def pair(key: str) -> tuple[str, str]:
        return _number(getattr(split.champion, key)), _number(getattr(split.challenger, key))

    return [(f"{name} n", str(split.champion.n), str(split.challenger.n)),
            (f"{name} top-1", *pair("top1")), (f"{name} macro-F1", *pair("macro_f1"))]


def metrics_table(result: RetrainResult) -> str:
    """Fixed-width old vs new table, or "" when nothing was compared."""
    rows = metric_rows(result)
    if not rows:
        return ""
    width = max(len(label) for label, _, _ in rows)
    header = f"{'':<{width}}  {'old':>7}  {'new':>7}"
    return "\n".join([header] + [f"{label:<{width}}  {a:>7}  {b:>7}" for label, a, b in rows])


def render_retrain(result: RetrainResult) -> str:
    """The whole result as plain text (console, Telegram)."""
    lines = [f"Retraining: {STATUS_WORDS[result.status]}", headline(result)]
    if result.paired is not None:
        lines.append(difference_line(result.paired))
    lines += new_genre_lines(result)
    table = metrics_table(result)
    if table:
        lines.append(table)
    lines.append(f"Decision: {result.reason}")
    return "\n".join(lines)


def _number(value: float) -> str:
    return f"{value:.3f}"

