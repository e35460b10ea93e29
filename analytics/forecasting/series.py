"""Daily (and weekly) demand per product from order lines: units per day, zero-filled."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from shop.store.models import Order, OrderItem


def last_full_day(end: dt.datetime, placed_at: pd.Series | None = None) -> dt.date:
    """The newest day whose sales are complete, given the time of the newest order.

    The data's last day may be cut off mid-day (an export ending at noon, or "now" in a live
    shop); counting it as a full day would make every series end on a dip. It counts as complete
    when, over the history in ``placed_at``, at least 90% of a day's orders come before the
    newest order's time of day (without history: when the data reaches 23:00).
    """
    if placed_at is not None and len(placed_at):
        times = placed_at.dt.hour * 3600 + placed_at.dt.minute * 60 + placed_at.dt.second
        cutoff = end.hour * 3600 + end.minute * 60 + end.second
        complete = float((times <= cutoff).mean()) >= 0.9
    else:
        complete = end.hour >= 23
    return end.date() if complete else end.date() - dt.timedelta(days=1)


def sold_before(engine: Engine, product_ids: Iterable[int], day: dt.date) -> set[int]:
    """Which of ``product_ids`` sold (in a non-cancelled order) before ``day``.

    Asked only about the few products whose first sale in the history window comes late, so the
    query stays on the order_items product index instead of scanning every order.
    """
    ids = sorted({int(p) for p in product_ids})
    found: set[int] = set()
    for i in range(0, len(ids), 500):  # keep the IN list within every database's limits
        stmt = (
            select(OrderItem.product_id)
            .join(Order, Order.id == OrderItem.order_id)
            .where(
                OrderItem.product_id.in_(ids[i : i + 500]),
                Order.placed_at < dt.datetime.combine(day, dt.time()),
                Order.status != "cancelled",
            )
            .distinct()
        )
        with engine.connect() as conn:
            found.update(int(r[0]) for r in conn.execute(stmt))
    return found


def series_starts(
    engine: Engine, matrix: pd.DataFrame, product_ids: Iterable[int], late_days: int = 28
) -> dict[int, dt.date | None]:
    """First day of each product's demand series; None for a product that never sold.

    A product starts at its first sale in the window (``matrix``): days before a launch are not
    days without demand, and counting them would make a new product look intermittent. When that
    first sale comes more than ``late_days`` into the window, or there is none, the store is
    asked whether the product sold earlier; if so the series spans the whole window.
    """
    days = matrix.index
    window_start = days[0].date()
    starts: dict[int, dt.date | None] = {}
    ask = []
    for pid in product_ids:
        col = matrix[pid].to_numpy() if pid in matrix.columns else np.zeros(0)
        sold = np.flatnonzero(col > 0)
        if len(sold) and sold[0] <= late_days:
            starts[pid] = window_start
        else:
            starts[pid] = days[sold[0]].date() if len(sold) else None
            ask.append(pid)
    for pid in sold_before(engine, ask, window_start) if ask else ():
        starts[pid] = window_start
    return starts


def daily_matrix(purchases: pd.DataFrame, first_day: dt.date, last_day: dt.date) -> pd.DataFrame:
    """Units sold per day (rows, every day from ``first_day`` to ``last_day``) and product
    (columns, product ids that sold in that span); days without a sale are 0."""
    days = pd.date_range(first_day, last_day, freq="D")
    if purchases.empty:
        return pd.DataFrame(index=days, dtype="float64")
    day = purchases["placed_at"].dt.normalize()
    keep = (day >= days[0]) & (day <= days[-1])
    counts = (
        purchases.loc[keep, ["product_id", "quantity"]]
        .assign(day=day[keep])
        .groupby(["day", "product_id"])["quantity"]
        .sum()
        .unstack("product_id", fill_value=0)
    )
    return counts.reindex(days, fill_value=0).astype("float64")


def product_series(matrix: pd.DataFrame, product_id: int, start: dt.date) -> pd.Series:
    """One product's daily demand from ``start`` (see :func:`series_starts`) to the last day;
    at least the last day, so a product whose only sale is too recent still has a series."""
    if product_id in matrix.columns:
        s = matrix[product_id]
    else:
        s = pd.Series(0.0, index=matrix.index)
    s = s[s.index >= min(pd.Timestamp(start), s.index[-1])]
    s = s.rename("units")
    s.index.name = "day"
    return s


def weekly(daily: pd.Series) -> pd.Series:
    """Units per week (weeks end on Sunday, labelled by their Monday); partial weeks at either
    end are dropped so that every value is a full week."""
    if daily.empty:
        return daily
    sums = daily.resample("W-SUN").agg(["sum", "count"])
    sums = sums[sums["count"] == 7]["sum"]
    sums.index = sums.index - pd.Timedelta(days=6)
    sums.index.name = "week"
    return sums.rename("units")
