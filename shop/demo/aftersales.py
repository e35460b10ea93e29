"""What follows the orders: returns, ratings, browsing events, and the stock on the shelves."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shop.demo import vocab
from shop.demo.catalogue import TASTE_DIM, Catalogue
from shop.demo.orders import _ensure_each
from shop.demo.people import ACCOUNT_GROUP, DAY, People
from shop.store.models import CATEGORIES, RETURN_STATUSES

# Share of delivered order lines returned, per category (before the product-quality effect).
RETURN_RATE = {"clothing": 0.09, "electronics": 0.04, "home": 0.03, "beauty": 0.015, "food": 0.005}
REJECTED_SHARE = 0.08
RATING_SHARE = 0.3  # share of bought products the customer rates
ACCOUNT_RATING_SHARE = 0.7
EVENT_DAYS = 60  # the event log covers the last 60 days (it is the bulkiest table)
# Lead time range in days per category (suppliers of food are close, electronics far).
LEAD_TIME = {"clothing": (10, 30), "electronics": (7, 30), "home": (7, 25), "beauty": (5, 20),
             "food": (3, 10)}  # fmt: skip
SERVICE_Z = 1.65  # ~95 % service level for the initial safety stock


def _secs(x) -> np.ndarray:
    return np.round(np.asarray(x, dtype=float)).astype("timedelta64[s]")


def _delivered_lines(orders: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Items of delivered generated orders (fixed demo orders are left alone)."""
    o = orders[(orders["status"] == "delivered") & (orders["fixed_number"] < 0)]
    o = o[["id", "cust", "delivered_at"]].rename(columns={"id": "order_id"})
    lines = items.assign(order_id=orders["id"].to_numpy()[items["order"].to_numpy()])
    return lines.merge(o, on="order_id", how="inner")


def build_returns(
    orders: pd.DataFrame, items: pd.DataFrame, cat: Catalogue, rng, as_of: np.datetime64
) -> pd.DataFrame:
    """Returns of a few percent of delivered lines, more for clothing and for poor products."""
    lines = _delivered_lines(orders, items)
    product = lines["product"].to_numpy()
    cat_idx = cat.frame["cat_idx"].to_numpy()[product]
    base = np.array([RETURN_RATE[c] for c in CATEGORIES])[cat_idx]
    p = base * np.exp(-0.5 * cat.frame["quality"].to_numpy()[product])
    n_all = len(lines)
    wanted = rng.random(n_all) < p
    created = lines["delivered_at"].to_numpy() + _secs(rng.uniform(0.5, 28, n_all) * DAY)
    keep = wanted & (created <= as_of - np.timedelta64(3600, "s"))
    r = lines[keep].reset_index(drop=True)
    created = created[keep]
    n = len(r)
    order = np.argsort(created, kind="stable")
    r, created = r.iloc[order].reset_index(drop=True), created[order]

    age = (as_of - created).astype(float) / DAY
    status = np.select([age < 2, age < 5, age < 10], ["requested", "approved", "received"],
                       "refunded").astype(object)  # fmt: skip
    status = np.where((age >= 3) & (rng.random(n) < REJECTED_SHARE), "rejected", status)
    _ensure_each(status, np.flatnonzero(status == "refunded"), RETURN_STATUSES, rng)
    step = {"requested": (0, 0), "approved": (0.3, 1.8), "received": (3, 5), "refunded": (6, 10),
            "rejected": (2, 6)}  # fmt: skip
    lo = np.array([step[s][0] for s in status])
    hi = np.array([step[s][1] for s in status])
    updated = created + _secs(rng.uniform(lo, hi) * DAY)
    updated = np.maximum(np.minimum(updated, as_of - np.timedelta64(60, "s")), created)

    qty = r["quantity"].to_numpy()
    quantity = 1 + rng.binomial(qty - 1, 0.3)
    reason_cat = cat.frame["cat_idx"].to_numpy()[r["product"].to_numpy()]
    pick = rng.integers(0, 1000, n)
    reason = [vocab.RETURN_REASONS[CATEGORIES[c]][k % len(vocab.RETURN_REASONS[CATEGORIES[c]])]
              for c, k in zip(reason_cat, pick)]  # fmt: skip
    if n > 900_000:  # pragma: no cover - far beyond any demo size
        raise ValueError("too many returns for 6-digit RMA numbers")
    rma = np.sort(rng.choice(900_000, n, replace=False)) + 100_000
    return pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "rma_number": [f"RMA-{x:06d}" for x in rma.tolist()],
            "order_id": r["order_id"].to_numpy(),
            "order_item_id": r["id"].to_numpy(),
            "quantity": quantity,
            "reason": reason,
            "status": status,
            "created_at": created,
            "updated_at": updated,
        }
    )


def build_ratings(
    orders: pd.DataFrame,
    items: pd.DataFrame,
    returns: pd.DataFrame,
    cat: Catalogue,
    ppl: People,
    rng,
    as_of: np.datetime64,
) -> pd.DataFrame:
    """1–5 ratings of bought products from product quality, customer taste and mood."""
    lines = _delivered_lines(orders, items)
    returned = set(returns["order_item_id"].tolist())
    lines["returned"] = lines["id"].isin(returned)
    pairs = (
        lines.sort_values(["cust", "product", "delivered_at"], kind="stable")
        .groupby(["cust", "product"], as_index=False)
        .agg(delivered_at=("delivered_at", "first"), returned=("returned", "max"))
    )
    n = len(pairs)
    cust = pairs["cust"].to_numpy()
    product = pairs["product"].to_numpy()
    account = ppl.frame["demo_group"].to_numpy()[cust] == ACCOUNT_GROUP
    chosen = rng.random(n) < np.where(account, ACCOUNT_RATING_SHARE, RATING_SHARE)
    rated_at = pairs["delivered_at"].to_numpy() + _secs(rng.uniform(1, 30, n) * DAY)
    affinity = np.einsum("nd,nd->n", ppl.taste[cust], cat.taste[product]) / np.sqrt(TASTE_DIM)
    score = (
        3.7
        + 0.7 * cat.frame["quality"].to_numpy()[product]
        + ppl.bias[cust]
        + 0.6 * affinity
        + rng.normal(0.0, 0.6, n)
        - 1.2 * pairs["returned"].to_numpy()
    )
    rating = np.clip(np.round(score), 1, 5)
    keep = chosen & (rated_at <= as_of)
    out = pd.DataFrame(
        {
            "customer_id": ppl.frame["id"].to_numpy()[cust[keep]],
            "product_id": cat.frame["id"].to_numpy()[product[keep]],
            "rating": rating[keep],
            "rated_at": rated_at[keep],
        }
    )
    out = out.sort_values("rated_at", kind="stable").reset_index(drop=True)
    out.insert(0, "id", np.arange(1, len(out) + 1))
    return out


def build_events(
    orders: pd.DataFrame,
    items: pd.DataFrame,
    cat: Catalogue,
    ppl: People,
    rng,
    as_of: np.datetime64,
) -> pd.DataFrame:
    """Views, cart additions and purchases of the last ``EVENT_DAYS`` days."""
    since = as_of - np.timedelta64(EVENT_DAYS * DAY, "s")
    placed = orders["placed_at"].to_numpy()[items["order"].to_numpy()]
    recent = placed >= since
    bought = items[recent]
    when = placed[recent]
    cust = ppl.frame["id"].to_numpy()[orders["cust"].to_numpy()[bought["order"].to_numpy()]]
    prod = cat.frame["id"].to_numpy()[bought["product"].to_numpy()]
    n = len(bought)
    sellable = np.flatnonzero(cat.frame["active"].to_numpy())
    pop = cat.frame["popularity"].to_numpy()[sellable]
    n_abandoned, n_browse = int(0.4 * n), int(1.5 * n)
    shoppers = cust[rng.integers(0, max(n, 1), n_abandoned + n_browse)] if n else np.zeros(0, int)
    other = cat.frame["id"].to_numpy()[
        sellable[rng.choice(len(sellable), n_abandoned + n_browse, p=pop / pop.sum())]
    ]
    other_when = since + _secs(rng.uniform(0, EVENT_DAYS * DAY, n_abandoned + n_browse))
    # A quarter of the browsing is by visitors who are not signed in.
    anonymous = np.r_[np.zeros(n_abandoned, bool), rng.random(n_browse) < 0.25]
    other_cust = np.where(anonymous, None, shoppers.astype(object))  # type: ignore[call-overload]
    parts = [
        (cust, prod, "purchase", when),
        (cust, prod, "cart", when - _secs(rng.uniform(60, 1800, n))),
        (cust, prod, "view", when - _secs(rng.uniform(600, 72 * 3600, n))),
        (cust, prod, "view", when - _secs(rng.uniform(600, 72 * 3600, n))),
        (other_cust[:n_abandoned], other[:n_abandoned], "cart", other_when[:n_abandoned]),
        (other_cust, other, "view", other_when),
    ]
    ev = pd.DataFrame(
        {
            "customer_id": np.concatenate([np.asarray(p[0], dtype=object) for p in parts]),
            "product_id": np.concatenate([p[1] for p in parts]),
            "kind": np.concatenate([np.full(len(p[1]), p[2], dtype=object) for p in parts]),
            "occurred_at": np.concatenate([p[3] for p in parts]),
        }
    )
    ev = ev.sort_values("occurred_at", kind="stable").reset_index(drop=True)
    ev.insert(0, "id", np.arange(1, len(ev) + 1))
    return ev


def build_inventory(
    orders: pd.DataFrame, items: pd.DataFrame, cat: Catalogue, rng, as_of: np.datetime64
) -> pd.DataFrame:
    """Stock per product: mostly healthy, some low, some out; rough reorder points from sales."""
    window = 56
    since = as_of - np.timedelta64(window * DAY, "s")
    o = items["order"].to_numpy()
    recent = (orders["placed_at"].to_numpy()[o] >= since) & (
        orders["status"].to_numpy()[o] != "cancelled"
    )
    m = len(cat)
    sold = np.bincount(
        items["product"].to_numpy()[recent],
        weights=items["quantity"].to_numpy()[recent],
        minlength=m,
    )
    daily = sold / window
    cat_idx = cat.frame["cat_idx"].to_numpy()
    lo = np.array([LEAD_TIME[c][0] for c in CATEGORIES])[cat_idx]
    hi = np.array([LEAD_TIME[c][1] for c in CATEGORIES])[cat_idx]
    lead = rng.integers(lo, hi + 1)
    # Demand is more variable than Poisson: 1.5 x its standard deviation.
    safety = np.ceil(SERVICE_Z * 1.5 * np.sqrt(daily * lead)).astype(np.int64)
    rop = np.ceil(daily * lead + safety).astype(np.int64)
    state = rng.random(m)
    out = state < 0.06
    low = (state >= 0.06) & (state < 0.18)
    healthy = rop + 1 + (rng.random(m) * (daily * 60 + 10)).astype(np.int64)
    on_hand = np.where(out, 0, np.where(low, rng.integers(1, np.maximum(rop, 1) + 1), healthy))
    fixed = cat.frame["anchor"].to_numpy()
    on_hand = np.where(fixed, np.maximum(on_hand, rop + 10), on_hand)
    restock = np.ceil(daily * 30 + safety + 5).astype(np.int64)
    ordered = np.where(out | low, rng.random(m) < 0.75, rng.random(m) < 0.08)
    on_order = np.where(ordered, restock, 0)
    inactive = ~cat.frame["active"].to_numpy()
    return pd.DataFrame(
        {
            "product_id": cat.frame["id"].to_numpy(),
            "on_hand": np.where(inactive, 0, on_hand),
            "on_order": np.where(inactive, 0, on_order),
            "lead_time_days": lead,
            "safety_stock": safety,
            "reorder_point": rop,
            "updated_at": np.full(m, as_of),
        }
    )
