"""Held-out evaluation of the recommender and the training entry point used by ``shopbot train``."""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from analytics import data
from analytics.recommendation import signal as sigmod
from analytics.recommendation.metrics import mean_ranking_metrics
from analytics.recommendation.model import ALGORITHM_NAMES, ALGORITHMS, Recommender
from shop.errors import NoData
from shop.store.models import CustomerSegment

log = logging.getLogger(__name__)

TEST_FRACTION = 0.2
SPLIT_METHOD = (
    "per-customer temporal hold-out: each customer's products ordered by first interaction; "
    "the last {pct}% (at least 1, whole orders kept together) are held out, and only that "
    "customer's interactions before the first held-out one are trained on; customers with fewer "
    "than 2 products stay in training only. Relevant = every held-out product; candidates = "
    "every product the customer had not interacted with before (stock is not filtered, since it "
    "is today's state)."
)
MODES = {"blended": "blend", "surprise_only": "model", "cooccurrence_only": "cooc"}


def load_segments(engine: Engine) -> pd.DataFrame | None:
    """The newest stored segmentation (customer_id, segment, label), or None if there is none."""
    with engine.connect() as conn:
        run = conn.execute(select(func.max(CustomerSegment.run_id))).scalar()
        if run is None:
            return None
        rows = conn.execute(
            select(
                CustomerSegment.customer_id, CustomerSegment.segment, CustomerSegment.label
            ).where(CustomerSegment.run_id == run)
        ).all()
    return pd.DataFrame(rows, columns=["customer_id", "segment", "label"])


def load_frames(engine: Engine) -> dict:
    """The frames a recommender learns from: purchases, ratings, products, segments."""
    return {
        "purchases": data.load_purchases(engine),
        "ratings": data.load_ratings(engine),
        "products": data.load_products(engine),
        "segments": load_segments(engine),
    }


def temporal_split(
    purchases: pd.DataFrame, ratings: pd.DataFrame, test_fraction: float = TEST_FRACTION
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(train purchases, train ratings, held-out pairs with their full-data rating); see
    SPLIT_METHOD."""
    ev = sigmod.events(purchases, ratings)
    sig = sigmod.build_signal(ev)
    if sig.empty:
        return purchases, ratings, sig
    sig = sig.sort_values(["customer_id", "first_at", "product_id"], ignore_index=True)
    size = sig.groupby("customer_id")["product_id"].transform("size")
    n_test = np.maximum(1, np.round(size * test_fraction)).astype(int)
    rank_from_end = sig.groupby("customer_id").cumcount(ascending=False)
    # The cutoff is the first interaction time of the n_test-th last product.
    marker = sig.loc[rank_from_end == n_test - 1, ["customer_id", "first_at"]]
    cutoff = marker.set_index("customer_id")["first_at"].rename("cutoff")
    first = sig.groupby("customer_id")["first_at"].min()
    # A customer whose products all came at the cutoff time has no history to learn from.
    cutoff = cutoff[cutoff > first.reindex(cutoff.index)]
    sig = sig.join(cutoff, on="customer_id")
    test = sig[sig["cutoff"].notna() & (sig["first_at"] >= sig["cutoff"])]

    def before(frame: pd.DataFrame, col: str) -> pd.DataFrame:
        c = frame["customer_id"].map(cutoff)
        return frame[c.isna() | (pd.to_datetime(frame[col]) < c)]

    test = test[["customer_id", "product_id", "rating", "explicit"]].reset_index(drop=True)
    return before(purchases, "placed_at"), before(ratings, "rated_at"), test


def _held_out(
    model: Recommender, test: pd.DataFrame
) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """Per evaluated customer: (user position, held-out item positions, ratings, explicit?)."""
    users = np.searchsorted(model.customer_ids_, test["customer_id"].to_numpy(dtype=np.int64))
    items = np.searchsorted(model.product_ids_, test["product_id"].to_numpy(dtype=np.int64))
    rating = test["rating"].to_numpy(dtype=np.float64)
    explicit = test["explicit"].to_numpy(dtype=bool)
    order = np.argsort(users, kind="stable")
    users, items, rating, explicit = users[order], items[order], rating[order], explicit[order]
    bounds = np.flatnonzero(np.diff(users)) + 1
    return [
        (int(u[0]), i, r, x)
        for u, i, r, x in zip(*(np.split(a, bounds) for a in (users, items, rating, explicit)))
    ]


def _evaluate_model(model: Recommender, held_out: list, k: int, modes: dict) -> tuple[dict, dict]:
    """(rating errors, {ranker name: ranking metrics}) of one fitted model on the held-out data."""
    errors, explicit_errors = [], []
    lists: dict[str, list] = {name: [] for name in modes}
    n_items = len(model.product_ids_)
    for u, items, rating, explicit in held_out:
        model_scores = model._model_scores(u)
        e = np.clip(model_scores[items], 1, 5) - rating
        errors.append(e)
        explicit_errors.append(e[explicit])
        cand = np.ones(n_items, dtype=bool)
        cand[model._history(u)[0]] = False
        relevant = items.tolist()
        for name, mode in modes.items():
            scores = model.rank_scores(u, mode, cand, model_scores=model_scores)
            lists[name].append((model._top(scores, cand, k).tolist(), relevant))
    e = np.concatenate(errors)
    x = np.concatenate(explicit_errors)
    rating = {"rmse": _r(np.sqrt(np.mean(e**2))), "mae": _r(np.mean(np.abs(e))), "n": len(e)}
    if len(x):
        rating.update(
            rmse_explicit=_r(np.sqrt(np.mean(x**2))),
            mae_explicit=_r(np.mean(np.abs(x))),
            n_explicit=len(x),
        )
    ranking = {
        name: {
            key: _r(v) if isinstance(v, float) else v
            for key, v in mean_ranking_metrics(ls, k).items()
        }  # fmt: skip
        for name, ls in lists.items()
    }
    return rating, ranking


def _r(x: float) -> float:
    return round(float(x), 6)


def evaluate_frames(
    purchases: pd.DataFrame,
    ratings: pd.DataFrame,
    products: pd.DataFrame,
    *,
    segments: pd.DataFrame | None = None,
    k: int = 10,
    test_fraction: float = TEST_FRACTION,
    random_state: int = 0,
    params: dict | None = None,
) -> dict:
    """Rating accuracy (RMSE/MAE) of SVD and KNNBaseline and ranking quality (precision, recall,
    NDCG at k) of the blended, surprise-only, co-occurrence-only and popularity rankers, all on
    the same held-out split; plus which algorithm is chosen (lowest RMSE)."""
    started = time.perf_counter()
    params = {**(params or {}), "random_state": random_state}
    params.pop("algorithm", None)
    full_signal = sigmod.summary(sigmod.build_signal(sigmod.events(purchases, ratings)))
    if full_signal["pairs"] == 0:
        raise NoData(
            "no ratings and no purchases to evaluate on — import transactions or ratings "
            "(`shopbot import …`) or build the demo shop (`shopbot setup-demo`)"
        )
    train_p, train_r, test = temporal_split(purchases, ratings, test_fraction)
    out: dict = {
        "signal": full_signal,
        "split": {
            "method": SPLIT_METHOD.format(pct=round(test_fraction * 100)),
            "test_fraction": test_fraction,
            "held_out_pairs": int(len(test)),
            "eval_customers": int(test["customer_id"].nunique()) if len(test) else 0,
            "k": k,
            "segments": (
                "the newest stored segmentation (it saw the held-out period too): the prior of "
                "the blend and the segment_popularity baseline use it"
                if segments is not None and len(segments)
                else None
            ),
        },
        "random_state": random_state,
    }
    if test.empty:
        out.update(
            chosen="svd",
            chosen_name=ALGORITHM_NAMES["svd"],
            chosen_by="default: too little history to hold any out (no customer has 2+ products)",
            rating={},
            ranking={},
        )
        out["seconds"] = round(time.perf_counter() - started, 2)
        return out
    rating: dict = {}
    by_algo: dict = {}
    models = {}
    for algo in ALGORITHMS:
        log.info("evaluate recommender: fitting %s on the training part", algo)
        models[algo] = Recommender(algo, **params).fit(
            train_p, train_r, products, segments=segments
        )
        if models[algo].algorithm_ != algo:
            rating[algo] = {"rmse": None, "mae": None, "error": " ".join(models[algo].notes_)}
            continue
        held_out = _held_out(models[algo], test)
        modes = dict(MODES)
        if algo == "svd":
            modes["popularity"] = "popularity"
            if models[algo].segment_prior_:
                modes["segment_popularity"] = "segment_popularity"
        rating[algo], by_algo[algo] = _evaluate_model(models[algo], held_out, k, modes)
    e = models["svd"].mu_ - test["rating"].to_numpy()
    rating["global_mean"] = {"rmse": _r(np.sqrt(np.mean(e**2))), "mae": _r(np.mean(np.abs(e))),
                             "n": len(e)}  # fmt: skip
    chosen = min(by_algo, key=lambda a: (rating[a]["rmse"], a))
    ranking = {**by_algo[chosen], "popularity": by_algo["svd"].pop("popularity")}
    if "segment_popularity" in by_algo["svd"]:
        ranking["segment_popularity"] = by_algo["svd"].pop("segment_popularity")
    pop = ranking["popularity"]
    blend = ranking["blended"]
    out.update(
        chosen=chosen,
        chosen_name=ALGORITHM_NAMES[chosen],
        chosen_by="lowest RMSE on the held-out pairs",
        rating=rating,
        ranking=ranking,
        ranking_by_algorithm=by_algo,
        beats_popularity={
            f"precision@{k}": blend[f"precision@{k}"] > pop[f"precision@{k}"],
            f"ndcg@{k}": blend[f"ndcg@{k}"] > pop[f"ndcg@{k}"],
        },
        blend_weights={
            "cooccurrence": models[chosen].weight_cooc,
            "model": models[chosen].weight_model,
            "popularity": models[chosen].weight_pop,
        },
    )
    out["seconds"] = round(time.perf_counter() - started, 2)
    return out


def evaluate_recommender(
    engine: Engine,
    *,
    k: int = 10,
    test_fraction: float = TEST_FRACTION,
    random_state: int = 0,
    params: dict | None = None,
) -> dict:
    """Held-out metrics of the recommender on the store's data (see :func:`evaluate_frames`)."""
    frames = load_frames(engine)
    if frames["purchases"].empty and frames["ratings"].empty:
        raise NoData(
            "no ratings and no purchases in the database — import transactions or ratings "
            "(`shopbot import …`) or build the demo shop (`shopbot setup-demo`)"
        )
    return evaluate_frames(
        frames["purchases"],
        frames["ratings"],
        frames["products"],
        segments=frames["segments"],
        k=k,
        test_fraction=test_fraction,
        random_state=random_state,
        params=params,
    )


def train_recommender(
    engine: Engine,
    *,
    version: str | None = None,
    random_state: int = 0,
    evaluate: bool = True,
    params: dict | None = None,
) -> tuple[Recommender, dict]:
    """(a Recommender fitted on all the store's data, its metrics): the algorithm is chosen by
    the held-out evaluation (``evaluate=False`` skips it and uses SVD)."""
    frames = load_frames(engine)
    if frames["purchases"].empty and frames["ratings"].empty:
        raise NoData(
            "no ratings and no purchases in the database — import transactions or ratings "
            "(`shopbot import …`) or build the demo shop (`shopbot setup-demo`)"
        )
    params = dict(params or {})
    if evaluate:
        metrics = evaluate_frames(
            frames["purchases"], frames["ratings"], frames["products"],
            segments=frames["segments"], random_state=random_state, params=params,
        )  # fmt: skip
    else:
        metrics = {"chosen": params.get("algorithm", "svd"), "chosen_by": "not evaluated"}
    params["algorithm"] = metrics["chosen"]
    params["random_state"] = random_state
    started = time.perf_counter()
    model = Recommender(**params).fit(
        frames["purchases"], frames["ratings"], frames["products"], segments=frames["segments"]
    )
    metrics["fit_seconds"] = round(time.perf_counter() - started, 2)
    metrics["version"] = version
    metrics["model"] = ALGORITHM_NAMES[model.algorithm_]
    if model.notes_:
        metrics["notes"] = model.notes_
    metrics["trained_on"] = model.signal_summary_
    metrics["segments_for_cold_start"] = len(model.segment_popularity_)
    model.version_ = version
    model.metrics_ = metrics
    return model, metrics
