"""`python -m training …`: train, evaluate, retrain and roll back Sleeve's models."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from feedback.lock import EXIT_BUSY
from models.genre import Recipe
from training.promotion import ALPHA

MODEL_DIR_REFUSAL = ("MODEL_DIR pins the served model to {model_dir}, so a retrained model would never be served; "
                     "unset MODEL_DIR to retrain")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train a model artifact from labelled covers")
    train.add_argument("--data", type=Path, required=True, help="labels CSV (file,genres) or a folder with labels.csv or one folder per genre")
    train.add_argument("--out", type=Path, required=True, help="artifact directory to write")
    train.add_argument("--images", type=Path, help="folder the CSV's file column is relative to (default: the CSV's folder)")
    train.add_argument("--popularity", type=Path, help="labelled set with a popularity column (default: reuse the shipped popularity model)")
    train.add_argument("--check", type=Path, help="second labelled set to report cross-domain accuracy on")
    train.add_argument("--top-n", type=int, default=25, help="N for distinctive tags (default 25)")
    train.add_argument("--classifier", choices=["logreg", "svc"], default=Recipe.classifier)
    train.add_argument("--transform", choices=["sqrt-l2", "standard"], default=Recipe.transform)
    train.add_argument("--C", type=float, default=Recipe.C, help="inverse regularisation strength")
    train.add_argument("--base-features", type=Path, help="also write the training features (.npz) for retraining")
    train.add_argument("--also", type=Path, action="append", default=[],
                       help="another labelled set to train on, with its own seeded validation split (repeatable)")
    train.add_argument("--no-text", action="store_true",
                       help="do not read the covers' text: an image-only genre model")
    train.add_argument("--version", help="version name (default: v + UTC timestamp)")
    train.add_argument("--no-progress", action="store_true")

    figures = commands.add_parser("figures", help="draw a model's confusion matrices as PNGs (needs the 'train' extra)")
    figures.add_argument("--model", type=Path, help="artifact directory (default: the shipped model)")
    figures.add_argument("--out", type=Path, required=True, help="folder for the PNG files")

    compare = commands.add_parser("compare", help="compare genre-model recipes (prints a Markdown table)")
    compare.add_argument("--data", type=Path, required=True, help="labelled set to train and validate on")
    compare.add_argument("--check", type=Path, required=True, help="second labelled set for cross-domain top-1")
    table = compare.add_mutually_exclusive_group()
    table.add_argument("--experiments", action="store_true",
                       help="print the table of slower experiments instead: CV searches, class weights, boosting, "
                            "stacking, flip/crop views")
    table.add_argument("--learning-curve", action="store_true",
                       help="print the shipped recipe's accuracy on shares of the training covers instead")
    compare.add_argument("--no-progress", action="store_true")

    sheet = commands.add_parser("tag-sheet", help="contact sheet of the covers scoring highest for a tag (and just under it)")
    sheet.add_argument("tag", metavar="TAG")
    sheet.add_argument("--data", type=Path, required=True, help="labelled set or folder of images")
    sheet.add_argument("--out", type=Path, required=True, help="PNG to write")
    sheet.add_argument("--no-progress", action="store_true")

    tag_report = commands.add_parser("tag-report", help="print the tagger's numbers: vocabulary, tags per cover, "
                                                        "tags-only classifier, distinctive tags, tagging time")
    tag_report.add_argument("--data", type=Path, required=True, help="labelled set (split as in training)")
    tag_report.add_argument("--check", type=Path, help="second labelled set for the tags-only classifier")
    tag_report.add_argument("--top-n", type=int, default=25, help="N for distinctive tags (default 25)")
    tag_report.add_argument("--json", action="store_true", help="print one JSON object")
    tag_report.add_argument("--no-text", action="store_true", help="leave out the text tags (what covers read)")

    evaluate = commands.add_parser("evaluate", help="print metrics of a model on a labelled set")
    evaluate.add_argument("--labels", type=Path, required=True, help="labels CSV: file,genres[,popularity]")
    evaluate.add_argument("--images", type=Path, required=True, help="folder the CSV's file column is relative to")
    data_dir = Path(_setting("DATA_DIR") or "data")
    data_help = f"data folder (default: $DATA_DIR or ./data, now {data_dir})"
    model_dir = _setting("MODEL_DIR") or None
    model_help = ("artifact directory (default: the model the bot serves: $MODEL_DIR, else DATA_DIR's current "
                  f"version, else the shipped model; MODEL_DIR now {model_dir or 'unset'})")
    evaluate.add_argument("--model", type=Path, default=model_dir, help=model_help)
    evaluate.add_argument("--data-dir", type=Path, default=data_dir, help=data_help)
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")

    retrain = commands.add_parser(
        "retrain", help="fold people's votes into the genre model; serve it unless it is worse",
        description="Retrains the model the bot serves (DATA_DIR's current version, else the shipped model). "
                    "Only DATA_DIR and MODEL_DIR are read from the environment or ./.env, to find the data as the "
                    "bot does; every other knob is a flag (the bot passes its settings as flags).")
    retrain.add_argument("--data-dir", type=Path, default=data_dir, help=data_help)
    retrain.add_argument("--model-dir", type=Path, default=model_dir,
                         help="MODEL_DIR: when set, the bot serves that folder and retraining is refused")
    retrain.add_argument("--db", type=Path, help="feedback database (default: DATA_DIR/sleeve.db)")
    retrain.add_argument("--dry-run", action="store_true", help="train and evaluate, but write nothing")
    retrain.add_argument("--json", action="store_true", help="print the result as one JSON object")
    retrain.add_argument("--alpha", type=float, default=ALPHA,
                         help="significance level of the paired test that rejects a worse challenger "
                              f"(default {ALPHA}; 0: never significant, so every challenger is promoted)")
    retrain.add_argument("--include-spotify", action="store_true",
                         help="also train on covers that came from Spotify (default off; "
                              "Spotify's Developer Policy forbids training ML models on its content)")
    retrain.add_argument("--min-votes", type=int, default=1, help="votes needed for a label (default 1)")
    retrain.add_argument("--admin-weight", type=float, default=1.0, help="weight of an admin's vote (default 1)")
    retrain.add_argument("--keep", type=int, default=5, help="model versions kept on disk (default 5)")
    retrain.add_argument("--new-genres", choices=["auto", "admin", "off"], default="admin",
                         help="add genres people voted for as new classes: auto, admin (only those approved "
                              "with /genres approve; the default) or off")
    retrain.add_argument("--new-genre-min-covers", type=int, default=25,
                         help="distinct voted covers a new genre needs (default 25)")
    retrain.add_argument("--base-features", type=Path,
                         help="base feature set (default: models/artifacts/base_features.npz)")
    retrain.add_argument("--trigger", choices=["cli", "manual", "periodic"], default="cli",
                         help="who started the run, as recorded in the database (the bot passes manual or periodic)")
    retrain.add_argument("--no-progress", action="store_true")

    simulate = commands.add_parser(
        "simulate-feedback", help="play labelled covers as people uploading and voting; report accuracy before/after")
    simulate.add_argument("--labels", type=Path, required=True, help="labels CSV with a file column")
    simulate.add_argument("--images", type=Path, required=True, help="folder the CSV's file column is relative to")
    simulate.add_argument("--votes", type=int, required=True, help="covers to vote on (the rest are held out)")
    simulate.add_argument("--column", default="genres", help="label column (default genres; e.g. playlists)")
    simulate.add_argument("--genre", help="vote this genre (one the model does not know) for rows whose column names it")
    simulate.add_argument("--step", type=int, default=50, help="retrain after this many votes (default 50)")
    simulate.add_argument("--min-covers", type=int, default=25, help="voted covers a new genre needs (default 25)")
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument("--base-features", type=Path, help="base feature set (default: the shipped one)")
    simulate.add_argument("--plot", type=Path, help="also draw the votes -> accuracy curve as a PNG (train extra)")
    simulate.add_argument("--json", action="store_true", help="print one JSON object")

    rollback = commands.add_parser("rollback",
                                   help="serve an older model version (default: the one before the current)")
    rollback.add_argument("version", nargs="?",
                          help='version to serve, or "shipped" for the model shipped with the code')
    rollback.add_argument("--data-dir", type=Path, default=data_dir, help=data_help)
    return parser


ENV_FILE = ".env"  # the bot's settings read ./.env too (pydantic-settings, bot/settings.py)


def _setting(name: str) -> str | None:
    """`name` from the environment, else from ./.env (the environment wins, as in the bot's settings)."""
    if name in os.environ:
        return os.environ[name]
    from dotenv import dotenv_values

    values = dotenv_values(ENV_FILE) if Path(ENV_FILE).is_file() else {}
    folded = {key.upper(): value for key, value in values.items()}  # pydantic-settings ignores case
    return folded.get(name.upper())


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.command == "train":
        return _train(args)
    if args.command == "evaluate":
        return _evaluate(args)
    if args.command == "figures":
        from training.report import model_figures

        for path in model_figures(args.model, args.out):
            print(f"wrote {path}")
        return 0
    if args.command == "compare":
        from training import compare as comparison

        progress = not args.no_progress
        if args.learning_curve:
            print(comparison.learning_curve_markdown(comparison.learning_curve(args.data, args.check, progress=progress)))
        else:
            run = comparison.compare_experiments if args.experiments else comparison.compare
            print(comparison.markdown(run(args.data, args.check, progress=progress)))
        return 0
    if args.command == "retrain":
        return _retrain(args)
    if args.command == "tag-sheet":
        return _tag_sheet(args)
    if args.command == "tag-report":
        return _tag_report(args)
    if args.command == "rollback":
        return _rollback(args)
    if args.command == "simulate-feedback":
        return _simulate(args)
    return 2


def _train(args: argparse.Namespace) -> int:
    for path in (args.data, *args.also):
        if not path.exists():
            print(f"error: {path} does not exist", file=sys.stderr)
            return 2
    try:
        artifact = _run_train(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    metrics = artifact.manifest["metrics"]
    print(f"wrote {args.out} (version {artifact.version})")
    print(json.dumps({k: v for k, v in metrics["validation"].items() if k != "confusion"}, indent=1))
    return 0


def _run_train(args: argparse.Namespace):
    from training.train import train

    recipe = Recipe(classifier=args.classifier, transform=args.transform, C=args.C)
    return train(args.data, args.out, images_dir=args.images, popularity_source=args.popularity,
                 check_source=args.check, recipe=recipe, top_n=args.top_n,
                 base_features_out=args.base_features, version=args.version, progress=not args.no_progress,
                 also=args.also, read=not args.no_text)


def _tag_sheet(args: argparse.Namespace) -> int:
    from training.tag_sheet import tag_sheet

    if not args.data.exists():
        print(f"error: {args.data} does not exist", file=sys.stderr)
        return 2
    try:
        print(f"wrote {tag_sheet(args.tag, args.data, args.out, progress=not args.no_progress)}")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _tag_report(args: argparse.Namespace) -> int:
    from training.tag_report import format_report, report

    for path in (args.data, args.check):
        if path is not None and not path.exists():
            print(f"error: {path} does not exist", file=sys.stderr)
            return 2
    result = report(args.data, args.check, top_n=args.top_n, progress=not args.json, read=not args.no_text)
    print(json.dumps(result) if args.json else format_report(result))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from training.evaluate import evaluate, format_report

    for path in (args.labels, args.images):
        if not path.exists():
            print(f"error: {path} does not exist", file=sys.stderr)
            return 2
    from models.artifact import ArtifactError

    try:
        result = evaluate(args.labels, args.images, served_model_dir(args.model, args.data_dir),
                          progress=not args.json)
    except ArtifactError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
    else:
        print(format_report(result))
    return 0


def served_model_dir(model_dir: Path | None, data_dir: Path) -> Path:
    """The model the bot would serve, by its rule (models.registry.resolve_model_dir)."""
    from models.registry import resolve_model_dir
    from training.retrain import shipped_spec

    return resolve_model_dir(model_dir, data_dir, shipped_spec())


def _retrain(args: argparse.Namespace) -> int:
    from training.retrain import LockLost, RetrainBusy, RetrainError, retrain

    if args.model_dir:
        print(f"error: {MODEL_DIR_REFUSAL.format(model_dir=args.model_dir)}", file=sys.stderr)
        return 2
    db = args.db or args.data_dir / "sleeve.db"
    try:
        result = retrain(db, args.data_dir, dry_run=args.dry_run, alpha=args.alpha,
                         include_spotify=args.include_spotify, min_votes=args.min_votes,
                         admin_weight=args.admin_weight, keep=args.keep, trigger=args.trigger,
                         new_genres=args.new_genres, new_genre_min_covers=args.new_genre_min_covers,
                         progress=not args.no_progress and not args.json and sys.stderr.isatty(),
                         base_features=args.base_features)
    except RetrainBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except (FileNotFoundError, RetrainError, LockLost) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(result.to_json())
        return 0
    c = result.counts
    print(f"champion {result.champion} ({result.champion_version}); "
          f"trained on {c.base_train} base + {c.feedback_train} feedback covers, "
          f"held out {c.base_validation} base + {c.feedback_held_out} feedback covers")
    print(f"left out: {c.spotify_excluded} Spotify covers, {c.feedback_unlabelled} without a clear label, "
          f"{c.wrong_dimension} with other features; votes for unknown genres: {c.suggestion_votes}")
    for name, split in (("base validation", result.base_validation), ("held-out feedback", result.feedback_held_out)):
        if split is not None:
            for who, m in (("champion", split.champion), ("challenger", split.challenger)):
                print(f"  {who:<10} {name:<17} n={m.n:<5} top-1 {m.top1:.3f}  top-2 {m.top2:.3f}  "
                      f"macro-F1 {m.macro_f1:.3f}")
    for genre in result.new_genres:
        recall = "no held-out covers" if genre.recall is None else f"recall {genre.recall:.3f}"
        print(f"  new genre {genre.name}: {genre.train_covers} voted covers to learn from, {recall} on "
              f"{genre.held_out_covers} held-out covers")
    print(f"decision: {'promote' if result.promoted else 'keep the champion'} ({result.reason})")
    if result.dry_run:
        print("dry run: nothing written")
    elif result.status == "promoted":
        print(f"now serving {result.version}" + (f"; pruned {', '.join(result.pruned)}" if result.pruned else ""))
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from training import simulate

    for path in (args.labels, args.images):
        if not path.exists():
            print(f"error: {path} does not exist", file=sys.stderr)
            return 2
    try:
        sim = simulate.simulate(args.labels, args.images, args.votes, column=args.column, genre=args.genre,
                                step=args.step, min_covers=args.min_covers, seed=args.seed,
                                base_features=args.base_features, progress=not args.json)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.plot:
        simulate.plot([sim], args.plot)
    print(json.dumps(sim.to_dict()) if args.json else simulate.format_report(sim))
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from models.registry import ModelRegistry, RegistryError, registry_root
    from training.retrain import shipped_spec

    registry = ModelRegistry(registry_root(args.data_dir))
    before = registry.current_name() or "shipped"
    try:
        now = registry.rollback(args.version, shipped_spec())
    except RegistryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        names = ", ".join(v.version for v in registry.versions()) or "none"
        print(f"versions in {registry.root}: {names}", file=sys.stderr)
        return 2
    print(f"now serving {now} (was {before}); a running bot switches on its next reload")
    return 0
