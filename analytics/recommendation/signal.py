"""Turns purchases and explicit ratings into one training signal per (customer, product)."""

from __future__ import annotations

from typing import Any

import pandas as pd

# A purchase without a rating is an implicit rating: one order says "liked it enough to buy"
# (4.0, about the mean explicit rating in shops), each repeat order adds half a star, capped at 5.
IMPLICIT_BASE = 4.0
IMPLICIT_STEP = 0.5
IMPLICIT_CAP = 5.0

SIGNAL_COLUMNS = [
    "customer_id",
    "product_id",
    "rating",
    "explicit",
    "bought",
    "n_orders",
    "first_at",
    "last_at",
]


def implicit_rating(n_orders: pd.Series) -> pd.Series:
    """The implicit rating for products ordered ``n_orders`` times (1 → 4.0, 2 → 4.5, 3+ → 5.0)."""
    return (IMPLICIT_BASE + IMPLICIT_STEP * (n_orders - 1)).clip(upper=IMPLICIT_CAP)


def events(purchases: pd.DataFrame, ratings: pd.DataFrame) -> pd.DataFrame:
    """Every interaction as a row: customer_id, product_id, at, order_id (purchases) or rating."""
    p = pd.DataFrame(
        {
            "customer_id": purchases["customer_id"].astype("int64"),
            "product_id": purchases["product_id"].astype("int64"),
            "at": pd.to_datetime(purchases["placed_at"]),
            "order_id": purchases["order_id"].astype("float64"),
            "rating": float("nan"),
        }
    )
    r = pd.DataFrame(
        {
            "customer_id": ratings["customer_id"].astype("int64"),
            "product_id": ratings["product_id"].astype("int64"),
            "at": pd.to_datetime(ratings["rated_at"]),
            "order_id": float("nan"),
            "rating": ratings["rating"].astype("float64"),
        }
    )
    frames = [f for f in (p, r) if len(f)]
    if not frames:
        return p.iloc[0:0]
    return pd.concat(frames, ignore_index=True)


def build_signal(ev: pd.DataFrame) -> pd.DataFrame:
    """One row per (customer_id, product_id): rating (explicit if given, else implicit), explicit,
    bought, n_orders, first_at, last_at; sorted by customer then product."""
    if ev.empty:
        return pd.DataFrame(columns=SIGNAL_COLUMNS)
    keys = ["customer_id", "product_id"]
    bought = ev[ev["order_id"].notna()]
    orders = bought.groupby(keys)["order_id"].nunique().rename("n_orders")
    rated = ev[ev["rating"].notna()].sort_values("at")
    # A re-imported rating for the same pair: the newest one counts.
    explicit = rated.groupby(keys)["rating"].last().rename("explicit_rating")
    times = ev.groupby(keys)["at"].agg(first_at="min", last_at="max")
    sig = times.join(orders, how="left").join(explicit, how="left").reset_index()
    sig["n_orders"] = sig["n_orders"].fillna(0).astype("int64")
    sig["bought"] = sig["n_orders"] > 0
    sig["explicit"] = sig["explicit_rating"].notna()
    sig["rating"] = sig["explicit_rating"].where(
        sig["explicit"], implicit_rating(sig["n_orders"].clip(lower=1)).astype("float64")
    )
    return sig[SIGNAL_COLUMNS].sort_values(keys, ignore_index=True)


def summary(sig: pd.DataFrame) -> dict:
    """Counts that say what the model learned from: explicit and implicit pairs, customers, items."""
    n_explicit = int(sig["explicit"].sum()) if len(sig) else 0
    out: dict[str, Any] = {
        "pairs": int(len(sig)),
        "explicit_ratings": n_explicit,
        "implicit_ratings": int(len(sig) - n_explicit),
        "customers": int(sig["customer_id"].nunique()) if len(sig) else 0,
        "products": int(sig["product_id"].nunique()) if len(sig) else 0,
    }
    if len(sig) and n_explicit == 0:
        out["note"] = "no explicit ratings: trained on implicit ratings from purchases only"
    elif len(sig) and n_explicit == len(sig):
        out["note"] = "explicit ratings only (no purchases)"
    return out
