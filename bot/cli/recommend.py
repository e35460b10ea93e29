"""``shopbot recommend``, ``shopbot similar`` and ``shopbot evaluate recommender``."""

from __future__ import annotations

import argparse
import logging

from analytics.data import NO_STOCK_FIGURES
from bot.cli.main import add_json_flag, emit
from shop.customers import find_customer
from shop.errors import ModelMissing, NotFound, ShopbotError
from shop.store import get_engine

log = logging.getLogger(__name__)


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if not 1 <= n <= 100:
        raise argparse.ArgumentTypeError(f"expected a number from 1 to 100, got {n}")
    return n


def register(sub, evaluate_sub) -> None:
    p = sub.add_parser(
        "recommend",
        help="top products for a customer (by id, email or imported customer id)",
        description="Recommend products for one customer: never what they already bought, "
        "never out of stock or inactive (a shop with no stock figures at all gets "
        "recommendations unchecked against stock, and a note saying how to import them). Uses "
        "the trained model (`shopbot train`) and fits one on the fly when there is none. "
        "Customers without history get their segment's and the shop's bestsellers.",
    )
    p.add_argument(
        "customer",
        metavar="CUSTOMER_ID",
        help="customers.id, the customer's email, or the customer id from an imported file "
        "(id:N / ext:N when a number is both)",
    )
    p.add_argument("-n", type=_positive, default=10, metavar="N", help="how many (default 10)")
    p.add_argument("--category", metavar="C", help="only this category (e.g. clothing)")
    add_json_flag(p)
    p.set_defaults(handler=_recommend)

    s = sub.add_parser(
        "similar",
        help="products often bought together with a product (by SKU)",
        description="Products most often bought by the customers who bought SKU (item "
        "co-occurrence), in stock; the category's bestsellers fill a short list.",
    )
    s.add_argument("sku", metavar="SKU", help="a product SKU such as CLO-0042")
    s.add_argument("-n", type=_positive, default=5, metavar="N", help="how many (default 5)")
    add_json_flag(s)
    s.set_defaults(handler=_similar)

    e = evaluate_sub.add_parser(
        "recommender",
        help="the served ranker against popularity, item-kNN, EASE, ALS, BPR and SVD on one "
        "split; RMSE/MAE of the rating models",
        description="Hold out products per customer (--protocol temporal: each customer's "
        "latest 20%%; random: a random 25%%), fit on the rest, and report precision@10, "
        "recall@10, NDCG@10 and catalogue coverage of the served ranker (chosen on a "
        "validation split of the training part, never the held-out one) and of every baseline "
        "(popularity, item-kNN, EASE, implicit ALS and BPR, surprise SVD, co-occurrence, the "
        "former blend), all measured in the same run; plus RMSE/MAE of SVD and KNNBaseline.",
    )
    e.add_argument(
        "--protocol",
        choices=("temporal", "random"),
        default="temporal",
        help="temporal (default): each customer's latest products are held out; random: a "
        "random 25%% of each customer's products (the usual published protocol)",
    )
    e.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    add_json_flag(e)
    e.set_defaults(handler=_evaluate)


def load_model(engine) -> tuple[object, dict, list[str]]:
    """(recommender with fresh stock, {source, version, algorithm}, notes): the trained one, or
    one fitted now when none is trained."""
    from analytics import artifacts
    from analytics.data import load_products
    from analytics.recommendation import train_recommender

    notes: list[str] = []
    try:
        model = artifacts.load("recommender")
        source = "trained"
        try:
            from analytics.training import is_stale

            if is_stale(engine):
                notes.append(
                    "the data changed since the last training — `shopbot train` updates it"
                )
        except ShopbotError:
            pass
        model.update_stock(load_products(engine))
    except ModelMissing:
        model, _ = train_recommender(engine, evaluate=False)
        source = "fitted now"
        notes.append("no trained recommender found, so one was fitted now (not evaluated); "
                     "`shopbot train` saves one")  # fmt: skip
    if not getattr(model, "stock_known_", True):
        notes.append(f"not checked against stock: {NO_STOCK_FIGURES}")
    info = {"source": source, "version": model.version_, "algorithm": model.algorithm_,
            "ranker": getattr(model, "ranker_", "blend")}  # fmt: skip
    return model, info, notes


def _table(rows: list[dict], cols: list[tuple[str, str]]) -> str:
    cells = [[h for _, h in cols]] + [
        [f"{r[k]:.2f}" if k == "price" else str(r[k]) for k, _ in cols] for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(cols))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


COLUMNS = [("sku", "SKU"), ("name", "NAME"), ("price", "PRICE"), ("category", "CATEGORY"),
           ("reason", "WHY")]  # fmt: skip


def _recommend(args) -> int:
    engine = get_engine()
    customer = find_customer(engine, args.customer)
    model, info, notes = load_model(engine)
    category = args.category.strip().lower() if args.category else None
    if category is not None and category not in model.category_codes_:
        known = ", ".join(sorted(model.category_codes_))
        raise NotFound(f"no category {args.category!r} — known categories: {known}")
    recs = [r.to_dict() for r in model.recommend(customer["id"], args.n, category=category)]
    if customer["id"] not in model.customer_index_:
        notes.append("no purchase history for this customer: showing bestsellers")
    stock_checked = bool(getattr(model, "stock_known_", True))
    if stock_checked and not recs:
        notes.append("nothing to recommend: everything that fits is bought or out of stock")
    data = {"customer": customer, "category": category, "model": info,
            "stock_checked": stock_checked, "recommendations": recs,
            "notes": notes}  # fmt: skip
    imported = f"(imported id {customer['external_id']})" if customer["external_id"] else ""
    who = customer["email"] or customer["name"] or imported
    head = f"Recommendations for customer {customer['id']} {who}".rstrip()
    head += f" — {info['ranker']} ranker, {info['source']}"
    parts = [head, ""]
    if recs:
        parts.append(_table(recs, COLUMNS))
    parts += [f"note: {n}" for n in notes]
    emit(args, data, "\n".join(parts))
    return 0


def _similar(args) -> int:
    engine = get_engine()
    model, info, notes = load_model(engine)
    recs = [r.to_dict() for r in model.similar(args.sku.strip(), args.n)]
    data = {"sku": args.sku, "model": info, "stock_checked": bool(model.stock_known_),
            "similar": recs, "notes": notes}  # fmt: skip
    parts = [f"Products similar to {args.sku}", ""]
    if recs:
        parts.append(_table(recs, COLUMNS))
    parts += [f"note: {n}" for n in notes]
    emit(args, data, "\n".join(parts))
    return 0


RANKER_ROWS = ("served", "ease", "item_knn", "als", "bpr", "svd", "cooccurrence", "blend_before",
               "popularity", "segment_popularity")  # fmt: skip


def format_evaluation(m: dict) -> str:
    """The evaluation as a readable report."""
    k = m["split"]["k"]
    lines = [
        f"Recommender evaluation ({m['split']['protocol']} split) — "
        f"{m['split']['eval_customers']} customers, {m['split']['held_out_pairs']} held-out "
        "products",
        f"signal: {m['signal']['explicit_ratings']} explicit ratings, "
        f"{m['signal']['implicit_ratings']} implicit (purchases)"
        + (f" — {m['signal']['note']}" if m["signal"].get("note") else ""),
        "",
    ]
    if not m.get("rating"):
        lines.append(f"chosen: {m['chosen_name']} ({m['chosen_by']})")
        return "\n".join(lines)
    lines.append(f"{'rating model':<22}{'RMSE':>8}{'MAE':>8}")
    for name, label in (("svd", "SVD"), ("knn", "KNNBaseline (item)"),
                        ("global_mean", "global mean")):  # fmt: skip
        r = m["rating"][name]
        if r.get("rmse") is None:
            lines.append(f"{label:<22}{'—':>8}{'—':>8}  {r.get('error', '')}")
            continue
        lines.append(f"{label:<22}{r['rmse']:>8.3f}{r['mae']:>8.3f}")
    lines += [f"chosen: {m['chosen_name']} ({m['chosen_by']})", ""]
    cols = (f"precision@{k}", f"recall@{k}", f"ndcg@{k}", "coverage")
    lines.append(f"{'ranker':<22}" + "".join(f"{c:>14}" for c in cols))
    for name in RANKER_ROWS:
        r = m["ranking"].get(name)
        if r is None:
            continue
        label = f"served ({m['served']['ranker']})" if name == "served" else name
        lines.append(f"{label:<22}" + "".join(f"{r[c]:>14.4f}" for c in cols))
    diff = ", ".join(f"{key} {v:+.4f}" for key, v in m["served_vs_best"].items())
    lines.append(f"served vs the best baseline ({m['best_baseline']}): {diff}")
    beats = m["beats_popularity"]
    lines.append(
        "served beats popularity: "
        + ", ".join(f"{key} {'yes' if v else 'NO'}" for key, v in beats.items())
    )
    return "\n".join(lines)


def _evaluate(args) -> int:
    from analytics.recommendation import evaluate_recommender

    metrics = evaluate_recommender(get_engine(), protocol=args.protocol, random_state=args.seed)
    emit(args, metrics, format_evaluation(metrics))
    return 0
