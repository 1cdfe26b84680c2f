"""`python -m training …`: train, evaluate, retrain and roll back Sleeve's models."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from models.genre import Recipe
from training.runs import EXIT_BUSY


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train a model artifact from labelled covers")
    train.add_argument("--data", type=Path, required=True, help="labels CSV (file,genres) or a folder with labels.csv or one folder per genre")
    train.add_argument("--out", type=Path, required=True, help="artifact directory to write")
    train.add_argument("--images", type=Path, help="folder the CSV's file column is relative to (default: the CSV's folder)")
    train.add_argument("--popularity", type=Path, help="labelled set with a popularity column (default: reuse the shipped popularity model)")
    train.add_argument("--check", type=Path, help="second labelled set to report cross-domain accuracy on")
    train.add_argument("--top-n", type=int, default=10, help="N for distinctive tags (default 10)")
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

    evaluate = commands.add_parser("evaluate", help="print metrics of a model on a labelled set")
    evaluate.add_argument("--labels", type=Path, required=True, help="labels CSV: file,genres[,popularity]")
    evaluate.add_argument("--images", type=Path, required=True, help="folder the CSV's file column is relative to")
    evaluate.add_argument("--model", type=Path, help="artifact directory (default: the shipped model)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")

    data_dir = Path(_setting("DATA_DIR") or "data")
    retrain = commands.add_parser(
        "retrain", help="fold people's votes into the genre model; serve it only when it is not worse",
        description="Defaults come from the environment or ./.env (DATA_DIR, RETRAIN_TOLERANCE, "
                    "RETRAIN_INCLUDE_SPOTIFY, MIN_VOTES, ADMIN_VOTE_WEIGHT, KEEP_MODEL_VERSIONS), as the bot reads them.")
    data_help = f"data folder (default: $DATA_DIR or ./data, now {data_dir})"
    retrain.add_argument("--data-dir", type=Path, default=data_dir, help=data_help)
    retrain.add_argument("--db", type=Path, help="feedback database (default: DATA_DIR/sleeve.db)")
    retrain.add_argument("--dry-run", action="store_true", help="train and evaluate, but write nothing")
    retrain.add_argument("--json", action="store_true", help="print the result as one JSON object")
    retrain.add_argument("--tolerance", type=float,
                         help="largest top-1 drop on the base validation split still promoted "
                              "(default: $RETRAIN_TOLERANCE or 0.01)")
    retrain.add_argument("--include-spotify", action="store_true", default=None,
                         help="also train on covers that came from Spotify (default: $RETRAIN_INCLUDE_SPOTIFY or off; "
                              "Spotify's Developer Policy forbids training ML models on its content)")
    retrain.add_argument("--min-votes", type=int, help="votes needed for a label (default: $MIN_VOTES or 1)")
    retrain.add_argument("--admin-weight", type=float,
                         help="weight of an admin's vote (default: $ADMIN_VOTE_WEIGHT or 1)")
    retrain.add_argument("--keep", type=int, help="model versions kept on disk (default: $KEEP_MODEL_VERSIONS or 5)")
    retrain.add_argument("--base-features", type=Path,
                         help="base feature set (default: models/artifacts/base_features.npz)")
    retrain.add_argument("--trigger", choices=["cli", "manual", "periodic"], default="cli",
                         help="who started the run, as recorded in the database (the bot passes manual or periodic)")
    retrain.add_argument("--no-progress", action="store_true")

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


def _env_bool(name: str) -> bool:
    return (_setting(name) or "").strip().lower() in {"1", "true", "yes", "on"}


def _env_number(name: str, default: float, kind: type = float) -> float:
    text = (_setting(name) or "").strip()
    try:
        return kind(text) if text else default
    except ValueError:
        raise SystemExit(f"error: {name}={text!r} is not a valid number") from None


def _or_env(value, name: str, default: float, kind: type = float):
    return value if value is not None else _env_number(name, default, kind)


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
    if args.command == "rollback":
        return _rollback(args)
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


def _evaluate(args: argparse.Namespace) -> int:
    from training.evaluate import evaluate, format_report

    for path in (args.labels, args.images):
        if not path.exists():
            print(f"error: {path} does not exist", file=sys.stderr)
            return 2
    from models.artifact import ArtifactError

    try:
        result = evaluate(args.labels, args.images, args.model, progress=not args.json)
    except ArtifactError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
    else:
        print(format_report(result))
    return 0


def _retrain(args: argparse.Namespace) -> int:
    from training.retrain import RetrainBusy, RetrainError, retrain

    db = args.db or args.data_dir / "sleeve.db"
    try:
        result = retrain(db, args.data_dir, dry_run=args.dry_run,
                         tolerance=_or_env(args.tolerance, "RETRAIN_TOLERANCE", 0.01),
                         include_spotify=args.include_spotify or _env_bool("RETRAIN_INCLUDE_SPOTIFY"),
                         min_votes=_or_env(args.min_votes, "MIN_VOTES", 1, int),
                         admin_weight=_or_env(args.admin_weight, "ADMIN_VOTE_WEIGHT", 1.0),
                         keep=_or_env(args.keep, "KEEP_MODEL_VERSIONS", 5, int), trigger=args.trigger,
                         progress=not args.no_progress and not args.json and sys.stderr.isatty(),
                         base_features=args.base_features)
    except RetrainBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except (FileNotFoundError, RetrainError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    c = result.counts
    print(f"champion {result.champion} ({result.champion_version}); "
          f"trained on {c['base_train']} base + {c['feedback_train']} feedback covers, "
          f"held out {c['base_validation']} base + {c['feedback_held_out']} feedback covers")
    print(f"left out: {c['spotify_excluded']} Spotify covers, {c['feedback_unlabelled']} without a clear label, "
          f"{c['wrong_dimension']} with other features; votes for unknown genres: {c['suggestion_votes']}")
    for who, metrics in result.metrics.items():
        for split, m in metrics.items():
            if m is not None:
                print(f"  {who:<10} {split:<17} n={m['n']:<5} top-1 {m['top1']:.3f}  top-2 {m['top2']:.3f}  "
                      f"macro-F1 {m['macro_f1']:.3f}")
    print(f"decision: {'promote' if result.promote else 'keep the champion'} ({result.reason})")
    if result.dry_run:
        print("dry run: nothing written")
    elif result.status == "promoted":
        print(f"now serving {result.version}" + (f"; pruned {', '.join(result.pruned)}" if result.pruned else ""))
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
