"""Sales reports for staff: revenue, orders and top sellers over a period, by product or category.

Periods are relative to the newest order in the store ("this week" = the week containing it),
so a shop that imported historic data still gets answers; in a live shop that is today.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from analytics.data import data_end, load_products, load_purchases
from shop.errors import NoData


@dataclass(frozen=True)
class Period:
    start: dt.date  # inclusive
    end: dt.date  # exclusive
    label: str
    # How far back the comparison period lies: a week for weeks (this week so far vs the same
    # days last week), a month for months, the period's own length otherwise.
    shift: dt.timedelta | None = None

    @property
    def previous(self) -> tuple[dt.date, dt.date]:
        shift = self.shift or (self.end - self.start)
        return self.start - shift, self.end - shift


def _month_before(d: dt.date) -> dt.date:
    prev = (d.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    return prev.replace(day=min(d.day, 28))


def parse_period(text: str | None, today: dt.date) -> Period:
    """The period a phrase like "this week", "last month", "yesterday", "last 30 days" means
    (default: the last 7 days)."""
    t = (text or "").lower().strip()
    week_start = today - dt.timedelta(days=today.weekday())
    month_start = today.replace(day=1)
    if "yesterday" in t:
        d = today - dt.timedelta(days=1)
        return Period(d, today, "yesterday")
    if "today" in t:
        return Period(today, today + dt.timedelta(days=1), "today")
    if m := re.search(r"(?:last|past)\s+(\d{1,3})\s+days?", t):
        n = int(m.group(1))
        return Period(
            today - dt.timedelta(days=n - 1), today + dt.timedelta(days=1), f"last {n} days"
        )
    if "last week" in t or "previous week" in t:
        return Period(week_start - dt.timedelta(days=7), week_start, "last week")
    if "this week" in t or "week" in t:
        week = dt.timedelta(days=7)
        return Period(week_start, today + dt.timedelta(days=1), "this week", week)
    if "last month" in t or "previous month" in t:
        prev = _month_before(month_start)
        return Period(prev, month_start, f"last month ({prev:%B %Y})", month_start - prev)
    if "this month" in t or "month" in t:
        shift = month_start - _month_before(month_start)
        label = f"this month ({today:%B %Y})"
        return Period(month_start, today + dt.timedelta(days=1), label, shift)
    if "year" in t:
        return Period(today.replace(month=1, day=1), today + dt.timedelta(days=1), f"{today.year}")
    return Period(today - dt.timedelta(days=6), today + dt.timedelta(days=1), "the last 7 days")


@dataclass
class SalesReport:
    period: Period
    revenue: float
    orders: int
    units: int
    by_category: list[dict] = field(default_factory=list)  # category, revenue, units, share
    top_products: list[dict] = field(default_factory=list)  # sku, name, category, units, revenue
    previous_revenue: float | None = None

    @property
    def change(self) -> float | None:
        if not self.previous_revenue:
            return None
        return self.revenue / self.previous_revenue - 1

    def to_dict(self) -> dict:
        return {
            "period": {
                "start": self.period.start.isoformat(),
                "end": self.period.end.isoformat(),
                "label": self.period.label,
            },
            "revenue": round(self.revenue, 2),
            "orders": self.orders,
            "units": self.units,
            "previous_revenue": None
            if self.previous_revenue is None
            else round(self.previous_revenue, 2),
            "change": None if self.change is None else round(self.change, 4),
            "by_category": self.by_category,
            "top_products": self.top_products,
        }


def sales_report(engine: Engine, period_text: str | None = None, top: int = 5) -> SalesReport:
    """Revenue, orders, units, revenue by category and top sellers for the period."""
    end = data_end(engine)
    if end is None:
        raise NoData("there are no orders yet, so there are no sales to report")
    period = parse_period(period_text, end.date())
    prev_start, prev_end = period.previous
    lines = load_purchases(engine, since=dt.datetime.combine(prev_start, dt.time()))
    day = lines["placed_at"].dt.date
    current = lines[(day >= period.start) & (day < period.end)]
    previous = lines[(day >= prev_start) & (day < prev_end)]
    report = SalesReport(
        period=period,
        revenue=float(current["amount"].sum()),
        orders=int(current["order_id"].nunique()),
        units=int(current["quantity"].sum()),
        previous_revenue=float(previous["amount"].sum()) if len(previous) else None,
    )
    if current.empty:
        return report
    cats = current.groupby("category").agg(revenue=("amount", "sum"), units=("quantity", "sum"))
    cats = cats.sort_values("revenue", ascending=False)
    total = cats["revenue"].sum()
    report.by_category = [
        {
            "category": c,
            "revenue": round(float(r.revenue), 2),
            "units": int(r.units),
            "share": round(float(r.revenue / total), 4) if total else 0.0,
        }
        for c, r in cats.iterrows()
    ]
    names = load_products(engine).set_index("product_id")["name"]
    prods = (
        current.groupby(["product_id", "sku", "category"])
        .agg(units=("quantity", "sum"), revenue=("amount", "sum"))
        .reset_index()
        .sort_values(["units", "revenue"], ascending=False)
        .head(top)
    )
    report.top_products = [
        {
            "sku": r.sku,
            "name": str(names.get(r.product_id, r.sku)),
            "category": r.category,
            "units": int(r.units),
            "revenue": round(float(r.revenue), 2),
        }
        for r in prods.itertuples()
    ]
    return report
