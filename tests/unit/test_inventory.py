"""Reorder advice: the formulas on hand-computed examples, and runs on stored forecasts."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import numpy as np
import pytest
from sqlalchemy import insert, select

from analytics.inventory import (
    Z975,
    advise,
    daily_sigma,
    days_of_cover,
    extend,
    run_reorder,
    service_z,
    stock_status,
    stockout_day,
)
from shop.errors import ModelMissing, NotFound
from shop.store import session_scope
from shop.store.models import AnalyticsRun, Forecast, Inventory, Product, ReorderAdvice

Z95 = 1.6448536269514722  # norm.ppf(0.95)
DAY1 = dt.date(2026, 12, 1)


def test_service_level_z_and_daily_sigma():
    assert service_z(0.95) == pytest.approx(Z95)
    assert service_z(0.5) == 0.0
    for bad in (0.3, 1.0, 1.2):
        with pytest.raises(ValueError, match="service level"):
            service_z(bad)
    # sigma = (hi95 - mean) / 1.96; never negative
    np.testing.assert_allclose(
        daily_sigma([2.0, 1.0, 3.0], [2 + Z975, 1 + 2 * Z975, 2.0]), [1, 2, 0]
    )


def test_hand_computed_reorder_example():
    # 14 days of 2 units/day, each day with sigma 1 (hi95 = mean + 1.96).
    means = np.full(14, 2.0)
    a = advise(
        on_hand=5,
        on_order=4,
        lead_time_days=4,
        means=means,
        hi95=means + Z975,
        first_day=DAY1,
        service_level=0.95,
        review_days=3,
    )
    assert a.lead_time_demand == pytest.approx(8.0)  # 4 days × 2
    assert a.sigma_lead_time == pytest.approx(2.0)  # sqrt(4 × 1²)
    assert a.safety_stock == pytest.approx(Z95 * 2.0)  # 3.2897
    assert a.reorder_point == pytest.approx(8.0 + Z95 * 2.0)  # 11.2897
    assert a.position == 9 and a.reorder_now  # 5 + 4 <= 11.29
    # order up to 7 days (lead 4 + review 3): 14 + z·sqrt(7) = 18.352; 18.352 - 9 -> 10
    assert a.order_up_to == pytest.approx(14.0 + Z95 * math.sqrt(7))
    assert a.order_quantity == 10
    assert a.days_of_cover == pytest.approx(2.5)  # 5 / 2
    assert a.stockout_date == DAY1 + dt.timedelta(days=2)  # cumulative 2, 4, 6 > 5 on day 3


def test_uneven_forecast_and_no_reorder():
    means = np.array([1.0, 3.0, 0.0, 2.0, 4.0, 1.0, 1.0])
    hi95 = means + Z975 * np.array([0.5, 1.0, 0.0, 1.0, 2.0, 0.5, 0.5])
    a = advise(
        on_hand=20, on_order=0, lead_time_days=3, means=means, hi95=hi95, first_day=DAY1,
        service_level=0.9, review_days=2,
    )  # fmt: skip
    z90 = 1.2815515655446004
    assert a.lead_time_demand == pytest.approx(4.0)  # 1 + 3 + 0
    assert a.sigma_lead_time == pytest.approx(math.sqrt(0.25 + 1.0 + 0.0))
    assert a.reorder_point == pytest.approx(4.0 + z90 * math.sqrt(1.25))
    assert not a.reorder_now and a.order_quantity == 0  # position 20 > 5.43
    assert a.days_of_cover == pytest.approx(20 / (12 / 7))  # mean daily 12/7
    assert a.stockout_date is None  # 12 units over the week < 20


def test_lead_time_longer_than_the_forecast_repeats_the_last_week():
    means = np.arange(1.0, 8.0)  # one week: 1..7
    np.testing.assert_allclose(extend(means, 10), [1, 2, 3, 4, 5, 6, 7, 1, 2, 3])
    a = advise(
        on_hand=0, on_order=0, lead_time_days=10, means=means, hi95=means, first_day=DAY1,
        review_days=0,
    )  # fmt: skip
    assert a.lead_time_demand == pytest.approx(34.0)  # 28 + 1 + 2 + 3
    assert a.safety_stock == 0.0 and a.reorder_point == pytest.approx(34.0)
    assert a.reorder_now and a.order_quantity == 34


def test_out_of_stock_and_nothing_forecast():
    assert days_of_cover(0, 3.0) == 0.0
    assert days_of_cover(10, 0.0) is None
    assert stockout_day(0, [0.0, 1.0]) == 0
    assert stockout_day(3, [1.0, 1.0, 1.0, 1.0]) == 3  # cumulative 4 > 3 on the 4th day
    assert stockout_day(3, [1.0, 1.0]) is None
    zero = advise(on_hand=0, on_order=0, lead_time_days=7, means=np.zeros(7), hi95=np.zeros(7),
                  first_day=DAY1)  # fmt: skip
    assert not zero.reorder_now and zero.order_quantity == 0  # nothing to sell, nothing to order
    assert zero.days_of_cover == 0.0 and zero.stockout_date == DAY1


# ---- on the store -------------------------------------------------------------------------------


def store_forecasts(engine, products) -> int:
    """Products with stock and a stored forecast run; returns the run id."""
    with session_scope(engine) as s:
        run = AnalyticsRun(kind="forecast", model_version="v1", params={}, metrics={})
        s.add(run)
        s.flush()
        rows = []
        for sku, on_hand, on_order, lead, mean, sigma in products:
            p = Product(sku=sku, name=f"Product {sku}", category="home", price=Decimal("5"))
            s.add(p)
            s.flush()
            s.add(Inventory(product_id=p.id, on_hand=on_hand, on_order=on_order,
                            lead_time_days=lead))  # fmt: skip
            for i in range(14):
                rows.append(
                    {"run_id": run.id, "product_id": p.id, "day": DAY1 + dt.timedelta(days=i),
                     "method": "sarima", "mean": mean, "lo80": 0.0, "hi80": mean,
                     "lo95": 0.0, "hi95": mean + Z975 * sigma}
                )  # fmt: skip
        s.execute(insert(Forecast), rows)
        return run.id


def test_run_reorder_stores_advice_most_urgent_first(any_engine):
    engine = any_engine
    run_id = store_forecasts(
        engine,
        [
            ("HOM-0001", 100, 0, 7, 2.0, 1.0),  # 50 days of cover: fine
            ("HOM-0002", 5, 4, 4, 2.0, 1.0),  # the hand-computed example (review 7 here)
            ("HOM-0003", 0, 0, 5, 1.0, 0.5),  # out of stock
            ("HOM-0004", 12, 0, 10, 3.0, 1.0),  # runs out on day 5
        ],
    )
    report = run_reorder(engine, service_level=0.95, version="v1")
    assert report.forecast_run_id == run_id and report.first_day == DAY1
    order = [a.sku for a in report.items]
    assert order == ["HOM-0003", "HOM-0002", "HOM-0004", "HOM-0001"]
    assert [a.sku for a in report.to_reorder] == ["HOM-0003", "HOM-0002", "HOM-0004"]
    out = report.items[0]
    assert out.out_of_stock and out.stockout_date == DAY1 and out.days_of_cover == 0.0
    ex = report.items[1]
    assert ex.reorder_point == pytest.approx(8.0 + Z95 * 2.0)
    # review 7: order up to 11 days: 22 + z·sqrt(11) = 27.455; minus position 9 -> 19
    assert ex.order_quantity == math.ceil(22 + Z95 * math.sqrt(11) - 9) == 19
    d = report.to_dict()
    assert d["reorder_now_count"] == 3 and d["out_of_stock_count"] == 1
    assert d["reorder_now"][0]["sku"] == "HOM-0003"
    with session_scope(engine) as s:
        run = s.get(AnalyticsRun, report.run_id)
        assert run.kind == "reorder" and run.params["forecast_run_id"] == run_id
        assert run.metrics["reorder_now"] == 3
        stored = s.execute(select(ReorderAdvice)).scalars().all()
        assert len(stored) == 4
        by_qty = {r.order_quantity for r in stored if r.reorder_now}
        assert 19 in by_qty
        assert all(r.service_level == 0.95 and r.method == "sarima" for r in stored)


def test_stock_status_uses_current_stock_and_latest_forecast(engine):
    with pytest.raises(NotFound, match="no product with SKU HOM-9999"):
        stock_status(engine, "hom-9999")
    with pytest.raises(ModelMissing, match="no forecasts yet — run `shopbot train` first"):
        run_reorder(engine)
    store_forecasts(engine, [("HOM-0001", 12, 3, 10, 3.0, 1.0)])
    st = stock_status(engine, "hom-0001")
    assert (st.on_hand, st.on_order) == (12, 3)
    assert st.days_of_cover == pytest.approx(4.0)
    assert st.stockout_date == DAY1 + dt.timedelta(days=4)  # 3, 6, 9, 12, 15 > 12
    assert st.reorder_now and st.method == "sarima"
    with session_scope(engine) as s:  # stock arrives: the answer follows without retraining
        inv = s.execute(select(Inventory)).scalar_one()
        inv.on_hand = 60
    st = stock_status(engine, "HOM-0001")
    assert st.days_of_cover == pytest.approx(20.0) and st.stockout_date is None
    assert not st.reorder_now
    assert st.to_dict()["days_of_cover"] == 20.0
