"""``shopbot nlu review`` / ``shopbot nlu learn``: the messages the assistant did not understand,
out of the stored conversations for staff to label, and the labelled ones into the training data
(see bot/nlu/review.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from bot.cli.main import add_json_flag, emit
from bot.server.conversations import Conversations
from shop.errors import ShopbotError
from shop.settings import PROJECT_ROOT


def register(sub, _evaluate_sub) -> None:
    p = sub.add_parser(
        "nlu",
        help="review the messages the assistant did not understand, and learn from them",
        description="Learning from the shop's own customers: `review` lists the messages the "
        "assistant sent to its fallback (personal data masked), `learn` adds the ones staff "
        "labelled to data/nlu/reviewed.yml for the next training.",
    )
    nsub = p.add_subparsers(dest="nlu_command", metavar="ACTION")
    nsub.required = True
    review = nsub.add_parser(
        "review",
        help="write the messages the assistant did not understand, to label",
        description="Reads the conversations in the tracker store (SHOPBOT_TRACKER_STORE_URL, "
        "default var/rasa_tracker.db) and writes a YAML file of the messages sent to the "
        "fallback, most frequent first, with the classifier's guesses and the intent the "
        "customer picked from the buttons, if any.",
    )
    review.add_argument("--days", type=int, default=30, help="look back this many days (30)")
    review.add_argument(
        "--out", default="nlu_review.yml", help="the file to write (default nlu_review.yml)"
    )
    add_json_flag(review)
    review.set_defaults(handler=_review)
    learn = nsub.add_parser(
        "learn",
        help="add the labelled messages of a review file to data/nlu/reviewed.yml",
        description="Checks every label against domain.yml's intents and FAQ questions (nothing "
        "is written if one is unknown), leaves out messages already in the training data and "
        "appends the rest; `make train` (or `shopbot train --with-rasa`) then learns them.",
    )
    learn.add_argument("file", help="a review file written by `shopbot nlu review`, labelled")
    learn.add_argument(
        "--data", help="the NLU training data folder (default data/nlu), where reviewed.yml goes"
    )
    add_json_flag(learn)
    learn.set_defaults(handler=_learn)


def _domain() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8")) or {}


def _review(args) -> int:
    from bot.nlu.review import known_intents, review_document, unclear_messages

    if args.days < 1:
        raise ShopbotError("--days must be at least 1")
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=args.days)
    conversations = Conversations()
    try:
        unclear = unclear_messages(conversations.user_messages(since.timestamp()))
    except (SQLAlchemyError, RedisError) as exc:
        raise ShopbotError(
            f"cannot read the conversations ({type(exc).__name__}); is the tracker store "
            "(SHOPBOT_TRACKER_STORE_URL) up?"
        ) from exc
    finally:
        conversations.close()
    out = Path(args.out)
    out.write_text(review_document(unclear, since, known_intents(_domain())), encoding="utf-8")
    times = sum(u.times for u in unclear)
    chosen = sum(1 for u in unclear if u.chosen)
    emit(
        args,
        {"file": str(out), "messages": len(unclear), "times": times, "customer_chose": chosen},
        f"{len(unclear)} messages the assistant did not understand ({times} times in all; "
        f"{chosen} with the customer's own choice) written to {out}.\n"
        f"Label them (set `intent`), then: shopbot nlu learn {out}",
    )
    return 0


def _learn(args) -> int:
    from rasa.shared.nlu.training_data.loading import load_data

    from bot.nlu.review import REVIEWED_FILE, known_intents, learn, read_review

    data = Path(args.data) if args.data else PROJECT_ROOT / "data" / "nlu"
    if not data.is_dir():
        raise ShopbotError(f"no NLU data folder {data}")
    existing = [e.get("text") for e in load_data(str(data)).training_examples if e.get("text")]
    result = learn(
        read_review(Path(args.file)), known_intents(_domain()), existing, data / REVIEWED_FILE
    )
    emit(
        args,
        result,
        f"{result['added']} examples added to {result['file']}"
        + "".join(f"\n  {intent}: {n}" for intent, n in result["by_intent"].items())
        + f"\n{result['already_known']} already in the training data, "
        f"{result['unlabelled']} left unlabelled."
        + ("\nRetrain to use them: make train" if result["added"] else ""),
    )
    return 0
