"""Held-out evaluation of the recommender and the training entry point used by ``shopbot train``."""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
from scipy import sparse
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from analytics import data
from analytics.recommendation import rankers, splits
from analytics.recommendation import signal as sigmod
from analytics.recommendation.model import Recommender
from analytics.recommendation.ranking import evaluate_scores, implicit_available
from analytics.recommendation.rating_model import ALGORITHM_NAMES, ALGORITHMS
from shop.errors import NoData
from shop.store.models import CustomerSegment

log = logging.getLogger(__name__)

PROTOCOLS = ("temporal", "random")


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


# Above this many products surprise's item-item KNNBaseline needs products² similarities
# (9,724 MovieLens movies: 0.75 GB), so only SVD is evaluated as the rating model.
KNN_MAX_ITEMS = 4000


def _positions(model: Recommender, test: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    users = np.searchsorted(model.customer_ids_, test["customer_id"].to_numpy(dtype=np.int64))
    items = np.searchsorted(model.product_ids_, test["product_id"].to_numpy(dtype=np.int64))
    return users, items


def train_matrix(model: Recommender) -> sparse.csr_matrix:
    """The fitted model's customer × product history as a 0/1 matrix (model positions)."""
    users = np.repeat(np.arange(len(model.customer_ids_)), np.diff(model.hist_indptr_))
    shape = (len(model.customer_ids_), len(model.product_ids_))
    return rankers.binary_matrix(users, model.hist_items_, shape)


def rating_errors(model: Recommender, test: pd.DataFrame) -> dict:
    """RMSE and MAE of the model's rating estimates (clipped to 1–5) on the held-out pairs, also
    on the explicit ones alone."""
    users, items = _positions(model, test)
    est = np.empty(len(test))
    for u in np.unique(users):
        rows = np.flatnonzero(users == u)
        est[rows] = model._model_scores(int(u))[items[rows]]
    e = np.clip(est, 1, 5) - test["rating"].to_numpy(dtype=np.float64)
    out: dict = {"rmse": _r(np.sqrt(np.mean(e**2))), "mae": _r(np.mean(np.abs(e))), "n": len(e)}
    x = e[test["explicit"].to_numpy(dtype=bool)]
    if len(x):
        out.update(rmse_explicit=_r(np.sqrt(np.mean(x**2))), mae_explicit=_r(np.mean(np.abs(x))),
                   n_explicit=len(x))  # fmt: skip
    return out


def _validated_ease_lambda(model: Recommender) -> float:
    """EASE's λ with the best validation NDCG in the served ranker's choice (200 if none)."""
    val = (model.ranker_validation_ or {}).get("candidates", {})
    ease = {k: v for k, v in val.items() if k.startswith("ease@") and "+" not in k}
    if not ease:
        return 200.0
    best = max(ease, key=lambda k: (ease[k]["ndcg@10"], k))
    return float(best.split("@")[1])


def compare_rankers(
    model: Recommender, test: pd.DataFrame, *, k: int = 10, random_state: int = 0
) -> tuple[dict, dict]:
    """({ranker: top-k metrics}, {ranker: fit seconds}) of the served ranker and every baseline,
    all on the same split: ``model`` was fitted on the training part, ``test`` holds the rest."""
    x_train = train_matrix(model)
    users, items = _positions(model, test)
    x_test = rankers.binary_matrix(users, items, x_train.shape)
    n_items = x_train.shape[1]

    def by_user(mode: str):
        def scorer(rows: np.ndarray) -> np.ndarray:
            out = np.empty((len(rows), n_items))
            for r, u in enumerate(rows):
                cand = np.ones(n_items, dtype=bool)
                cand[model._history(int(u))[0]] = False
                out[r] = model.rank_scores(int(u), mode, cand)
            return out

        return scorer

    scorers = {"served": by_user("served")} if getattr(model, "served_", None) else {}
    scorers |= {
        "blend_before": by_user("blend"),
        "svd": by_user("model"),
        "cooccurrence": by_user("cooc"),
        "popularity": by_user("popularity"),
    }
    if model.segment_prior_:
        scorers["segment_popularity"] = by_user("segment_popularity")
    fit_seconds: dict[str, float] = {}
    baselines: dict[str, rankers.Ranker] = {
        "ease": rankers.Ease(lam=_validated_ease_lambda(model)),
        "item_knn": rankers.ItemKNN(),
    }
    if implicit_available():
        baselines["als"] = rankers.ImplicitMF("als", random_state=random_state)
        baselines["bpr"] = rankers.ImplicitMF("bpr", iterations=100, random_state=random_state)
    for name, ranker in baselines.items():
        started = time.perf_counter()
        fitted = ranker.fit(x_train)
        fit_seconds[name] = round(time.perf_counter() - started, 2)
        scorers[name] = lambda rows, f=fitted: f.scores(x_train[rows], rows)
    table = {
        name: {
            key: _r(v) if isinstance(v, float) else v
            for key, v in evaluate_scores(scorer, x_train, x_test, k).items()
        }  # fmt: skip
        for name, scorer in scorers.items()
    }
    return table, fit_seconds


def _r(x: float) -> float:
    return round(float(x), 6)


def split_frames(
    purchases: pd.DataFrame, ratings: pd.DataFrame, protocol: str, random_state: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    """(train purchases, train ratings, held-out pairs, description) under ``protocol``."""
    if protocol == "temporal":
        train_p, train_r, test = splits.temporal_split(purchases, ratings, splits.TEST_FRACTION)
        method = splits.SPLIT_METHOD.format(pct=round(splits.TEST_FRACTION * 100))
        fraction = splits.TEST_FRACTION
    elif protocol == "random":
        fraction = splits.RANDOM_TEST_FRACTION
        train_p, train_r, test = splits.random_split(purchases, ratings, fraction, random_state)
        method = splits.RANDOM_SPLIT_METHOD.format(pct=round(fraction * 100))
    else:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
    return train_p, train_r, test, {"protocol": protocol, "method": method,
                                    "test_fraction": fraction}  # fmt: skip


def evaluate_frames(
    purchases: pd.DataFrame,
    ratings: pd.DataFrame,
    products: pd.DataFrame,
    *,
    segments: pd.DataFrame | None = None,
    protocol: str = "temporal",
    k: int = 10,
    random_state: int = 0,
    params: dict | None = None,
) -> dict:
    """Everything measured on one held-out split (``protocol`` "temporal" or "random"):
    rating accuracy (RMSE/MAE) of SVD and KNNBaseline, and precision, recall, NDCG at k and
    catalogue coverage of the served ranker (chosen on a validation split of the training part)
    against popularity, item-kNN, EASE, ALS, BPR, SVD, co-occurrence and the former blend."""
    started = time.perf_counter()
    params = {**(params or {}), "random_state": random_state, "validation": protocol}
    params.pop("algorithm", None)
    full_signal = sigmod.summary(sigmod.build_signal(sigmod.events(purchases, ratings)))
    if full_signal["pairs"] == 0:
        raise NoData(
            "no ratings and no purchases to evaluate on — import transactions or ratings "
            "(`shopbot import …`) or build the demo shop (`shopbot setup-demo`)"
        )
    train_p, train_r, test, split = split_frames(purchases, ratings, protocol, random_state)
    split |= {
        "held_out_pairs": int(len(test)),
        "eval_customers": int(test["customer_id"].nunique()) if len(test) else 0,
        "k": k,
        "segments": (
            "the newest stored segmentation (it saw the held-out period too): the "
            "segment_popularity baseline and the popularity prior use it"
            if segments is not None and len(segments)
            else None
        ),
    }
    out: dict = {"signal": full_signal, "split": split, "random_state": random_state}
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
    log.info("evaluate recommender: fitting the served model on the training part")
    t0 = time.perf_counter()
    model = Recommender("svd", **params).fit(train_p, train_r, products, segments=segments)
    served_fit = round(time.perf_counter() - t0, 2)
    rating: dict = {"svd": rating_errors(model, test)}
    if len(model.product_ids_) <= KNN_MAX_ITEMS:
        knn = Recommender("knn", **{**params, "ranker": "blend"}).fit(
            train_p, train_r, products, segments=segments
        )
        if knn.algorithm_ == "knn":
            rating["knn"] = rating_errors(knn, test)
        else:
            rating["knn"] = {"rmse": None, "mae": None, "error": " ".join(knn.notes_)}
    else:
        rating["knn"] = {"rmse": None, "mae": None,
                         "error": f"not evaluated: {len(model.product_ids_)} products need "
                                  f"products² item similarities (limit {KNN_MAX_ITEMS})"}  # fmt: skip
    e = model.mu_ - test["rating"].to_numpy()
    rating["global_mean"] = {"rmse": _r(np.sqrt(np.mean(e**2))), "mae": _r(np.mean(np.abs(e))),
                             "n": len(e)}  # fmt: skip
    rated = [a for a in ALGORITHMS if rating.get(a, {}).get("rmse") is not None]
    chosen = min(rated, key=lambda a: (rating[a]["rmse"], a))
    ranking, fit_seconds = compare_rankers(model, test, k=k, random_state=random_state)
    fit_seconds["served (with its validation)"] = served_fit
    baselines = [n for n in ranking if n not in ("served", "segment_popularity")]
    key = f"ndcg@{k}"
    best = max(baselines, key=lambda n: (ranking[n][key], n))
    served = ranking.get("served", ranking["blend_before"])
    pop = ranking["popularity"]
    out.update(
        chosen=chosen,
        chosen_name=ALGORITHM_NAMES[chosen],
        chosen_by="lowest RMSE on the held-out pairs",
        rating=rating,
        ranking=ranking,
        served={"ranker": model.ranker_, "validation": model.ranker_validation_},
        best_baseline=best,
        served_vs_best={
            m: _r(served[m] - ranking[best][m]) for m in (f"precision@{k}", f"recall@{k}", key)
        },
        beats_popularity={
            f"precision@{k}": served[f"precision@{k}"] > pop[f"precision@{k}"],
            key: served[key] > pop[key],
        },
        baseline_fit_seconds=fit_seconds,
    )
    out["seconds"] = round(time.perf_counter() - started, 2)
    return out


def evaluate_recommender(
    engine: Engine,
    *,
    protocol: str = "temporal",
    k: int = 10,
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
        protocol=protocol,
        k=k,
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
