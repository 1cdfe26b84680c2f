"""`python -m bot console`: the bot in a terminal, one line at a time, scriptable through a pipe.

Each line is an image path, an image URL, a Spotify link, or a vote on the last reply (a genre
name, or "ok" for the top guess). Replies go to stdout; the end of input exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from dataclasses import dataclass
from typing import TextIO

from bot.local_files import LocalFileError, looks_like_path, parse_path, read_image_file
from bot.render_genres import render_genres
from bot.render_retrain import render_retrain
from bot.render_text import render_reply, render_stats, render_tags
from bot.replies import OOPS, IncomingImage, Platform, Reply, Requester
from bot.retraining import RetrainFailed, RetrainRefused
from bot.service import Service, open_service
from bot.settings import Settings
from feedback.labels import MAX_LABEL_CHARS

log = logging.getLogger(__name__)

PLATFORM: Platform = "console"
USER_ID = "local"
VOTE_HINT = 'Vote: type the right genre ({genres}), or "ok" if {top} is right.'
HELP = """\
Type one of these per line:
  PATH              judge a local image (JPEG, PNG, WebP, GIF); quoted, escaped or file:// paths work
  URL               judge an image on the web
  SPOTIFY LINK      judge an album, track, playlist or artist (open.spotify.com/…, spotify:album:…)
  GENRE             vote on the last reply: the right genre (any case)
  ok                vote that the last reply's top guess is right
  vote NAME         vote for any genre, known or not (an unknown one is kept as a suggestion)
  genres            genres suggested by votes; genres approve NAME adds one at the next retrain
  undo              take back your vote on the last reply
  retrain           retrain the model on the votes now; it serves the new one if it is not worse
  tags [GENRE]      the tags that are distinctive of each genre
  stats             model version, counts and live accuracy
  help              this text
  quit              leave (so does the end of input)"""


@dataclass
class Console:
    service: Service
    out: TextIO
    who: Requester = Requester(PLATFORM, USER_ID)
    last_message: str | None = None  # message id of the last reply people can vote on

    async def handle(self, line: str) -> bool:
        """Answer one line; False when it asks to quit."""
        line = line.strip()
        if not line:
            return True
        command, _, rest = line.partition(" ")
        command = command.lower()
        if command in ("quit", "exit"):
            return False
        if command in ("help", "?"):
            self._print(HELP)
        elif command == "stats" and not rest:
            self._print(render_stats(await self.service.stats()))
        elif command == "tags":
            self._print(render_tags(self.service.tags(rest or None)))
        elif command == "genres":
            await self._genres(rest)
        elif command == "retrain" and not rest:
            await self._retrain()
        elif command == "undo" and not rest:
            await self._undo()
        elif command == "vote" and rest:
            await self._vote(rest)
        elif self._is_vote(line):
            await self._vote(line)
        else:
            await self._guess(line)
        return True

    async def handle_safely(self, line: str) -> bool:
        try:
            return await self.handle(line)
        except BrokenPipeError:
            raise  # whoever reads our output has gone: stop, don't apologise into the void
        except Exception:
            log.exception("console line failed")
            self._print(OOPS)
            return True

    def _is_vote(self, line: str) -> bool:
        return line.lower() == "ok" or self.service.genre_named(line) is not None

    async def _vote(self, choice: str) -> None:
        if self.last_message is None:
            self._print("Nothing to vote on yet: send me a cover first.")
            return
        ack = await self.service.vote(PLATFORM, self.last_message, USER_ID, choice)
        self._print(ack.text if ack else "That prediction is gone, so I couldn't record the vote.")

    async def _genres(self, rest: str) -> None:
        """The console's user runs the bot on their own machine: they may approve genres."""
        verb, _, name = rest.partition(" ")
        if verb.lower() == "approve":
            self._print(await self.service.approve_genre(name, USER_ID))
        else:
            self._print(render_genres(await self.service.genres()))

    async def _retrain(self) -> None:
        """Admin-free, like `genres approve`: the console's user runs the bot and its data themselves.
        The job runs in another process; progress notes are printed as they come."""
        try:
            result = await self.service.retrain(trigger="manual", progress=self._say)
        except (RetrainRefused, RetrainFailed) as exc:
            self._print(exc.user_message)
            return
        self._print(render_retrain(result))

    async def _say(self, text: str) -> None:
        self._print(text)

    async def _undo(self) -> None:
        if self.last_message is None:
            self._print("Nothing to undo.")
            return
        done = await self.service.retract(PLATFORM, self.last_message, USER_ID)
        self._print("Vote taken back." if done else "You haven't voted on that one.")

    async def _guess(self, line: str) -> None:
        try:
            reply = await self._ask(line)
        except LocalFileError as exc:
            self._print(f"{line}: {exc}")
            return
        if reply is None:
            if self.last_message is not None and _could_be_a_genre(line):
                self._print(f"{line!r} isn't a genre I know. To vote for it as a new one, type: vote {line}")
            else:
                self._print(f"I don't know what to do with {line!r}: type help.")
            return
        # A vote applies to the last reply; one that cannot take votes leaves nothing to vote on.
        self.last_message = None
        if reply.prediction_id is not None:
            self.last_message = f"{PLATFORM}-{reply.prediction_id}"
            await self.service.attach_message(reply.prediction_id, self.last_message)
        self._print(render_reply(reply, VOTE_HINT))

    async def _ask(self, line: str) -> Reply | None:
        if (reply := await self.service.guess_text(self.who, line)) is not None:
            return reply
        path = await asyncio.to_thread(parse_path, line)  # ~user reads the password database
        if not (looks_like_path(line) or await asyncio.to_thread(path.exists)):
            return None
        limit = self.service.config.image_max_bytes
        data = await asyncio.to_thread(read_image_file, path, limit)  # never read on the event loop
        return await self.service.guess(who=self.who, image=IncomingImage(data=data, filename=path.name))

    def _print(self, text: str) -> None:
        print(text, end="\n\n", file=self.out, flush=True)


async def run_console(settings: Settings, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    async with open_service(settings, user_rate=0, channel_rate=0) as service:
        console = Console(service, stdout)
        if stdin.isatty():
            print("Sleeve — send me a cover. Type help for commands.", file=stdout, flush=True)
        lines = _lines(stdin)
        while line := await lines.get():
            if not await console.handle_safely(line):
                break
    return 0


def _lines(stdin: TextIO) -> asyncio.Queue[str]:
    """Lines of stdin, read by a daemon thread ("" at the end). Unlike asyncio.to_thread, a daemon
    thread blocked in readline does not keep Ctrl-C from ending the program.

    Lines are read as bytes and decoded one by one, so a byte that is not valid in the terminal's
    encoding spoils only its own line (shown as U+FFFD) instead of killing the reader.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str] = asyncio.Queue(maxsize=64)
    raw = getattr(stdin, "buffer", None)
    encoding = getattr(stdin, "encoding", None) or "utf-8"

    def readline() -> str:
        if raw is None:
            return stdin.readline()
        return raw.readline().decode(encoding, errors="replace")

    def put(line: str) -> None:
        asyncio.run_coroutine_threadsafe(queue.put(line), loop).result()

    def read() -> None:
        try:
            while line := readline():
                put(line)
        except Exception:  # a closed or broken stdin ends the input, it must not leave the console waiting
            log.exception("reading stdin failed")
        finally:
            with contextlib.suppress(RuntimeError):  # the loop is already gone
                put("")

    threading.Thread(target=read, name="console-stdin", daemon=True).start()
    return queue


def _could_be_a_genre(line: str) -> bool:
    """A word or two, not a path, no longer than a vote keeps: someone voting for a genre the model doesn't know."""
    return len(line) <= MAX_LABEL_CHARS and len(line.split()) <= 2 and not any(c in line for c in "/\\.:~")
