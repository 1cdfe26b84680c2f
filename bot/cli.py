"""`python -m bot …`: every front end and tool behind one argparse command line.

Chat front ends live in their own modules, imported only when asked for. Each one provides

    async def serve(service: bot.service.Service, settings: bot.settings.Settings) -> None

which runs until cancelled; `python -m bot discord telegram` runs both on one Service (one
model, one store, one event loop). bot.discord_app also provides `sync_commands(settings)`
(a coroutine function or a plain one) for `python -m bot sync-commands`.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from types import ModuleType
from typing import Any

from bot.logging_setup import configure_logging
from bot.settings import Settings, SettingsError, load_settings

log = logging.getLogger(__name__)

FRONT_ENDS = {"discord": "bot.discord_app", "telegram": "bot.telegram_app"}
TOKENS = {"discord": "DISCORD_TOKEN", "telegram": "TELEGRAM_TOKEN"}
EXIT_BAD_INPUT = 1
EXIT_CONFIG = 2

DESCRIPTION = "Sleeve judges an album by its cover: genre, popularity, tags and the tags that explain the genre."
EPILOG = """\
examples:
  python -m bot console < lines.txt      scripted console (paths, URLs, Spotify links, votes)
  python -m bot predict cover.jpg --json
  python -m bot tags Rock --json         the tags distinctive of a genre, with their lift
  python -m bot discord                  the Discord bot
  python -m bot discord telegram         both chat bots in one process
Configuration comes from the environment or .env (DATA_DIR, DISCORD_TOKEN, …)."""


class FrontEndMissing(Exception):
    """A front end's module is not part of this build."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands", required=True)
    commands.add_parser(
        "console", help="chat with the bot in the terminal, one line per request (works through a pipe)"
    )
    predict = commands.add_parser("predict", help="judge local images and print the results")
    predict.add_argument("paths", nargs="+", metavar="PATH", help="image files (file:// URLs work too)")
    predict.add_argument("--json", action="store_true",
                         help="print each prediction as JSON (one object per line for several paths)")
    tags = commands.add_parser("tags", help="list the tags distinctive of each genre (or of one), with their lift")
    tags.add_argument("genre", nargs="?", metavar="GENRE", help="one genre (default: all)")
    tags.add_argument("--json", action="store_true", help="print the tags as JSON")
    for name, other in (("discord", "telegram"), ("telegram", "discord")):
        front_end = commands.add_parser(
            name, help=f"run the {name.title()} bot (add '{other}' to run both in one process)"
        )
        front_end.add_argument(
            "also", nargs="?", choices=[other], metavar=other, help=f"also run the {other.title()} bot"
        )
    commands.add_parser("sync-commands", help="register the bot's slash commands with Discord")
    commands.add_parser(
        "healthcheck", help="offline self-check for containers: settings, data folder, database, model files"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"Configuration problem: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.command == "healthcheck":
        return healthcheck(settings)
    # Interactive commands keep the terminal for replies: only warnings, unless LOG_LEVEL is set.
    quiet = args.command in ("predict", "console") and "LOG_LEVEL" not in settings.model_fields_set
    configure_logging("WARNING" if quiet else settings.LOG_LEVEL, settings.LOG_FORMAT, settings.secret_values())
    for warning in settings.retired_warnings():
        log.warning(warning)
    if args.command == "predict":
        return predict(args.paths, as_json=args.json, settings=settings)
    if args.command == "tags":
        return list_tags(args.genre, as_json=args.json, settings=settings)
    if args.command == "console":
        from bot.console import run_console

        return _guarded(lambda: asyncio.run(run_console(settings)))
    if args.command == "sync-commands":
        return _guarded(lambda: sync_commands(settings))
    names = [args.command] + ([args.also] if args.also else [])
    return _guarded(lambda: run_front_ends(names, settings))


def predict(paths: Sequence[str], *, as_json: bool, settings: Settings) -> int:
    """Judge each image; a bad one is reported on stderr and the rest still get an answer."""
    from bot.local_files import LocalFileError, parse_path, read_image_file
    from bot.render_text import render_reply
    from bot.replies import Reply
    from bot.service import StartupError, load_predictor
    from models.image import ImageError, load_image

    limit = settings.IMAGE_MAX_BYTES
    predictor = None
    status = 0
    for path in paths:
        try:
            file = parse_path(path)
            image = load_image(read_image_file(file, limit), max_bytes=limit)  # before the model: bad input fails fast
            predictor = predictor or load_predictor(settings)
            [prediction] = predictor.predict_images([image])
        except (ImageError, LocalFileError) as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            status = EXIT_BAD_INPUT
            continue
        except StartupError as exc:
            print(exc, file=sys.stderr)
            return EXIT_CONFIG
        if as_json and len(paths) > 1:
            text = json.dumps({"path": str(path), **prediction.to_dict()}, ensure_ascii=False)
        elif as_json:
            text = json.dumps(prediction.to_dict(), ensure_ascii=False, indent=2)
        else:
            text = render_reply(Reply(kind="prediction", title=file.name, prediction=prediction, source_kind="console"))
        try:
            print(text, flush=True)
        except BrokenPipeError:  # `predict cover.jpg | head -1`: the reader has what it wanted
            _silence_stdout()
            return status
    return status


def list_tags(genre: str | None, *, as_json: bool, settings: Settings) -> int:
    """The served model's distinctive tags, read from its files (no model is loaded)."""
    from bot.render_text import render_tags
    from bot.service import model_directory
    from models.artifact import ArtifactError, read_distinctive, read_manifest

    directory = model_directory(settings)
    try:
        version = read_manifest(directory)["version"]
        table = read_distinctive(directory)
    except (ArtifactError, KeyError, TypeError) as exc:
        print(f"I can't read the model's tags: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if genre is not None:
        name = next((g for g in table if g.casefold() == genre.strip().casefold()), None)
        if name is None:
            print(f"I don't know the genre {genre!r}; I know {', '.join(table)}.", file=sys.stderr)
            return EXIT_BAD_INPUT
        table = {name: table[name]}
    if as_json:
        genres = {g: [{"tag": t.tag, "lift": t.lift, "share": t.share} for t in found] for g, found in table.items()}
        print(json.dumps({"genres": genres, "model_version": version}, ensure_ascii=False, indent=2))
    else:
        print(render_tags(table))
    return 0


def healthcheck(settings: Settings) -> int:
    """Exit 0 when the configuration, the data folder, the database and the served model's files are usable."""
    from bot.service import model_directory
    from feedback.store import Store, default_path

    async def open_store() -> None:
        store = await Store.open(default_path(settings.DATA_DIR))
        await store.close()

    try:
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        asyncio.run(open_store())
        manifest = model_directory(settings) / "manifest.json"
        version = json.loads(manifest.read_text())["version"]
    except Exception as exc:  # any failure is unhealthy; say what it was
        print(f"unhealthy: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"ok: model {version}, data in {settings.DATA_DIR}")
    return 0


def front_end(name: str, attribute: str) -> Callable[..., Any]:
    """bot.<name>_app.<attribute>, or FrontEndMissing with a message fit to print."""
    module_name = FRONT_ENDS[name]
    try:
        module: ModuleType = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise  # the module exists but one of its own imports is missing: a real error
        raise FrontEndMissing(
            f"The {name.title()} front end is not part of this build ({module_name} is missing)."
        ) from None
    if not hasattr(module, attribute):
        raise FrontEndMissing(f"{module_name} has no {attribute}(); it cannot be started from here.")
    return getattr(module, attribute)


def run_front_ends(names: Sequence[str], settings: Settings) -> int:
    serves = [front_end(name, "serve") for name in names]
    settings.require(*(TOKENS[name] for name in names))
    asyncio.run(_serve_all(serves, settings))
    return 0


async def _serve_all(serves: Sequence[Callable[..., Awaitable[None]]], settings: Settings) -> None:
    from bot.service import open_service

    async with open_service(settings, background=True) as service:
        await asyncio.gather(*(serve(service, settings) for serve in serves))


def sync_commands(settings: Settings) -> int:
    sync = front_end("discord", "sync_commands")
    settings.require(TOKENS["discord"])
    if inspect.iscoroutinefunction(sync):
        asyncio.run(sync(settings))
    else:
        sync(settings)
    return 0


def _guarded(run: Callable[[], int]) -> int:
    """Run a front-end command, turning a missing module, a bad setting or an unusable DATA_DIR into
    a message and exit code 2."""
    from bot.service import StartupError

    try:
        return run()
    except (FrontEndMissing, SettingsError, StartupError) as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:  # e.g. `python -m bot console < lines | head`: the reader left
        _silence_stdout()
        return 0


def _silence_stdout() -> None:
    """After the reader of stdout left: no second BrokenPipeError when Python flushes at exit."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
