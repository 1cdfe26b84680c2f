"""`python -m bot console` through a pipe, and the plain-text rendering it prints."""

from __future__ import annotations

import asyncio
import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.render_text import bar, render_reply, render_stats, render_tags
from bot.replies import Reply, error
from models import artifact
from models.distinctive import DistinctiveTag
from models.prediction import GenreScore, Popularity, Prediction, Tag
from tests.bot.fake_spotify import COVERS

ROOT = Path(__file__).resolve().parents[2]


def bot_env(tmp_path: Path) -> dict[str, str]:
    """The environment for `python -m bot` in a subprocess: this checkout, a fresh DATA_DIR, no tokens."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_TOKEN", "_SECRET", "_CLIENT_ID"))}
    return env | {"PYTHONPATH": str(ROOT), "DATA_DIR": str(tmp_path / "data")}


def run_bot(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tmp_path,  # away from any .env in the checkout
        env=bot_env(tmp_path),
        timeout=120,
    )


def shipped_version() -> str:
    return artifact.read_manifest(artifact.SHIPPED_DIR)["version"]


def test_console_session_through_a_pipe(tmp_path: Path, spotify_dir: Path) -> None:
    cover = spotify_dir / "images" / COVERS[0]
    notes = tmp_path / "notes.txt"
    notes.write_text("not a cover")
    script = f"{cover}\n\nrock\nok\n{notes}\nwhat is this\nhelp\n"

    result = run_bot(tmp_path, "console", stdin=script)

    assert result.returncode == 0, result.stderr
    out = result.stdout
    reply = out.split("\n\n")[0].splitlines()
    assert reply[0] == cover.name
    top = reply[1].split()[0]
    assert "█" in reply[1] and "%" in reply[1]
    assert any(line.startswith("Popularity: ~") for line in reply)
    assert any(line.startswith(f"Model {shipped_version()}") and "Vote:" in line for line in reply)
    assert "Thanks! Noted: Rock." in out
    assert f"Thanks! Noted: {top}." in out
    assert "That doesn't look like an image" in out
    assert "I don't know what to do with 'what is this'" in out
    assert "judge a local image" in out  # help

    with sqlite3.connect(tmp_path / "data" / "sleeve.db") as db:
        predictions = db.execute("SELECT platform, source_kind, message_id, top_genre FROM predictions").fetchall()
        votes = db.execute("SELECT voter_id, label FROM votes").fetchall()
    assert predictions == [("console", "console", predictions[0][2], top)]
    assert predictions[0][2]  # the reply's message id was attached
    assert votes == [("local", top)]  # "ok" replaced the vote for rock


# --- rendering -------------------------------------------------------------------------------------------


def prediction(rock: float = 0.62) -> Prediction:
    rest = (1 - rock) / 2
    return Prediction(
        genres=[GenreScore("Rock", rock), GenreScore("Pop", rest), GenreScore("Electronic", rest)],
        popularity=Popularity(31.2, 17.0, 44.4, 0.05, "covers barely predict popularity"),
        tags=[Tag("dark", 0.9), Tag("guitar", 0.8), Tag("grainy", 0.5)],
        distinctive_tags={"Rock": ["dark", "guitar"], "Pop": [], "Electronic": []},
        model_version="v-test",
        features=np.zeros(4, dtype=np.float32),
    )


def test_bar() -> None:
    assert bar(0.62) == "██████░░░░"
    assert bar(0.0) == "░" * 10 and bar(1.0) == "█" * 10 and bar(1.3) == "█" * 10


def test_render_prediction() -> None:
    reply = Reply(
        kind="prediction",
        title="Lanterns at Dusk — The Velvet Lanterns",
        prediction=prediction(),
        prediction_id=7,
        spotify_genres=("psychedelic rock", "indie rock"),
        release_date="2021-03-05",
    )
    lines = render_reply(reply).splitlines()
    assert lines[0] == "Lanterns at Dusk — The Velvet Lanterns"
    assert lines[1] == "Rock        ██████░░░░  62%   why: dark, guitar"
    assert lines[2].startswith("Pop         ██░░░░░░░░  19%")
    assert "Popularity: ~31 (17–44) — covers barely predict popularity" in lines
    assert "Tags: dark, guitar, grainy" in lines
    assert "Spotify says: psychedelic rock, indie rock · released 2021-03-05" in lines
    assert lines[-1].startswith("Model v-test · Vote:") and '"ok" if Rock is right' in lines[-1]
    assert not any("torn" in line for line in lines)


def test_render_unsure_artist_guess_without_votes() -> None:
    reply = Reply(
        kind="prediction",
        title="The Velvet Lanterns",
        prediction=prediction(0.34),
        unsure=True,
        is_artist_guess=True,
        n_covers=4,
    )
    text = render_reply(reply)
    assert text.startswith("The Velvet Lanterns (artist — judged from 4 covers)")
    assert "I'm torn between Rock and Pop" in text
    assert text.splitlines()[-1] == "Model v-test"  # not recorded: nothing to vote on


def test_render_messages_tags_and_stats() -> None:
    assert render_reply(error("That doesn't look like an image.")) == "That doesn't look like an image."
    assert render_tags({"Rock": [DistinctiveTag("dark")], "Pop": []}) == "Rock: dark\nPop: (none yet)"
    with_lift = render_tags({"Rock": [DistinctiveTag("skull", 3.06, 0.1), DistinctiveTag("dark", 1.5)]})
    assert with_lift.splitlines()[0] == "Rock: skull ×3.1, dark ×1.5"
    assert render_tags({}) == "I don't know that genre."
    stats = {
        "model_version": "v1",
        "genres": ["Pop", "Rock"],
        "predictions": 3,
        "predictions_this_model": 2,
        "votes": 2,
        "voters": 1,
        "live_accuracy": {"n": 2, "top1": 0.5},
        "last_retrain": None,
    }
    assert "Live accuracy: 50% of 2 voted" in render_stats(stats)


# --- reading stdin ---------------------------------------------------------------------------------------


async def read_all_lines(stdin) -> list[str]:
    from bot.console import _lines

    queue = _lines(stdin)
    lines = []
    while line := await asyncio.wait_for(queue.get(), timeout=10):
        lines.append(line)
    return lines


async def test_a_byte_that_is_not_utf8_spoils_only_its_own_line() -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b"cover.jpg\ncaf\xe9\nstats\n"), encoding="utf-8")
    assert await read_all_lines(stdin) == ["cover.jpg\n", "caf\ufffd\n", "stats\n"]


async def test_reading_plain_text_streams_too() -> None:
    assert await read_all_lines(io.StringIO("a\nb")) == ["a\n", "b"]


# --- typed paths (a stand-in service: these never reach a model) -----------------------------------------


class PathOnlyService:
    """Knows no links; records the images it is asked to judge."""

    def __init__(self) -> None:
        from bot.service import ServiceConfig

        self.config = ServiceConfig(image_max_bytes=1000)
        self.images: list = []

    def genre_named(self, name):
        return None

    async def guess_text(self, who, text):
        return None

    async def guess(self, *, who, image):
        self.images.append(image)
        return error("judged")


async def console_says(line: str, service: PathOnlyService | None = None) -> str:
    from bot.console import Console

    out = io.StringIO()
    await Console(service or PathOnlyService(), out).handle_safely(line)
    return out.getvalue().strip()


async def test_unknown_user_in_a_path_is_named_not_a_crash() -> None:
    said = await console_says("~nosuchuser_sleeve/x.jpg")
    assert said == "~nosuchuser_sleeve/x.jpg: There's no user called 'nosuchuser_sleeve' on this machine."


async def test_missing_file_and_folder_say_so(tmp_path: Path) -> None:
    assert await console_says(str(tmp_path / "gone.jpg")) == f"{tmp_path / 'gone.jpg'}: There's no such file."
    assert "That's a folder" in await console_says(str(tmp_path))
    assert await console_says("what is this") == "I don't know what to do with 'what is this': type help."


async def test_quoted_and_escaped_paths_are_read(tmp_path: Path) -> None:
    cover = tmp_path / "My Cover.jpg"
    cover.write_bytes(b"\xff\xd8 fake")
    service = PathOnlyService()
    for typed in (f"'{cover}'", str(cover).replace(" ", "\\ "), cover.as_uri()):
        assert await console_says(typed, service) == "judged"
    assert [(i.data, i.filename) for i in service.images] == [(b"\xff\xd8 fake", "My Cover.jpg")] * 3


async def test_files_are_read_off_the_event_loop(tmp_path: Path, monkeypatch) -> None:
    import threading

    from bot import console

    cover = tmp_path / "a.jpg"
    cover.write_bytes(b"\xff\xd8")
    threads = []

    def read(path, limit):
        threads.append(threading.current_thread())
        return b"\xff\xd8"

    monkeypatch.setattr(console, "read_image_file", read)
    assert await console_says(str(cover)) == "judged"
    assert threads and threads[0] is not threading.current_thread()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
async def test_a_fifo_does_not_hang_the_console(tmp_path: Path) -> None:
    fifo = tmp_path / "cover.jpg"
    os.mkfifo(fifo)
    said = await asyncio.wait_for(console_says(str(fifo)), timeout=10)
    assert said.endswith("That's not a regular file (a device, a pipe or a socket); I only read image files.")


def test_console_reply_shows_what_the_cover_reads_on_one_clean_line() -> None:
    from dataclasses import replace

    text = "STRAIGHT\nOUTTA\x1b[31m COMPTON\x07"
    reply = Reply(kind="prediction", title="cover.jpg",
                  prediction=replace(prediction(), text=text, read_words=["COMPTON"]), prediction_id=1)
    rendered = render_reply(reply)
    assert "reads: STRAIGHT OUTTA [31m COMPTON" in rendered
    assert "\x1b" not in rendered and "\x07" not in rendered
    assert 'why: dark, guitar, "COMPTON"' in rendered  # read words behind the top genre
    assert "reads:" not in render_reply(Reply(kind="prediction", title="c", prediction=prediction(), prediction_id=1))


# --- retrain (a stand-in service: the job itself is tests/bot/test_retraining.py's) -----------------------


class RetrainService(PathOnlyService):
    def __init__(self, outcome) -> None:
        super().__init__()
        self.outcome = outcome
        self.calls: list[str] = []

    async def retrain(self, *, trigger, progress):
        self.calls.append(trigger)
        await progress("Still training… (10 s)")
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


async def test_retrain_prints_progress_then_the_typed_result_without_asking_for_an_admin() -> None:
    from bot.render_retrain import render_retrain
    from tests.bot.retrain_results import PROMOTED

    service = RetrainService(PROMOTED)
    said = await console_says("retrain", service)
    assert service.calls == ["manual"]
    assert said == f"Still training… (10 s)\n\n{render_retrain(PROMOTED)}"


@pytest.mark.parametrize("name", ["RetrainRefused", "RetrainFailed"])
async def test_a_refused_or_failed_retrain_prints_its_message(name: str) -> None:
    import bot.retraining

    refusal = getattr(bot.retraining, name)("A retrain is already running.")
    said = await console_says("RETRAIN", RetrainService(refusal))
    assert said.endswith("A retrain is already running.") and "Traceback" not in said


async def test_help_names_retrain() -> None:
    assert any(line.split()[0] == "retrain" for line in (await console_says("help")).splitlines()[1:])


async def test_an_unknown_genre_after_a_reply_says_how_to_vote_for_it() -> None:
    from bot.console import Console

    out = io.StringIO()
    console = Console(PathOnlyService(), out)
    await console.handle_safely("folk")
    assert out.getvalue().strip() == "I don't know what to do with 'folk': type help."  # nothing to vote on yet
    console.last_message = "console-1"  # a reply that takes votes
    for line in ("folk", "what is this", "cover.jpg"):
        await console.handle_safely(line)
    said = [line for line in out.getvalue().splitlines() if line][1:]
    assert said == ["'folk' isn't a genre I know. To vote for it as a new one, type: vote folk",
                    "I don't know what to do with 'what is this': type help.",
                    "cover.jpg: There's no such file."]
