"""Reorder advice from demand forecasts: reorder point, safety stock, order quantity, cover.

The arithmetic (pure functions, checked by hand-computed examples in the tests):

- lead-time demand ``D_L`` = sum of the daily forecast means over the lead time ``L``;
- reorder point ``ROP`` = the service-level quantile of the lead-time total, read from the
  forecast's joint sample paths (calibrated on the backtests; the artifact's ``cumulative``
  quantiles of the running total). A sum of daily bounds is not a bound of the sum, and days
  are not independent (a SARIMA's errors carry over), so this is what the service level needs;
- safety stock ``SS`` = ROP − D_L (``σ_L`` reported = SS / z);
- inventory position = on hand + on order; reorder now when position ≤ ROP (and below the
  order-up-to level, so there is something to order);
- order-up-to level ``S`` = the same quantile of the total over lead time + review period ``R``
  (default 7 days); suggested quantity = ceil(S − position) when reordering now, else 0;
- without joint quantiles (a forecast run from before they existed) the older normal
  approximation is used: ``σ_d`` = (hi95 − mean) / 1.96 per day, ``σ_L`` = sqrt(Σ σ_d²) treating
  days as independent, SS = z(service level) · σ_L, S = D_{L+R} + z · σ_{L+R};
- a lead time beyond the forecast horizon extends the running-total quantile by the mean of the
  repeated last week and widens its excess over the mean by sqrt(time);
- days of cover = on hand / mean daily forecast over the horizon (None if nothing is forecast;
  0 when nothing is on hand);
- expected stock-out date = the first forecast day on which cumulative forecast demand exceeds
  on hand (the first forecast day when nothing is on hand; None if not within the horizon).

When the lead time plus review period is longer than the forecast, the forecast's last week is
repeated (it keeps the weekday pattern).

Without stock figures (no product has anything on hand or on order, as after importing only sales)
:func:`run_reorder` refuses with NoData and says how to import them, rather than advising to
reorder every product.

If there is no stored forecast run, :func:`run_reorder` raises ModelMissing instead of
forecasting itself: forecasting every SKU takes a while and belongs to ``shopbot train``, which
runs forecasts and then reorder advice; a reorder run stays a fast read of stored forecasts.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from analytics import artifacts
from analytics.data import NO_STOCK_FIGURES, load_products, stock_figures_known
from shop.errors import ModelMissing, NoData, NotFound
from shop.store import session_scope
from shop.store.models import AnalyticsRun, Forecast, ReorderAdvice, utcnow

Z975 = 1.959963984540054  # norm.ppf(0.975): half-width of a 95% interval in standard deviations
DEFAULT_SERVICE_LEVEL = 0.95
DEFAULT_REVIEW_DAYS = 7
NO_FORECASTS = "no forecasts yet — run `shopbot train` first"


# ---- the arithmetic -----------------------------------------------------------------------------


def daily_sigma(mean, hi95) -> np.ndarray:
    """Per-day standard deviation of demand implied by the upper half of the 95% interval."""
    return np.maximum(np.asarray(hi95, dtype=float) - np.asarray(mean, dtype=float), 0.0) / Z975


def extend(values, days: int, season: int = 7) -> np.ndarray:
    """``values`` lengthened to ``days`` by repeating its last ``season`` entries."""
    values = np.asarray(values, dtype=float)
    if days <= len(values):
        return values[:days]
    tail = values[-season:] if len(values) >= season else values
    reps = math.ceil((days - len(values)) / len(tail))
    return np.concatenate([values, np.tile(tail, reps)])[:days]


def service_z(service_level: float) -> float:
    """z such that P(demand ≤ mean + z·σ) = service level (normal demand)."""
    if not 0.5 <= service_level < 1.0:
        raise ValueError("the service level must be at least 0.5 and below 1 (e.g. 0.95)")
    return float(norm.ppf(service_level))


def days_of_cover(on_hand: float, mean_daily: float) -> float | None:
    """Days the stock on hand lasts at the mean forecast rate (None when nothing is forecast)."""
    if on_hand <= 0:
        return 0.0
    if mean_daily <= 0:
        return None
    return on_hand / mean_daily


def stockout_day(on_hand: float, means) -> int | None:
    """Index of the first day whose cumulative forecast exceeds ``on_hand`` (0 when nothing is on
    hand); None when the stock lasts the whole forecast."""
    if on_hand <= 0:
        return 0
    over = np.flatnonzero(np.cumsum(np.asarray(means, dtype=float)) > on_hand)
    return int(over[0]) if len(over) else None


@dataclass
class Advice:
    """Reorder advice for one product (quantities in units, times in days)."""

    on_hand: int
    on_order: int
    lead_time_days: int
    service_level: float
    lead_time_demand: float
    sigma_lead_time: float
    safety_stock: float
    reorder_point: float
    position: int
    order_up_to: float
    reorder_now: bool
    order_quantity: int
    mean_daily: float
    days_of_cover: float | None
    stockout_date: dt.date | None
    intervals: str = "joint"  # joint: quantiles of sample-path totals; independent: normal days


def total_quantile(
    cumulative: dict[str, list[float]], means: np.ndarray, steps: int, service_level: float
) -> float | None:
    """The ``service_level`` quantile of the total demand over the first ``steps`` steps, from
    the running-total quantiles ``cumulative`` (level -> one value per step); interpolated
    between levels, extended beyond the horizon (see the module docstring); None when the
    level is outside the table."""
    if steps <= 0:
        return 0.0
    levels = sorted(float(k) for k in cumulative)
    if not levels or not levels[0] <= service_level <= levels[-1]:
        return None
    table = np.array([cumulative[f"{lv:g}"] for lv in levels], dtype=float)  # (levels, H)
    horizon = table.shape[1]
    n = min(steps, horizon)
    q = float(np.interp(service_level, levels, table[:, n - 1]))
    if steps <= horizon:
        return q
    mean_h = float(np.sum(means[:horizon]))
    extra = float(np.sum(extend(means, steps)[horizon:]))
    return mean_h + extra + (q - mean_h) * math.sqrt(steps / horizon)


def advise(
    *,
    on_hand: int,
    on_order: int,
    lead_time_days: int,
    means,
    hi95,
    first_day: dt.date,
    service_level: float = DEFAULT_SERVICE_LEVEL,
    review_days: int = DEFAULT_REVIEW_DAYS,
    cumulative: dict[str, list[float]] | None = None,
    step_days: int = 1,
) -> Advice:
    """The advice for one product from its forecast (``means``/``hi95`` per step of
    ``step_days`` from ``first_day``; ``cumulative``: the running total's quantiles by level).

    See the module docstring for each formula.
    """
    z = service_z(service_level)
    means = np.asarray(means, dtype=float)
    lead = max(0, int(lead_time_days))
    lead_steps = math.ceil(lead / step_days)
    cover_steps = lead_steps + math.ceil(max(0, int(review_days)) / step_days)
    m_cover = extend(means, cover_steps)
    ltd = float(m_cover[:lead_steps].sum())
    rop = s_level = None
    if cumulative:
        rop = total_quantile(cumulative, means, lead_steps, service_level)
        s_level = total_quantile(cumulative, means, cover_steps, service_level)
    if rop is not None and s_level is not None:
        intervals = "joint"
        rop = max(rop, ltd)
        safety = rop - ltd
        sigma_l = safety / z if z > 0 else 0.0
        order_up_to = max(s_level, float(m_cover.sum()), rop)
    else:
        intervals = "independent"
        s_cover = extend(daily_sigma(means, hi95), cover_steps)
        sigma_l = float(math.sqrt(float((s_cover[:lead_steps] ** 2).sum())))
        safety = z * sigma_l
        rop = ltd + safety
        order_up_to = float(m_cover.sum()) + z * float(math.sqrt(float((s_cover**2).sum())))
    position = int(on_hand) + int(on_order)
    # S >= ROP, so this only leaves out position == ROP == S (e.g. nothing on hand and nothing
    # forecast), where there is nothing to order.
    reorder_now = position <= rop and order_up_to > position
    quantity = max(0, math.ceil(order_up_to - position - 1e-9)) if reorder_now else 0
    mean_daily = float(means.mean()) / step_days if len(means) else 0.0
    out_idx = stockout_day(on_hand, means)
    return Advice(
        on_hand=int(on_hand),
        on_order=int(on_order),
        lead_time_days=lead,
        service_level=float(service_level),
        lead_time_demand=ltd,
        sigma_lead_time=sigma_l,
        safety_stock=safety,
        reorder_point=rop,
        position=position,
        order_up_to=order_up_to,
        reorder_now=bool(reorder_now),
        order_quantity=int(quantity),
        mean_daily=mean_daily,
        days_of_cover=days_of_cover(on_hand, mean_daily),
        stockout_date=None
        if out_idx is None
        else first_day + dt.timedelta(days=out_idx * step_days),
        intervals=intervals,
    )


def urgency_key(item) -> tuple:
    """Sort key, most urgent first: reorder-now items, earliest stock-out, then lowest cover."""
    cover = item.days_of_cover if item.days_of_cover is not None else math.inf
    return (
        not item.reorder_now,
        item.stockout_date or dt.date.max,
        cover,
        item.sku,
    )


# ---- runs on the store --------------------------------------------------------------------------


@dataclass
class ProductAdvice(Advice):
    """Advice with the product it is for and the forecast method behind it."""

    sku: str = ""
    name: str = ""
    product_id: int = 0
    method: str = ""

    @property
    def out_of_stock(self) -> bool:
        return self.on_hand <= 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["stockout_date"] = self.stockout_date.isoformat() if self.stockout_date else None
        d["out_of_stock"] = self.out_of_stock
        for k, v in d.items():
            if isinstance(v, float):
                d[k] = round(v, 3) if math.isfinite(v) else None
        return d


@dataclass
class ReorderReport:
    """A stored reorder run: advice for every forecast product, most urgent first."""

    run_id: int
    forecast_run_id: int
    version: str
    service_level: float
    review_days: int
    first_day: dt.date
    items: list[ProductAdvice]

    @property
    def to_reorder(self) -> list[ProductAdvice]:
        """What to reorder now, most urgent first."""
        return [a for a in self.items if a.reorder_now]

    def to_dict(self, all_items: bool = False) -> dict:
        return {
            "run_id": self.run_id,
            "forecast_run_id": self.forecast_run_id,
            "version": self.version,
            "service_level": self.service_level,
            "review_days": self.review_days,
            "first_day": self.first_day.isoformat(),
            "products": len(self.items),
            "reorder_now_count": len(self.to_reorder),
            "out_of_stock_count": sum(1 for a in self.items if a.out_of_stock),
            "reorder_now": [a.to_dict() for a in self.to_reorder],
            **({"all": [a.to_dict() for a in self.items]} if all_items else {}),
        }


def _latest_run(engine: Engine, kind: str):
    """``(id, params)`` of the newest analytics run of ``kind``, or None."""
    with engine.connect() as conn:
        return conn.execute(
            select(AnalyticsRun.id, AnalyticsRun.params)
            .where(AnalyticsRun.kind == kind)
            .order_by(AnalyticsRun.id.desc())
            .limit(1)
        ).first()


def latest_forecast_run(engine: Engine) -> int:
    """Id of the newest forecast run; ModelMissing if there is none."""
    run = _latest_run(engine, "forecast")
    if run is None:
        raise ModelMissing(NO_FORECASTS)
    return int(run.id)


def _forecast_rows(engine: Engine, run_id: int, product_id: int | None = None) -> pd.DataFrame:
    stmt = select(
        Forecast.product_id, Forecast.day, Forecast.method, Forecast.mean, Forecast.hi95
    ).where(Forecast.run_id == run_id)
    if product_id is not None:
        stmt = stmt.where(Forecast.product_id == product_id)
    with engine.connect() as conn:
        rows = conn.execute(stmt.order_by(Forecast.product_id, Forecast.day)).all()
    return pd.DataFrame(rows, columns=["product_id", "day", "method", "mean", "hi95"])


def _advice_for(
    products: pd.DataFrame,
    rows: pd.DataFrame,
    service_level,
    review_days,
    joint: dict[int, dict] | None = None,
    step_days: int = 1,
):
    stock = products.set_index("product_id")
    items = []
    for pid, f in rows.groupby("product_id", sort=False):
        if pid not in stock.index:
            continue
        p = stock.loc[pid]
        advice = advise(
            cumulative=(joint or {}).get(int(pid)),
            step_days=step_days,
            on_hand=int(p["on_hand"]),
            on_order=int(p["on_order"]),
            lead_time_days=int(p["lead_time_days"]),
            means=f["mean"].to_numpy(),
            hi95=f["hi95"].fillna(f["mean"]).to_numpy(),
            first_day=f["day"].iloc[0],
            service_level=service_level,
            review_days=review_days,
        )
        items.append(
            ProductAdvice(
                **asdict(advice),
                sku=str(p["sku"]),
                name=str(p["name"]),
                product_id=int(pid),
                method=str(f["method"].iloc[0]),
            )
        )
    return sorted(items, key=urgency_key)


def run_reorder(
    engine: Engine,
    *,
    service_level: float = DEFAULT_SERVICE_LEVEL,
    forecast_run_id: int | None = None,
    version: str | None = None,
    review_days: int = DEFAULT_REVIEW_DAYS,
    forecasts: dict | None = None,
) -> ReorderReport:
    """Reorder advice for every product in a forecast run (default: the latest), stored in one
    transaction as an ``AnalyticsRun(kind="reorder")`` and ``ReorderAdvice`` rows.

    Uses current stock (on hand, on order, lead time). Raises ModelMissing when there is no
    forecast run (see the module docstring for why it does not forecast by itself), and NoData
    when no product has anything on hand or on order: the stock is then unknown (e.g. only sales
    were imported) and advice would call every product out of stock.
    """
    service_z(service_level)  # validate before any work
    started = utcnow()
    # Stock first: retraining cannot fix missing stock figures, so that is the thing to say
    # (in a shop with products; an empty one needs data and training first).
    products = load_products(engine)
    if not products.empty and not stock_figures_known(products):
        raise NoData(f"no reorder advice: {NO_STOCK_FIGURES}")
    run_id = forecast_run_id if forecast_run_id is not None else latest_forecast_run(engine)
    rows = _forecast_rows(engine, run_id)
    if rows.empty:
        raise ModelMissing(f"forecast run {run_id} has no forecasts — run `shopbot train` again")
    joint, step_days = joint_quantiles(engine, run_id, forecasts)
    items = _advice_for(products, rows, service_level, review_days, joint, step_days)
    version = version or artifacts.new_version()
    first_day = rows["day"].min()
    metrics = {
        "products": len(items),
        "reorder_now": sum(a.reorder_now for a in items),
        "out_of_stock": sum(a.out_of_stock for a in items),
        "stockout_within_horizon": sum(a.stockout_date is not None for a in items),
        "units_to_order": int(sum(a.order_quantity for a in items)),
    }
    with session_scope(engine) as session:
        run = AnalyticsRun(
            kind="reorder",
            model_version=version,
            started_at=started,
            finished_at=utcnow(),
            params={
                "service_level": service_level,
                "review_days": review_days,
                "forecast_run_id": run_id,
                "intervals": (
                    "quantiles of the lead-time total from the forecasts' joint sample paths, "
                    "calibrated on backtests"
                    if joint
                    else "upper half-width of the forecast's 95% interval / 1.96, independent days"
                ),
            },
            metrics=metrics,
        )
        session.add(run)
        session.flush()
        if items:
            session.execute(
                insert(ReorderAdvice),
                [
                    {
                        "run_id": run.id,
                        "product_id": a.product_id,
                        "on_hand": a.on_hand,
                        "on_order": a.on_order,
                        "lead_time_days": a.lead_time_days,
                        "service_level": a.service_level,
                        "lead_time_demand": a.lead_time_demand,
                        "safety_stock": a.safety_stock,
                        "reorder_point": a.reorder_point,
                        "order_quantity": a.order_quantity,
                        "days_of_cover": a.days_of_cover,
                        "stockout_date": a.stockout_date,
                        "reorder_now": a.reorder_now,
                        "method": a.method,
                    }
                    for a in items
                ],
            )
        reorder_run_id = run.id
    return ReorderReport(
        run_id=reorder_run_id,
        forecast_run_id=run_id,
        version=version,
        service_level=service_level,
        review_days=review_days,
        first_day=first_day,
        items=items,
    )


# ---- one product, for the staff chat ------------------------------------------------------------


@dataclass
class StockStatus:
    """Stock of one product now, and how long it lasts by the latest forecast."""

    sku: str
    name: str
    on_hand: int
    on_order: int
    lead_time_days: int
    days_of_cover: float | None
    stockout_date: dt.date | None
    reorder_now: bool | None
    order_quantity: int | None
    reorder_point: float | None
    mean_daily: float | None
    method: str | None
    forecast_run_id: int | None
    note: str
    # False when the shop has no stock figures at all (see NO_STOCK_FIGURES): on_hand 0 then
    # means "unknown", not "out of stock".
    stock_known: bool = True

    def to_dict(self) -> dict:
        d = asdict(self)
        d["stockout_date"] = self.stockout_date.isoformat() if self.stockout_date else None
        for k in ("days_of_cover", "reorder_point", "mean_daily"):
            if d[k] is not None:
                d[k] = round(d[k], 2)
        return d


def joint_quantiles(
    engine: Engine, run_id: int, forecasts: dict | None = None
) -> tuple[dict[int, dict], int]:
    """({product id: running-total quantiles}, days per step) of forecast run ``run_id``: the
    quantiles from the forecasts artifact (``forecasts``, else the latest saved one) when it
    belongs to that run (same run id and model version), else none; the step from the run's
    parameters (7 for a weekly run)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(AnalyticsRun.model_version, AnalyticsRun.params).where(AnalyticsRun.id == run_id)
        ).first()
    version, params = (row.model_version, row.params or {}) if row else (None, {})
    step_days = 7 if params.get("freq") == "W" else 1
    if forecasts is None:
        try:
            forecasts = artifacts.load("forecasts")
        except ModelMissing:
            return {}, step_days
    if not forecasts or (forecasts.get("run_id"), forecasts.get("version")) != (run_id, version):
        return {}, step_days
    joint = {
        int(e["product_id"]): e["cumulative"]
        for e in forecasts.get("skus", {}).values()
        if e.get("cumulative")
    }
    return joint, step_days


def _latest_service_level(engine: Engine) -> float:
    run = _latest_run(engine, "reorder")
    return float(((run.params if run else None) or {}).get("service_level", DEFAULT_SERVICE_LEVEL))


def find_product(products: pd.DataFrame, sku: str) -> pd.Series:
    """The row of ``products`` (from ``load_products``) with ``sku``, case-insensitively;
    NotFound if there is none."""
    key = (sku or "").strip().upper()
    match = products[products["sku"].str.upper() == key]
    if match.empty:
        raise NotFound(f"no product with SKU {key or '(empty)'} — check the code, e.g. CLO-0042")
    return match.iloc[0]


def stock_status(engine: Engine, sku: str) -> StockStatus:
    """Current stock of ``sku`` with days of cover and stock-out date from the latest forecast.

    Stock is read now (it changes between trainings); the forecast is the latest stored run's,
    with the service level of the latest reorder run. Without a forecast for the product, or
    without stock figures in the shop (``stock_known`` False), the cover fields are None and
    ``note`` says why. Raises NotFound for an unknown SKU.
    """
    products = load_products(engine)
    p = find_product(products, sku)
    base: dict[str, Any] = dict(
        sku=str(p["sku"]),
        name=str(p["name"]),
        on_hand=int(p["on_hand"]),
        on_order=int(p["on_order"]),
        lead_time_days=int(p["lead_time_days"]),
    )
    if not stock_figures_known(products):
        # Cover and reorder figures from a stock of "unknown" would all say "out of stock now".
        unknown: dict[str, Any] = dict.fromkeys(
            ("days_of_cover", "stockout_date", "reorder_now", "order_quantity", "reorder_point",
             "mean_daily", "method"),
        )  # fmt: skip
        return StockStatus(
            **base, **unknown, forecast_run_id=None, note=NO_STOCK_FIGURES, stock_known=False
        )
    empty: dict[str, Any] = dict(
        days_of_cover=None,
        stockout_date=None,
        reorder_now=None,
        order_quantity=None,
        reorder_point=None,
        mean_daily=None,
        method=None,
    )
    try:
        run_id = latest_forecast_run(engine)
    except ModelMissing:
        return StockStatus(**base, **empty, forecast_run_id=None, note=NO_FORECASTS)
    rows = _forecast_rows(engine, run_id, int(p["product_id"]))
    if rows.empty:
        note = "no forecast for this product (no sales yet, or inactive)"
        return StockStatus(**base, **empty, forecast_run_id=run_id, note=note)
    this = products[products["product_id"] == p["product_id"]]
    joint, step_days = joint_quantiles(engine, run_id)
    items = _advice_for(
        this, rows, _latest_service_level(engine), DEFAULT_REVIEW_DAYS, joint, step_days
    )
    a = items[0]
    return StockStatus(
        **base,
        days_of_cover=a.days_of_cover,
        stockout_date=a.stockout_date,
        reorder_now=a.reorder_now,
        order_quantity=a.order_quantity,
        reorder_point=a.reorder_point,
        mean_daily=a.mean_daily,
        method=a.method,
        forecast_run_id=run_id,
        note=f"forecast from {rows['day'].min().isoformat()} (run {run_id})",
    )
