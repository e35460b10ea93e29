"""Synthetic data for recommender tests and benchmarks, in the shapes ``analytics.data`` returns.

- :func:`planted_shop`: customers in groups, each group buying from its own item set.
- :func:`movielens_like`: explicit ratings shaped like MovieLens-100k (943 users, 1682 items,
  100,000 ratings, at least 20 per user, long-tailed item popularity, ratings skewed to 3–4),
  generated from latent tastes so that what a user rates and how they rate it both carry signal.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

CATEGORIES = ("clothing", "electronics", "home", "beauty", "food")
CODES = {"clothing": "CLO", "electronics": "EL", "home": "HOM", "beauty": "BEA", "food": "FOO"}
START = dt.datetime(2024, 1, 1)


def products_frame(n_items: int, seed: int = 0) -> pd.DataFrame:
    """``n_items`` products (ids 1..n) cycling through the five categories, all in stock."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, n_items + 1)
    cats = [CATEGORIES[i % len(CATEGORIES)] for i in range(n_items)]
    return pd.DataFrame(
        {
            "product_id": ids,
            "sku": [f"{CODES[c]}-{i:04d}" for c, i in zip(cats, ids)],
            "name": [f"{c.title()} item {i}" for c, i in zip(cats, ids)],
            "category": cats,
            "brand": "Acme",
            "price": np.round(rng.uniform(5, 200, n_items), 2),
            "active": True,
            "on_hand": 10,
            "on_order": 0,
            "lead_time_days": 7,
        }
    )


def planted_shop(
    n_groups: int = 3,
    users_per_group: int = 40,
    items_per_group: int = 24,
    purchases_per_user: int = 10,
    noise: float = 0.1,
    rate_fraction: float = 0.5,
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """A shop where group g's customers buy (mostly) from item group g; items ``p`` belong to
    group ``(p - 1) // items_per_group``. Returns frames products, customers, purchases, ratings
    (ratings 4–5 inside the group, 1–3 outside)."""
    rng = np.random.default_rng(seed)
    n_items = n_groups * items_per_group
    products = products_frame(n_items, seed)
    # Within a group some items sell more than others, so popularity is a real baseline.
    weight = 1.0 / np.arange(1, items_per_group + 1) ** 0.7
    rows, rates = [], []
    order_id = 0
    for g in range(n_groups):
        for k in range(users_per_group):
            cust = g * users_per_group + k + 1
            own = (
                g * items_per_group
                + 1
                + rng.choice(
                    items_per_group, size=purchases_per_user, replace=False, p=weight / weight.sum()
                )
            )
            n_noise = rng.binomial(purchases_per_user, noise)
            picks = list(own[: purchases_per_user - n_noise])
            others = [p for p in range(1, n_items + 1) if (p - 1) // items_per_group != g]
            picks += list(rng.choice(others, size=n_noise, replace=False))
            days = np.sort(rng.uniform(0, 360, len(picks)))
            for p, d in zip(picks, days):
                order_id += 1
                at = START + dt.timedelta(days=float(d))
                rows.append((order_id, cust, int(p), int(rng.integers(1, 3)), at))
                if rng.random() < rate_fraction:
                    liked = (p - 1) // items_per_group == g
                    r = rng.integers(4, 6) if liked else rng.integers(1, 4)
                    rates.append((cust, int(p), float(r), at + dt.timedelta(days=3)))
    purchases = pd.DataFrame(
        rows, columns=["order_id", "customer_id", "product_id", "quantity", "placed_at"]
    )
    info = products.set_index("product_id")
    purchases["sku"] = info.loc[purchases["product_id"], "sku"].to_numpy()
    purchases["category"] = info.loc[purchases["product_id"], "category"].to_numpy()
    purchases["unit_price"] = info.loc[purchases["product_id"], "price"].to_numpy()
    purchases["amount"] = purchases["quantity"] * purchases["unit_price"]
    n_users = n_groups * users_per_group
    customers = pd.DataFrame(
        {
            "customer_id": np.arange(1, n_users + 1),
            "email": [f"c{i}@example.com" for i in range(1, n_users + 1)],
            "name": [f"Customer {i}" for i in range(1, n_users + 1)],
            "created_at": START,
            "demo_group": [
                chr(ord("A") + (i - 1) // users_per_group) for i in range(1, n_users + 1)
            ],
        }
    )
    ratings = pd.DataFrame(rates, columns=["customer_id", "product_id", "rating", "rated_at"])
    return {
        "products": products,
        "customers": customers,
        "purchases": purchases,
        "ratings": ratings,
    }


def empty_purchases() -> pd.DataFrame:
    """A purchases frame with the columns of ``analytics.data.load_purchases`` and no rows."""
    return pd.DataFrame(
        {
            "order_id": pd.Series(dtype="int64"),
            "customer_id": pd.Series(dtype="int64"),
            "product_id": pd.Series(dtype="int64"),
            "sku": pd.Series(dtype="object"),
            "category": pd.Series(dtype="object"),
            "quantity": pd.Series(dtype="int64"),
            "unit_price": pd.Series(dtype="float64"),
            "placed_at": pd.Series(dtype="datetime64[ns]"),
            "amount": pd.Series(dtype="float64"),
        }
    )


def movielens_like(
    n_users: int = 943,
    n_items: int = 1682,
    n_ratings: int = 100_000,
    min_per_user: int = 20,
    n_factors: int = 8,
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """Explicit ratings shaped like MovieLens-100k: frames products, ratings, purchases (empty).

    Which items a user rates depends on item popularity (log-normal, long tail) and on taste
    (latent factors); the rating depends on user/item bias and the same taste, thresholded to the
    MovieLens star distribution (6/11/27/34/22 % for 1..5 stars).
    """
    rng = np.random.default_rng(seed)
    # Ratings per user: long-tailed, at least min_per_user, summing to about n_ratings.
    raw = rng.lognormal(0.0, 1.0, n_users)
    extra = n_ratings - min_per_user * n_users
    per_user = min_per_user + np.floor(raw / raw.sum() * max(extra, 0)).astype(int)
    per_user = np.minimum(per_user, n_items // 2)
    pu = rng.normal(0, 1, (n_users, n_factors))
    qi = rng.normal(0, 1, (n_items, n_factors))
    log_pop = rng.normal(0, 1.3, n_items)
    bu = rng.normal(0, 0.4, n_users)
    users, items, latent = [], [], []
    for u in range(n_users):
        taste = qi @ pu[u] / np.sqrt(n_factors)
        # Gumbel top-k = sampling without replacement proportional to exp(logits).
        logits = log_pop + 1.2 * taste + rng.gumbel(size=n_items)
        chosen = np.argpartition(-logits, per_user[u] - 1)[: per_user[u]]
        users.append(np.full(len(chosen), u))
        items.append(chosen)
        latent.append(bu[u] + 0.3 * log_pop[chosen] + 0.8 * taste[chosen])
    users_a = np.concatenate(users)
    items_a = np.concatenate(items)
    score = np.concatenate(latent) + rng.normal(0, 0.8, len(users_a))
    cuts = np.quantile(score, [0.06, 0.17, 0.44, 0.78])
    stars = 1 + np.searchsorted(cuts, score)
    # Each user rates over a few weeks somewhere in seven months.
    begin = rng.uniform(0, 200, n_users)
    days = begin[users_a] + rng.exponential(10, len(users_a))
    ratings = pd.DataFrame(
        {
            "customer_id": users_a + 1,
            "product_id": items_a + 1,
            "rating": stars.astype(float),
            "rated_at": pd.Timestamp(START) + pd.to_timedelta(days, unit="D"),
        }
    )
    return {
        "products": products_frame(n_items, seed),
        "ratings": ratings,
        "purchases": empty_purchases(),
    }
