"""``python -m zoo.run``: list, describe, train, evaluate and export recipes.

    python -m zoo.run --list
    python -m zoo.run RECIPE --help
    python -m zoo.run RECIPE [--set KEY=VALUE]... [--config FILE] [--export-dir DIR] [--version N]
                             [--strategy default|mirrored|multi_worker] [--recipes MODULE] [--run-dir DIR]

Exit status: 0 done; 2 usage or config error (one line on stderr, nothing written); 1 a failure while running.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from zoo.cli import OneLineParser
from zoo.errors import ExportError, UsageError, ZooError

USAGE = (
    "python -m zoo.run --list | RECIPE [--help] [--set KEY=VALUE]... [--config FILE] [--export-dir DIR] "
    "[--version N] [--strategy default|mirrored|multi_worker] [--recipes MODULE] [--run-dir DIR]"
)


def version_number(text: str) -> int:
    """``--version``'s value: ASCII digits within int64, as TF Serving reads version directories (not ``²``)."""
    from zoo.export.versions import MAX_VERSION, is_version_name

    if not is_version_name(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a version number (ASCII digits, at most {MAX_VERSION})")
    return int(text)


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="python -m zoo.run", usage=USAGE, add_help=False, raises=True)
    parser.add_argument("recipe", nargs="?", help="recipe name (see --list)")
    parser.add_argument("-h", "--help", action="store_true", help="show help (with a recipe: its config keys)")
    parser.add_argument("--list", action="store_true", help="list recipes with their data and quality bars")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config key (repeatable)")
    parser.add_argument("--config", metavar="FILE", help="YAML or JSON file of config keys")
    parser.add_argument("--export-dir", default="saved_models", metavar="DIR", help="export root (default: saved_models)")
    parser.add_argument("--version", type=version_number, metavar="N", help="export version (default: highest existing + 1)")
    parser.add_argument("--strategy", default="default", choices=["default", "mirrored", "multi_worker"],
                        help="tf.distribute strategy")
    parser.add_argument("--recipes", action="append", default=[], metavar="MODULE",
                        help="import MODULE to register more recipes (repeatable)")
    parser.add_argument("--run-dir", metavar="DIR",
                        help="logs and checkpoints (default: runs/RECIPE/CONFIG_HASH, so a rerun resumes)")
    return parser


def recipe_table() -> str:
    """The ``--list`` table: name, summary, data, quality bar (read without importing the recipes where it can)."""
    from zoo.catalog import recipe_cards

    rows = [("recipe", "summary", "data", "quality bar")]
    for card in recipe_cards():
        rows.append((card.name, card.summary, card.data_summary, "; ".join(str(b) for b in card.bars) or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def recipe_help(cls) -> str:
    """``RECIPE --help``: the recipe's summary and every config key with type, default and help."""
    from zoo.config import describe

    keys = describe(cls.Config)
    width = max(len(k.name) for k in keys)
    tw = max(len(k.type_name) for k in keys)
    ranges = {k.name: f"in {k.within}" if k.within else "" for k in keys}
    rw = max(len(r) for r in ranges.values())
    lines = [f"{cls.name}: {cls.summary}", f"data: {cls.data_summary}"]
    if cls.bars:
        lines.append("quality bar: " + "; ".join(str(b) for b in cls.bars))
    lines += ["", f"usage: {USAGE}", "", "config keys (--set KEY=VALUE, or a --config file):"]
    lines += [f"  {k.name:<{width}}  {k.type_name:<{tw}}  default {k.default!r:<12}  {ranges[k.name]:<{rw}}  {k.help}"
              for k in keys]
    return "\n".join(lines)


def resolve_config(args: argparse.Namespace):
    """The recipe class and its final config (defaults → ``--config`` file → ``--set``) for parsed arguments.

    Load the ``--recipes`` modules first (:func:`zoo.registry.load_module`). Raises UsageError for an unknown
    recipe, key or value, before anything is written or trained.

    >>> cls, config = resolve_config(build_parser().parse_args(["cnn_mnist", "--set", "epochs=2"]))
    >>> cls.name, config.epochs
    ('cnn_mnist', 2)
    """
    from zoo import registry
    from zoo.config import apply_overrides, load_config_file, parse_set_options

    cls = registry.get_recipe(args.recipe)
    config = cls.Config()
    if args.config:
        config = apply_overrides(config, load_config_file(args.config))
    return cls, apply_overrides(config, parse_set_options(args.overrides))


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    from zoo import registry

    for module in args.recipes:
        registry.load_module(module)
    if args.list:
        print(recipe_table())
        return 0
    if not args.recipe:
        if args.help:
            print(build_parser().format_help())
            return 0
        raise UsageError("name a recipe, or use --list")
    if args.help:
        print(recipe_help(registry.get_recipe(args.recipe)))
        return 0
    cls, config = resolve_config(args)
    from zoo.export.preflight import check_export_target

    try:  # before any data is loaded: a run that cannot publish its result is a usage error
        check_export_target(Path(args.export_dir), cls.name, args.version)
    except ExportError as exc:
        raise UsageError(str(exc)) from None

    from zoo.distribute import make_strategy

    recipe = cls(config, run_dir=args.run_dir, strategy=make_strategy(args.strategy))
    result = recipe.run(export_dir=args.export_dir, version=args.version)
    print(result.report())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except UsageError as exc:
        print(f"zoo: error: {exc}", file=sys.stderr)
        return 2
    except ZooError as exc:
        print(f"zoo: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("zoo: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
