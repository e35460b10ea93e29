"""Per-customer features for segmentation: recency, frequency, spend (RFM) and category shares."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from analytics.data import data_end, load_customers, load_purchases
from shop.errors import NoData
from shop.store.models import CATEGORIES

DAYS_PER_MONTH = 365.25 / 12
# A customer's rates are measured over at least one month: a first order placed yesterday is
# "1 order per month", not "30 orders per month".
MIN_SPAN_DAYS = DAYS_PER_MONTH

SHARE_CATEGORIES = (*CATEGORIES, "other")
SHARE_COLUMNS = tuple(f"share_{c}" for c in SHARE_CATEGORIES)
RFM_COLUMNS = ("recency_days", "frequency", "monetary")
FEATURE_COLUMNS = (*RFM_COLUMNS, *SHARE_COLUMNS)


def rfm_features(
    purchases: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    as_of: dt.datetime | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Per-customer features (indexed by customer_id) for every customer with a purchase.

    Columns:

    * ``recency_days``: days from the customer's last order to ``as_of``.
    * ``frequency``: orders per month over the customer's *active span*, i.e. from their first
      order to ``as_of`` (at least one month). Measuring to ``as_of`` rather than to the last order
      means a customer who stopped buying sees their rate fall, and customers who joined late are
      not penalised for the months before they existed (a fixed window would do that).
    * ``monetary``: spend per month over the same span.
    * ``share_<category>``: share of the customer's spend per category (clothing, electronics,
      home, beauty, food; any other category counts as ``other``); they sum to 1.
    * ``orders``, ``spend``, ``tenure_days`` (first order to ``as_of``): descriptive, used to
      profile and name segments, not as clustering features.

    ``purchases`` is :func:`analytics.data.load_purchases`' frame (order_id, customer_id, category,
    amount, placed_at). ``as_of`` defaults to the newest ``placed_at``; later lines are ignored.
    With ``customers`` (:func:`analytics.data.load_customers`), only those customers are kept and
    ``result.attrs["customers_without_purchases"]`` counts the ones left out.
    """
    if as_of is None:
        as_of = purchases["placed_at"].max() if len(purchases) else None
    keep = np.ones(len(purchases), dtype=bool)
    if as_of is not None:
        as_of = pd.Timestamp(as_of)
        keep &= (purchases["placed_at"] <= as_of).to_numpy()
    if customers is not None:
        keep &= purchases["customer_id"].isin(customers["customer_id"]).to_numpy()
    columns = [*FEATURE_COLUMNS, "orders", "spend", "tenure_days"]
    if not keep.any():
        out = pd.DataFrame(columns=columns, dtype="float64")
        out.index = pd.Index([], name="customer_id", dtype="int64")
        out.attrs["customers_without_purchases"] = 0 if customers is None else len(customers)
        return out

    # Plain numpy on factorised ids: a pandas groupby per statistic re-hashes millions of rows.
    def col(name: str) -> np.ndarray:
        values = purchases[name].to_numpy()
        return values if keep.all() else values[keep]

    codes, ids = pd.factorize(col("customer_id"), sort=True)
    n = len(ids)
    amount = col("amount").astype("float64")
    when = pd.to_datetime(col("placed_at")).to_numpy("datetime64[ns]").view("int64")
    order_id = col("order_id")
    spend = np.bincount(codes, weights=amount, minlength=n)
    sorted_lines = False
    if np.issubdtype(order_id.dtype, np.number):
        step, id_step = np.diff(when), np.diff(order_id)
        sorted_lines = bool(np.all((step > 0) | ((step == 0) & (id_step >= 0))))
    if sorted_lines:
        # Sorted by (placed_at, order_id), as load_purchases gives it: a customer's first and last
        # lines hold their first and last times, and an order's lines are adjacent. O(n).
        customer = pd.Series(codes)
        first, last = np.empty(n, dtype="int64"), np.empty(n, dtype="int64")
        is_first = ~customer.duplicated(keep="first").to_numpy()
        is_last = ~customer.duplicated(keep="last").to_numpy()
        first[codes[is_first]] = when[is_first]
        last[codes[is_last]] = when[is_last]
        first_line = np.concatenate(([True], id_step != 0))
    else:
        by_customer = np.argsort(codes, kind="stable")
        starts = np.concatenate(([0], np.cumsum(np.bincount(codes, minlength=n))[:-1]))
        first = np.minimum.reduceat(when[by_customer], starts)
        last = np.maximum.reduceat(when[by_customer], starts)
        # An order's lines share its customer, so counting each order id once counts orders.
        first_line = ~pd.Series(order_id).duplicated().to_numpy()
    orders = np.bincount(codes[first_line], minlength=n)

    cat_codes, cat_names = pd.factorize(col("category"))
    other = len(SHARE_CATEGORIES) - 1
    slot = np.array(
        [CATEGORIES.index(c) if c in CATEGORIES else other for c in cat_names], dtype="int64"
    )
    # Missing categories factorise to -1: they count as "other".
    cat_slot = np.where(cat_codes >= 0, slot[np.maximum(cat_codes, 0)], other)
    width = len(SHARE_CATEGORIES)
    by_category = np.bincount(codes * width + cat_slot, weights=amount, minlength=n * width)
    by_category = by_category.reshape(n, width)
    with np.errstate(invalid="ignore", divide="ignore"):
        # A customer whose lines are all free has no spend to share out: all shares 0.
        shares = np.where(spend[:, None] > 0, by_category / spend[:, None], 0.0)

    day_ns = 86_400 * 10**9
    as_of_ns = pd.Timestamp(as_of).value
    tenure_days = (as_of_ns - first) / day_ns
    months = np.maximum(tenure_days, MIN_SPAN_DAYS) / DAYS_PER_MONTH
    out = pd.DataFrame(
        {
            "recency_days": (as_of_ns - last) / day_ns,
            "frequency": orders / months,
            "monetary": spend / months,
            **{name: shares[:, i] for i, name in enumerate(SHARE_COLUMNS)},
            "orders": orders.astype("int64"),
            "spend": spend,
            "tenure_days": tenure_days,
        },
        index=pd.Index(np.asarray(ids, dtype="int64"), name="customer_id"),
    )
    if customers is not None:
        out.attrs["customers_without_purchases"] = int(
            (~customers["customer_id"].isin(out.index)).sum()
        )
    return out


def load_features(engine: Engine) -> tuple[pd.DataFrame, pd.DataFrame, dt.datetime]:
    purchases = load_purchases(engine)
    if purchases.empty:
        raise NoData(
            "there are no purchases in the database to segment — build the demo shop "
            "(`shopbot setup-demo`) or import orders (`shopbot import transactions FILE`)"
        )
    customers = load_customers(engine)
    as_of = data_end(engine) or purchases["placed_at"].max()
    as_of = pd.Timestamp(as_of).to_pydatetime()
    return rfm_features(purchases, customers, as_of), customers, as_of
