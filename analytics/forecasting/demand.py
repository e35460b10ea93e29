"""Demand series from the store: units sold per product per day (or week), or, as a stand-in for
demand on data sets without sales, ratings per product (``source="ratings"``: MovieLens
ratings counted per movie and week are real count series, many of them intermittent).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from analytics.data import data_end, load_purchases, load_ratings
from analytics.forecasting.selection import ForecastConfig
from analytics.forecasting.series import (
    daily_matrix,
    last_full_day,
    product_series,
    series_starts,
    weekly,
)
from shop.errors import NoData
from shop.importers.frequency import detect_frequency
from shop.store.models import Order

SOURCES = ("orders", "ratings")


@dataclass
class DemandWindow:
    """The bounded history window every series of a run is cut from."""

    end: dt.datetime  # the newest event
    first: dt.date  # first and last full day of the window
    last: dt.date
    events: pd.DataFrame  # product_id, quantity, placed_at
    source: str
    matrix: pd.DataFrame | None = None

    @property
    def first_forecast_day(self) -> dt.date:
        return self.last + dt.timedelta(days=1)


def _ratings_as_events(engine: Engine) -> pd.DataFrame:
    r = load_ratings(engine)
    return pd.DataFrame(
        {"product_id": r["product_id"], "quantity": 1.0, "placed_at": r["rated_at"]}
    )


def load_window(
    engine: Engine,
    config: ForecastConfig,
    source: str = "orders",
    extra_steps: int = 0,
    until: dt.datetime | None = None,
) -> DemandWindow:
    """The events (order lines, or ratings) of the history window, ``extra_steps`` longer than a
    forecast run needs (for replays), as if the data ended at ``until`` (default: its newest
    event); NoData when there are none."""
    if source not in SOURCES:
        raise ValueError(f"demand source must be one of {', '.join(SOURCES)}, not {source!r}")
    days = (config.history_days + extra_steps) * config.step_days
    if source == "ratings":
        events = _ratings_as_events(engine)
        if events.empty:
            raise NoData("no ratings in the store — import some (`shopbot import ratings FILE`)")
        end = events["placed_at"].max().to_pydatetime()
    else:
        found = data_end(engine)
        if found is None:
            raise NoData(
                "there are no orders in the store yet — import transactions "
                "(`shopbot import transactions FILE`) or build the demo shop (`shopbot setup-demo`)"
            )
        end = found
        events = None
    if until is not None:
        end = min(end, until)
    since = dt.datetime.combine(end.date() - dt.timedelta(days=days), dt.time())
    if events is None:
        events = load_purchases(engine, since=since)
    else:
        events = events[events["placed_at"] >= since]
    events = events[events["placed_at"] <= end]
    last = last_full_day(end, events["placed_at"])
    if config.freq == "W":
        # Whole weeks only (Monday to Sunday): the window ends on the last complete Sunday.
        last = last - dt.timedelta(days=(last.weekday() + 1) % 7)
    first = last - dt.timedelta(days=days - 1)
    return DemandWindow(end=end, first=first, last=last, events=events, source=source)


def product_histories(
    engine: Engine,
    window: DemandWindow,
    product_ids: list[int],
    config: ForecastConfig,
    min_units: float = 0.0,
) -> dict[int, pd.Series]:
    """Each product's demand series (per day, or per week with ``config.freq == "W"``), from
    its first sale (see ``series.series_starts``); products without demand, or with less than
    ``min_units`` in the window, are left out."""
    ev = window.events[window.events["product_id"].isin(product_ids)]
    matrix = daily_matrix(ev, window.first, window.last)
    if window.source == "orders":
        starts = series_starts(engine, matrix, product_ids)
    else:  # no store to ask about earlier sales: a series starts at its first rating
        starts = {}
        for pid in product_ids:
            col = matrix[pid].to_numpy() if pid in matrix.columns else np.zeros(0)
            sold = np.flatnonzero(col > 0)
            starts[pid] = matrix.index[sold[0]].date() if len(sold) else None
    out = {}
    for pid in product_ids:
        start = starts.get(pid)
        if start is None:
            continue
        hist = product_series(matrix, pid, start)
        if config.freq == "W":
            # A series starting mid-week starts on that week's Monday, counted whole.
            monday = pd.Timestamp(start) - pd.Timedelta(days=pd.Timestamp(start).weekday())
            hist = weekly(product_series(matrix, pid, max(monday.date(), window.first)))
            if hist.empty:
                continue
        if float(hist.sum()) < max(min_units, 1e-9):
            continue
        out[pid] = hist
    return out


def frequency_of(engine: Engine, source: str = "orders") -> str:
    """Frequency of the store's data: "W" when the demand events all fall on one weekday
    (data recorded weekly), else "D" (see ``shop.importers.frequency.detect_frequency``)."""
    if source == "ratings":
        times = _ratings_as_events(engine)["placed_at"]
    else:
        with engine.connect() as conn:
            times = pd.Series([r[0] for r in conn.execute(select(Order.placed_at))])
    return detect_frequency(times) if len(times) else "D"
