"""Held-out splits for the recommender's evaluation: per-customer temporal or random."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.recommendation import signal as sigmod
from analytics.recommendation.ranking import holdout_mask

TEST_FRACTION = 0.2
RANDOM_TEST_FRACTION = 0.25
SPLIT_METHOD = (
    "per-customer temporal hold-out: each customer's products ordered by first interaction; "
    "the last {pct}% (at least 1, whole orders kept together) are held out, and only that "
    "customer's interactions before the first held-out one are trained on; customers with fewer "
    "than 2 products stay in training only. Relevant = every held-out product; candidates = "
    "every product the customer had not interacted with before (stock is not filtered, since it "
    "is today's state)."
)
RANDOM_SPLIT_METHOD = (
    "per-customer random hold-out: {pct}% of each customer's products (at least 1) drawn at "
    "random are held out with every interaction with them, the rest is trained on; customers "
    "with fewer than 2 products stay in training only. Relevant = every held-out product; "
    "candidates = every product the customer had not interacted with in training."
)


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


def random_split(
    purchases: pd.DataFrame,
    ratings: pd.DataFrame,
    test_fraction: float = RANDOM_TEST_FRACTION,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(train purchases, train ratings, held-out pairs with their rating); see
    RANDOM_SPLIT_METHOD."""
    sig = sigmod.build_signal(sigmod.events(purchases, ratings))
    if sig.empty:
        return purchases, ratings, sig
    users = sig["customer_id"].astype("category").cat.codes.to_numpy().astype(np.int64)
    first = pd.to_datetime(sig["first_at"]).to_numpy(dtype="datetime64[ns]").astype(np.int64)
    held = holdout_mask(users, first, "random", test_fraction, seed)
    test = sig.loc[held, ["customer_id", "product_id", "rating", "explicit"]]
    keys = pd.MultiIndex.from_frame(test[["customer_id", "product_id"]])

    def train(frame: pd.DataFrame) -> pd.DataFrame:
        pairs = pd.MultiIndex.from_frame(frame[["customer_id", "product_id"]].astype("int64"))
        return frame[~pairs.isin(keys)]

    return train(purchases), train(ratings), test.reset_index(drop=True)
