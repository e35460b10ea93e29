"""The ``shopbot`` command line. Each area registers its commands from ``bot.cli``."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from typing import Any

from shop import settings
from shop.errors import ShopbotError
from shop.settings import load_env_file

# Modules under bot.cli that provide ``register(subparsers, evaluate_subparsers)``.
COMMAND_MODULES = (
    "db",
    "demo",
    "imports",
    "segments",
    "forecast",
    "inventory",
    "recommend",
    "train",
    "evaluate_nlu",
    "nlu_review",
    "privacy",
    "promotions",
    "experiments",
    "run",
    "deploy",
)


def emit(args: argparse.Namespace, data: Any, text: str) -> None:
    """Print ``data`` as JSON when ``--json`` was given, else the human-readable ``text``."""
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, default=str, ensure_ascii=False))
    else:
        print(text)


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shopbot",
        description="shopbot: a customer-service and operations assistant for online shops. "
        "Every command honours DATABASE_URL (default: an SQLite file under var/).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    evaluate = sub.add_parser(
        "evaluate", help="measure a model on held-out data", description="Measure a model."
    )
    evaluate_sub = evaluate.add_subparsers(dest="target", metavar="TARGET")
    evaluate_sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"bot.cli.{name}").register(sub, evaluate_sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    load_env_file()  # .env (see .env.example); the real environment wins
    os.environ.setdefault(settings.TELEMETRY.name, "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args) or 0)
    except ShopbotError as err:
        if getattr(args, "json", False):
            print(json.dumps({"error": str(err), "kind": type(err).__name__}, ensure_ascii=False))
        print(f"shopbot: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("shopbot: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`shopbot reorder | head`): not an error worth a traceback.
        sys.stdout = open(os.devnull, "w")  # so Python's exit flush stays quiet
        return 0


if __name__ == "__main__":
    sys.exit(main())
