"""Answers to staff questions as :class:`~analytics.reports.base.StaffReport` objects.

Each reads stored results (the latest training) plus live stock, so it answers in milliseconds;
nothing here refits a model except the forecast fallback when no trained forecasts exist.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.engine import Engine

from analytics.reports.base import StaffReport, Table, money, number
from analytics.reports.charts import bar_chart, forecast_chart
from analytics.sales import sales_report
from shop.errors import ModelMissing, NoData, NotFound
from shop.store import session_scope
from shop.store.models import AnalyticsRun, Product, ReorderAdvice

DEFAULT_HORIZON_DAYS = 28


def parse_horizon(text: str | None, default: int = DEFAULT_HORIZON_DAYS) -> int:
    """Days meant by "next 4 weeks", "14 days", "next month", "two weeks" (default 28)."""
    t = (text or "").lower()
    words = {"one": 1, "a": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "eight": 8}
    if m := re.search(r"(\d{1,3}|one|two|three|four|five|six|eight|a)\s*(day|week|month)s?", t):
        n = int(m.group(1)) if m.group(1).isdigit() else words[m.group(1)]
        return n * {"day": 1, "week": 7, "month": 30}[m.group(2)]
    if "month" in t:
        return 30
    if "week" in t:
        return 7
    return default


# -- stock -----------------------------------------------------------------------------------------


def stock_report(engine: Engine, sku: str) -> StaffReport:
    """On hand, on order, days of cover and expected stock-out date of one product."""
    from analytics.inventory import stock_status

    s = stock_status(engine, sku)
    fields = [
        ("On hand", number(s.on_hand)),
        ("On order", number(s.on_order)),
        ("Days of cover", "–" if s.days_of_cover is None else f"{s.days_of_cover:.1f}"),
        (
            "Expected stock-out",
            s.stockout_date.isoformat() if s.stockout_date else "not within the forecast",
        ),
        ("Lead time", f"{s.lead_time_days} days"),
        ("Reorder now?", {True: "yes", False: "no", None: "–"}[s.reorder_now]),
    ]
    if s.reorder_now and s.order_quantity:
        fields.append(("Suggested order", number(s.order_quantity)))
    notes = [s.note] if s.note else []
    if s.mean_daily is not None:
        notes.append(f"Forecast demand {s.mean_daily:.2f}/day ({s.method}).")
    if not s.stock_known:
        summary = "Stock level not known: the shop's stock figures have not been imported."
    else:
        summary = "Out of stock." if s.on_hand <= 0 else ""
    return StaffReport(
        title=f"Stock of {s.sku} {s.name}",
        summary=summary,
        fields=fields,
        notes=notes,
        data=s.to_dict(),
    )


# -- forecast --------------------------------------------------------------------------------------


def forecast_report(
    engine: Engine, sku: str, horizon_days: int = DEFAULT_HORIZON_DAYS, artifact: dict | None = None
) -> StaffReport:
    """The forecast with 80/95% intervals, its method and backtest error, and a chart."""
    from analytics.forecasting import lookup

    if artifact is None:
        raise ModelMissing("no trained forecasts yet — run `shopbot train` first")
    e = lookup(artifact, sku)
    available = len(e["mean"])
    h = max(1, min(horizon_days, available))
    days = [dt.date.fromisoformat(d) for d in e["days"][:h]]
    cols = {c: e[c][:h] for c in ("mean", "lo80", "hi80", "lo95", "hi95")}
    hist = e["history"]
    start = dt.date.fromisoformat(hist["start"])
    hist_days = [start + dt.timedelta(days=i) for i in range(len(hist["units"]))]
    # Weekly totals read better than 28 daily rows. A week's range is the interval of the
    # week's total from the forecast's joint sample paths (calibrated on backtests), never a
    # sum of daily bounds; artifacts from before those existed have no weekly intervals.
    step = int(artifact.get("step_days", 1))
    per_week = max(1, 7 // step)
    weeks = e.get("weeks") or []
    rows = []
    for b, w in enumerate(range(0, h, per_week)):
        sl = slice(w, min(w + per_week, h))
        last = days[sl.stop - 1] + dt.timedelta(days=step - 1)
        joint = weeks[b] if b < len(weeks) and sl.stop - sl.start == per_week else None
        rows.append(
            [
                f"{days[sl.start]:%d %b}–{last:%d %b}",
                number(sum(cols["mean"][sl]), 1),
                f"{joint['lo80']:.0f}–{joint['hi80']:.0f}" if joint else "–",
                f"{joint['lo95']:.0f}–{joint['hi95']:.0f}" if joint else "–",
            ]
        )
    # A series too short to backtest has None for each method: say "–" rather than fail.
    backtest = e.get("backtest") or {}
    chosen = backtest.get(e["method"]) or {}
    baseline = backtest.get("seasonal_naive") or {}
    total = sum(cols["mean"])
    fields = [
        ("Expected demand", f"{total:,.0f} units in {h} days ({total / h:.2f}/day)"),
        ("Method", f"{e['method']}" + (f" — {e['reason']}" if e.get("reason") else "")),
        (
            "Backtest MASE",
            f"{_fmt(chosen.get('mase'))} (seasonal naive {_fmt(baseline.get('mase'))})",
        ),
        (
            "Interval coverage",
            f"80%: {_pct(chosen.get('coverage80'))}, 95%: {_pct(chosen.get('coverage95'))}",
        ),
    ]
    notes = []
    if horizon_days > available:
        notes.append(f"Forecasts reach {available} days ahead; showing {h}.")
    if weeks:
        notes.append(
            "Week ranges are intervals of each week's total (from the forecast's joint paths, "
            "calibrated on backtests), not sums of the daily ranges."
        )
    else:
        notes.append("No weekly ranges in this forecast version — `shopbot train` adds them.")
    png = forecast_chart(
        f"{e['sku']} {e.get('name', '')} — forecast for {h} days",
        hist_days,
        hist["units"],
        days,
        cols["mean"],
        cols["lo80"],
        cols["hi80"],
        cols["lo95"],
        cols["hi95"],
    )
    return StaffReport(
        title=f"Forecast for {e['sku']} {e.get('name', '')}".strip(),
        fields=fields,
        table=Table(["week", "units", "80% range", "95% range"], rows, ["l", "r", "r", "r"]),
        notes=notes,
        chart_png=png,
        chart_name=f"forecast-{e['sku']}.png",
        data={
            "sku": e["sku"],
            "method": e["method"],
            "horizon_days": h,
            "days": e["days"][:h],
            **cols,
            "backtest": backtest,
        },
    )


def _fmt(x) -> str:
    return "–" if x is None else f"{x:.2f}"


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


# -- reorder ---------------------------------------------------------------------------------------


def reorder_report(engine: Engine, limit: int = 15) -> StaffReport:
    """What to reorder now, most urgent first, from the latest stored reorder run."""
    from analytics.data import NO_STOCK_FIGURES, load_products, stock_figures_known

    if not stock_figures_known(load_products(engine)):
        raise NoData(f"I can't advise on reordering yet: {NO_STOCK_FIGURES}.")
    with session_scope(engine) as s:
        run = s.execute(
            select(AnalyticsRun)
            .where(AnalyticsRun.kind == "reorder")
            .order_by(AnalyticsRun.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if run is None:
            raise ModelMissing("no reorder advice yet — run `shopbot train` first")
        rows = s.execute(
            select(ReorderAdvice, Product.sku, Product.name)
            .join(Product, Product.id == ReorderAdvice.product_id)
            .where(ReorderAdvice.run_id == run.id, ReorderAdvice.reorder_now.is_(True))
        ).all()
        made = run.finished_at or run.started_at
        level = (run.params or {}).get("service_level", 0.95)
    rows.sort(
        key=lambda r: (
            r[0].stockout_date or dt.date.max,
            r[0].days_of_cover if r[0].days_of_cover is not None else float("inf"),
            r[1],
        )
    )
    table_rows = [
        [
            sku,
            name[:28],
            number(a.on_hand),
            "–" if a.days_of_cover is None else f"{a.days_of_cover:.1f}",
            a.stockout_date.isoformat() if a.stockout_date else "–",
            number(a.order_quantity),
        ]
        for a, sku, name in rows[:limit]
    ]
    summary = (
        f"{len(rows)} products should be reordered now, planning for a {level:.0%} service "
        "level (the chance of not running out before an order arrives)."
        if rows
        else f"Nothing needs reordering right now (planning for a {level:.0%} service level)."
    )
    notes = [f"Advice from {made:%Y-%m-%d %H:%M} UTC; stock changes since then are not included."]
    if len(rows) > limit:
        notes.insert(0, f"Showing the {limit} most urgent of {len(rows)}.")
    return StaffReport(
        title="What to reorder",
        summary=summary,
        table=Table(
            ["sku", "product", "on hand", "cover d", "stock-out", "order qty"],
            table_rows,
            ["l", "l", "r", "r", "l", "r"],
        ),
        notes=notes,
        data={
            "run_id": run.id,
            "service_level": level,
            "count": len(rows),
            "items": [
                {
                    "sku": sku,
                    "name": name,
                    "on_hand": a.on_hand,
                    "days_of_cover": a.days_of_cover,
                    "stockout_date": a.stockout_date.isoformat() if a.stockout_date else None,
                    "order_quantity": a.order_quantity,
                }
                for a, sku, name in rows
            ],
        },
    )


# -- segments --------------------------------------------------------------------------------------


def segment_report(engine: Engine) -> StaffReport:
    """The latest customer segments as a manager would read them."""
    from analytics.segmentation import latest_segments

    latest = latest_segments(engine)
    if not latest:
        raise ModelMissing("no customer segments yet — run `shopbot train` first")
    segs = latest["segments"]
    total = sum(s["size"] for s in segs) or 1
    rows = [
        [
            s["label"][:56],
            f"{s['size']:,} ({s['size'] / total:.0%})",
            s.get("favourite_category") or "–",
            f"{s['purchases_per_month']:.1f}",
            money(s["spend_per_month"]),
            f"{s['recency_days']:.0f}",
        ]
        for s in segs
    ]
    return StaffReport(
        title="Customer segments",
        summary=f"{len(segs)} segments over {total:,} customers who bought something.",
        table=Table(
            ["segment", "customers", "favourite", "orders/mo", "spend/mo", "days since"],
            rows,
            ["l", "r", "l", "r", "r", "r"],
        ),
        notes=[
            f"Silhouette {latest.get('silhouette', 0):.2f}; computed {latest.get('finished_at')}."
        ],
        data=latest,
    )


# -- sales -----------------------------------------------------------------------------------------


def sales_staff_report(engine: Engine, period_text: str | None = None) -> StaffReport:
    """Revenue, orders and top sellers for a period, with revenue by category as a chart."""
    r = sales_report(engine, period_text, top=5)
    if r.orders == 0:
        raise NoData(f"no sales in {r.period.label}")
    change = "" if r.change is None else f" ({r.change:+.0%} vs the previous period)"
    fields = [
        ("Revenue", money(r.revenue) + change),
        ("Orders", number(r.orders)),
        ("Units", number(r.units)),
        ("Top category", r.by_category[0]["category"] if r.by_category else "–"),
    ]
    rows = [
        [p["sku"], p["name"][:28], number(p["units"]), money(p["revenue"])] for p in r.top_products
    ]
    png = bar_chart(
        f"Revenue by category — {r.period.label}",
        [c["category"] for c in r.by_category],
        [c["revenue"] for c in r.by_category],
        "revenue",
    )
    return StaffReport(
        title=f"Sales {r.period.label}",
        summary=f"{r.period.start:%d %b %Y} to {(r.period.end - dt.timedelta(days=1)):%d %b %Y}.",
        fields=fields,
        table=Table(["sku", "top seller", "units", "revenue"], rows, ["l", "l", "r", "r"]),
        chart_png=png,
        chart_name="sales-by-category.png",
        data=r.to_dict(),
    )


__all__ = [
    "NotFound",
    "forecast_report",
    "parse_horizon",
    "reorder_report",
    "sales_staff_report",
    "segment_report",
    "stock_report",
]
