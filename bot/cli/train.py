"""``shopbot train``: fit every analytics model from the current database."""

from __future__ import annotations

from bot.cli.main import add_json_flag, emit
from shop.store import get_engine, upgrade


def register(sub, _evaluate_sub) -> None:
    p = sub.add_parser(
        "train",
        help="recompute segments, forecasts, reorder advice and the recommender",
        description="Fit every analytics model from the database and publish a new versioned "
        "set of artifacts under models/analytics/ (the previous version stays until then).",
    )
    p.add_argument(
        "--if-stale",
        action="store_true",
        help="do nothing when the models were trained on exactly the current data",
    )
    p.add_argument(
        "--with-rasa",
        action="store_true",
        help="also train the Rasa dialogue model if its training data changed",
    )
    add_json_flag(p)
    p.set_defaults(handler=_train)


def _train(args) -> int:
    from analytics.training import is_stale, train_all

    engine = get_engine()
    upgrade(engine)
    if args.if_stale and not is_stale(engine):
        emit(args, {"status": "up to date"}, "analytics models are up to date (no retraining)")
    else:
        report = train_all(engine, show_progress=not args.json)
        emit(args, report.to_dict(), report.format())
    if args.with_rasa:
        from bot.server.rasa_model import ensure_model

        path, trained = ensure_model()
        if not args.json:
            print(f"rasa model {'trained' if trained else 'up to date'}: {path}")
    return 0
