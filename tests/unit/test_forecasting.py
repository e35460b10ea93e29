"""Demand forecasting: methods on known series, backtest metrics, runs on a small shop, the CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, insert, select

from analytics.forecasting import (
    ForecastConfig,
    Intermittent,
    Sarima,
    SeasonalNaive,
    coverage,
    forecast_series,
    forecast_sku,
    last_full_day,
    lookup,
    mase,
    run_forecasts,
    smape,
    weekly,
)
from analytics.forecasting.backtest import backtest, origins_for, seasonal_naive_mae
from analytics.forecasting.methods import (
    average_demand_interval,
    choose_differencing,
    weekly_effect_pvalue,
)
from analytics.inventory import run_reorder
from bot.cli.main import main
from shop.errors import ModelMissing, NoData, NotFound
from shop.store import make_engine, session_scope, upgrade
from shop.store.models import (
    AnalyticsRun,
    Customer,
    Forecast,
    Inventory,
    Order,
    OrderItem,
    Product,
)

REPO = Path(__file__).resolve().parents[2]
WEEK = np.array([0.8, 0.9, 0.9, 1.0, 1.1, 1.5, 1.3])  # weekday profile, index = day % 7


def weekly_series(days: int, level: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Poisson demand around a fixed weekly profile: (observed, true mean per day)."""
    rng = np.random.default_rng(seed)
    truth = level * WEEK[np.arange(days) % 7]
    return rng.poisson(truth).astype(float), truth


def sparse_series(days: int, p: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random(days) < p) * rng.integers(1, 4, days).astype(float)


# ---- metrics ------------------------------------------------------------------------------------


def test_metrics_match_hand_computed_values():
    actual, forecast = [0, 2, 4, 0], [0, 1, 4, 2]
    # |F-A| = 0, 1, 0, 2 -> MAE 0.75; scale 0.5 -> MASE 1.5
    assert mase(actual, forecast, 0.5) == pytest.approx(1.5)
    assert np.isnan(mase(actual, forecast, 0.0))
    # sMAPE terms: 0/0 -> 0 (perfect), 2/3, 0, 2 -> mean 2/3 -> 66.67%
    assert smape(actual, forecast) == pytest.approx(100 * (0 + 2 / 3 + 0 + 2) / 4)
    assert smape([0, 0], [0, 0]) == 0.0
    assert coverage([1, 5, 3], [0, 0, 3], [2, 4, 3]) == pytest.approx(2 / 3)
    # seasonal-naive MAE: |y[t] - y[t-7]| for t = 7, 8
    y = np.array([1, 2, 3, 4, 5, 6, 7, 3, 2], dtype=float)
    assert seasonal_naive_mae(y) == pytest.approx((2 + 0) / 2)


def test_rolling_origins_leave_enough_training_data():
    assert origins_for(200, 3, 28, 28) == [116, 144, 172]
    assert origins_for(80, 3, 28, 28) == [52]
    assert origins_for(50, 3, 28, 28) == []


def test_seasonal_naive_repeats_last_week_with_empirical_intervals():
    y = np.tile(np.arange(1.0, 8.0), 10)  # a perfect weekly pattern: every past error is 0
    fc = SeasonalNaive().fit(y).predict(10)
    assert list(fc["mean"]) == [1, 2, 3, 4, 5, 6, 7, 1, 2, 3]
    assert (fc["lo95"] == fc["mean"]).all() and (fc["hi95"] == fc["mean"]).all()
    noisy = y + np.r_[np.zeros(63), [0, 4, 0, 0, 0, 0, 0]]  # one spike in the last week
    fc = SeasonalNaive().fit(noisy).predict(7)
    assert fc["mean"].iloc[1] == 6.0
    assert (fc["hi95"] >= fc["hi80"]).all() and (fc["lo95"] <= fc["lo80"]).all()


# ---- methods on known series ----------------------------------------------------------------------


def test_weekly_pattern_is_forecast_within_tolerance_and_beats_naive():
    y, truth = weekly_series(420, level=20.0, seed=1)
    result = forecast_series("W", y[:392], ForecastConfig())
    assert result.kind == "smooth"
    assert result.method == "sarima", result.reason
    mean = result.forecast["mean"]
    mape = np.mean(np.abs(mean - truth[392:]) / truth[392:])
    assert mape < 0.15
    # The weekly shape is there: forecast Saturdays (day % 7 == 5) above Mondays (== 0).
    days = np.arange(392, 420) % 7
    assert mean[days == 5].mean() > 1.3 * mean[days == 0].mean()
    bt = result.backtest
    assert bt["sarima"].mase < bt["seasonal_naive"].mase
    assert bt["sarima"].origins == 3 and bt["sarima"].points == 84


def test_sarima_intervals_cover_held_out_simulated_data():
    inside80 = inside95 = total = 0
    for seed in range(8):
        y, _ = weekly_series(400, level=15.0, seed=100 + seed)
        fc = Sarima().fit(y[:372]).predict(28)
        test = y[372:]
        inside80 += int(((test >= fc["lo80"]) & (test <= fc["hi80"])).sum())
        inside95 += int(((test >= fc["lo95"]) & (test <= fc["hi95"])).sum())
        total += len(test)
    assert 0.85 <= inside95 / total <= 1.0
    assert 0.65 <= inside80 / total <= 0.95


def test_differencing_is_chosen_from_the_data():
    y, _ = weekly_series(365, level=8.0, seed=3)
    assert weekly_effect_pvalue(y) < 0.01  # a weekly pattern, even if small next to the noise
    assert choose_differencing(y)[1] == 1
    flat = np.random.default_rng(4).poisson(5.0, 365).astype(float)
    assert weekly_effect_pvalue(flat) > 0.05
    assert choose_differencing(flat) == (0, 0)
    trend = flat + np.linspace(0, 40, 365)
    assert choose_differencing(trend)[0] == 1
    assert choose_differencing(y, seasonal_diff=0)[1] == 0


def test_intermittent_series_selects_the_intermittent_method():
    y = sparse_series(400, p=0.12, seed=7)
    result = forecast_series("S", y, ForecastConfig())
    assert result.kind == "intermittent"
    assert result.method in ("tsb", "adida"), result.reason
    assert {"tsb", "adida"} <= set(result.backtest) and "sarima" not in result.backtest
    # The better of the two by RMSSE (the measure for intermittent demand) was chosen.
    rmsse = {m: result.backtest[m].rmsse for m in ("tsb", "adida", "seasonal_naive")}
    assert rmsse[result.method] == min(rmsse.values()), rmsse
    for col, values in result.forecast.items():
        assert (values >= 0).all(), col
    # A flat rate near the true mean demand per day (0.12 × 2 units).
    assert 0.1 < result.forecast["mean"][0] < 0.45


def test_a_weekday_without_sales_is_a_closed_day_not_intermittent_demand():
    # Like Online Retail: closed on Saturdays, and a sale on ~80% of the days it trades.
    rng = np.random.default_rng(5)
    days = 364
    weekday = np.arange(days) % 7
    y = rng.poisson(6.0, days) * (rng.random(days) < 0.8).astype(float)
    y[weekday == 5] = 0.0
    sold = np.count_nonzero(y)
    assert days / sold > 1.32  # counting the closed day would call it intermittent
    assert average_demand_interval(y) == pytest.approx(312 / sold)
    assert average_demand_interval(y) < 1.32
    result = forecast_series("C", y, ForecastConfig())
    assert result.kind == "smooth" and result.method in ("sarima", "seasonal_naive")
    # The forecast keeps the closed day (the series ends on index 363, so day 0 is index 364).
    closed = [h for h in range(28) if (days + h) % 7 == 5]
    assert result.forecast["mean"][closed].max() < 0.5
    assert result.forecast["mean"].mean() > 3.0
    # A sparse product is still intermittent though some weekday happens to have no sale, and
    # a short history proves nothing about closed days.
    sparse = sparse_series(364, p=0.12, seed=7)
    assert average_demand_interval(sparse) > 4.0
    short = np.tile([3.0, 2, 0, 4, 5, 0, 0], 7)  # seven weeks, two weekdays empty
    assert average_demand_interval(short) == pytest.approx(49 / 28)


def test_intermittent_methods_and_their_intervals():
    y = np.array([0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 0, 3] * 10, dtype=float)
    tsb = Intermittent("tsb").fit(y)
    fc = tsb.predict(5)
    assert fc["mean"].nunique() == 1 and fc["mean"].iloc[0] == pytest.approx(0.75, rel=0.3)
    # P(sale) ≈ 0.25: the 80% interval's bounds are 0 (q=0.10) and a sale (q=0.90).
    assert fc["lo80"].iloc[0] == 0 and fc["hi80"].iloc[0] > 0
    sba = Intermittent("sba").fit(y).predict(3)
    # SBA: size 3 every 4 days, bias-corrected by (1 - beta/2) = 0.95.
    assert sba["mean"].iloc[0] == pytest.approx(0.95 * 3 / 4, rel=0.05)
    # A product that stopped selling fades under TSB.
    dying = np.r_[np.ones(100), np.zeros(60)]
    assert Intermittent("tsb").fit(dying).predict(1)["mean"].iloc[0] < 0.01


def test_forecasts_are_never_negative():
    rng = np.random.default_rng(11)
    y = rng.poisson(0.9 * WEEK[np.arange(300) % 7]).astype(float)
    y[-30:] = 0  # a sharp drop pulls a linear model below zero
    for model in (Sarima(), SeasonalNaive(), Intermittent()):
        fc = model.fit(y).predict(28)
        assert (fc.to_numpy() >= 0).all(), model.name
    result = forecast_series("Z", y, ForecastConfig(compare_all=True))
    assert set(result.backtest) == {"seasonal_naive", "tsb", "adida", "sarima"}
    assert all((v >= 0).all() for v in result.forecast.values())


def test_backtest_reuses_the_selected_orders():
    y, _ = weekly_series(300, level=10.0, seed=5)
    model = Sarima().fit(y)
    fitted = []

    def factory():
        m = model.fixed()
        fitted.append(m)
        return m

    metrics = backtest(y, factory)
    assert metrics.origins == 3 and len(fitted) == 3
    assert all(
        m.order_ == model.order_ and m.seasonal_order_ == model.seasonal_order_ for m in fitted
    )


def test_short_history_is_forecast_without_backtest():
    y = np.array([2, 3, 1, 4, 2, 5, 3, 2, 3, 1], dtype=float)
    result = forecast_series("N", y, ForecastConfig())
    assert result.backtest["seasonal_naive"] is None
    assert len(result.forecast["mean"]) == 28
    assert "too short" in result.reason


def test_series_helpers():
    placed = pd.Series(pd.to_datetime(["2026-01-01 09:00", "2026-01-01 18:00", "2026-01-02 10:00"]))
    # The data ends at 12:00: only a third of orders usually come before noon -> partial day.
    assert last_full_day(dt.datetime(2026, 1, 3, 12, 0), placed) == dt.date(2026, 1, 2)
    assert last_full_day(dt.datetime(2026, 1, 3, 23, 0), placed) == dt.date(2026, 1, 3)
    daily = pd.Series(1.0, index=pd.date_range("2026-01-01", "2026-01-31"))
    w = weekly(daily)
    assert list(w.index.date) == [dt.date(2026, 1, 5), dt.date(2026, 1, 12), dt.date(2026, 1, 19)]
    assert (w == 7).all()


# ---- a small shop in the database -----------------------------------------------------------------

END = dt.date(2026, 11, 20)


def fill_shop(engine, days: int = 250) -> dict[str, int]:
    """A shop with a steady weekly seller, a sparse seller, a product that never sold, an
    inactive product and an out-of-stock seller; orders at noon, one line per order."""
    smooth, _ = weekly_series(days, level=12.0, seed=21)
    sparse = sparse_series(days, p=0.15, seed=22)
    hot, _ = weekly_series(days, level=6.0, seed=23)
    products = [
        ("CLO-0001", "Steady shirt", smooth, True, 300, 0, 10),
        ("HOM-0002", "Rare lamp", sparse, True, 40, 0, 14),
        ("BEA-0003", "Unsold cream", None, True, 5, 0, 7),
        ("FOO-0004", "Retired tea", smooth, False, 0, 0, 7),
        ("EL-0005", "Sold-out cable", hot, True, 0, 0, 5),
    ]
    start = dt.datetime.combine(END - dt.timedelta(days=days - 1), dt.time(12))
    with session_scope(engine) as s:
        customer = Customer(email="shop@example.com", name="Test Buyer")
        s.add(customer)
        ids = {}
        for sku, name, _, active, on_hand, on_order, lead in products:
            p = Product(sku=sku, name=name, category="home", price=Decimal("10.00"), active=active)
            s.add(p)
            s.flush()
            ids[sku] = p.id
            s.add(
                Inventory(product_id=p.id, on_hand=on_hand, on_order=on_order, lead_time_days=lead)
            )
        s.flush()
        orders, items = [], []
        for sku, _, series, *_ in products:
            if series is None:
                continue
            for day, qty in enumerate(series):
                if qty <= 0:
                    continue
                oid = len(orders) + 1
                orders.append(
                    {
                        "id": oid,
                        "order_number": 100000 + oid,
                        "customer_id": customer.id,
                        "status": "delivered",
                        "placed_at": start + dt.timedelta(days=day),
                        "total": Decimal("10.00") * int(qty),
                    }
                )
                items.append(
                    {"order_id": oid, "product_id": ids[sku], "quantity": int(qty),
                     "unit_price": Decimal("10.00")}
                )  # fmt: skip
        # A cancelled order must not count as demand.
        orders.append({"id": len(orders) + 1, "order_number": 199999, "customer_id": customer.id,
                       "status": "cancelled", "placed_at": start, "total": Decimal("9990")})  # fmt: skip
        items.append({"order_id": len(orders), "product_id": ids["BEA-0003"], "quantity": 999,
                      "unit_price": Decimal("10.00")})  # fmt: skip
        s.execute(insert(Order), orders)
        s.execute(insert(OrderItem), items)
    return ids


def test_unknown_sku_and_product_without_sales(engine):
    fill_shop(engine, days=120)
    with pytest.raises(
        NotFound, match="no product with SKU NOPE-1 — check the code, e.g. CLO-0042"
    ):
        forecast_sku(engine, "nope-1")
    with pytest.raises(NoData, match="SKU BEA-0003 has no sales yet, so there is nothing to"):
        forecast_sku(engine, "BEA-0003")  # only a cancelled order


def test_empty_store_has_nothing_to_forecast(engine):
    with pytest.raises(NoData, match="no orders"):
        run_forecasts(engine, n_jobs=1)
    with pytest.raises(ModelMissing, match="no forecasts yet — run `shopbot train` first"):
        run_reorder(engine)


def test_forecast_run_on_postgresql(pg_engine):
    fill_shop(pg_engine, days=120)
    report = run_forecasts(pg_engine, horizon=7, n_jobs=1)
    with session_scope(pg_engine) as s:
        run = s.get(AnalyticsRun, report.run_id)
        assert run.metrics["skus"] == 3 and run.params["horizon"] == 7
        assert s.execute(select(func.count()).select_from(Forecast)).scalar() == 3 * 7
    advice = run_reorder(pg_engine)
    assert advice.items[0].sku == "EL-0005" and advice.items[0].out_of_stock


def test_forecast_sku_on_the_store(engine):
    fill_shop(engine)
    fc = forecast_sku(engine, "clo-0001", horizon=14)
    assert fc.sku == "CLO-0001" and fc.method == "sarima" and fc.kind == "smooth"
    assert list(fc.forecast.columns) == ["mean", "lo80", "hi80", "lo95", "hi95"]
    assert fc.forecast.index[0].date() == END + dt.timedelta(days=1)
    assert len(fc.forecast) == 14
    assert fc.history.index[-1].date() == END and len(fc.history) == 250
    assert fc.history.sum() == pytest.approx(weekly_series(250, 12.0, 21)[0].sum())
    d = fc.to_dict()
    json.dumps(d)  # JSON-ready
    assert d["forecast"][0]["day"] == (END + dt.timedelta(days=1)).isoformat()
    assert len(d["history"]["units"]) == 56
    assert set(d["backtest"]) == {"sarima", "seasonal_naive"}


def test_run_forecasts_stores_one_run_and_the_artifact(engine):
    ids = fill_shop(engine)
    calls = []
    report = run_forecasts(
        engine, horizon=21, n_jobs=2, version="v-test", progress=lambda d, t: calls.append((d, t))
    )
    # Active products with sales only: not the unsold one, not the inactive one.
    assert set(report.results) == {"CLO-0001", "HOM-0002", "EL-0005"}
    assert report.results["CLO-0001"].method == "sarima"
    assert report.results["HOM-0002"].kind == "intermittent"
    assert report.results["HOM-0002"].method in ("tsb", "adida", "seasonal_naive")
    assert calls[0] == (0, 3) and calls[-1] == (3, 3)
    with session_scope(engine) as s:
        run = s.get(AnalyticsRun, report.run_id)
        assert (run.kind, run.model_version) == ("forecast", "v-test")
        assert run.metrics["skus"] == 3 and sum(run.metrics["methods"].values()) == 3
        assert run.params["horizon"] == 21 and run.finished_at is not None
        n = s.execute(select(func.count()).select_from(Forecast)).scalar()
        assert n == 3 * 21
        rows = (
            s.execute(
                select(Forecast)
                .where(Forecast.product_id == ids["CLO-0001"])
                .order_by(Forecast.day)
            )
            .scalars()
            .all()
        )
        assert rows[0].day == END + dt.timedelta(days=1) and rows[0].method == "sarima"
        assert all(r.lo95 <= r.lo80 <= r.mean <= r.hi80 <= r.hi95 for r in rows)
    # Same numbers as the on-demand forecast (the worker processes change nothing).
    single = forecast_sku(engine, "CLO-0001", horizon=21)
    np.testing.assert_allclose(single.forecast["mean"], [r.mean for r in rows], rtol=1e-9)

    art = report.artifact
    entry = lookup(art, "clo-0001")
    assert entry["days"][0] == (END + dt.timedelta(days=1)).isoformat() and len(entry["days"]) == 21
    assert entry["method"] == "sarima" and len(entry["mean"]) == 21
    assert len(entry["history"]["units"]) == 56 and set(entry["backtest"]) >= {"sarima"}
    assert art["run_id"] == report.run_id and art["metrics"]["skus"] == 3
    json.dumps(art)
    with pytest.raises(NotFound):
        lookup(art, "BEA-0003")
    summary = report.to_dict()
    assert summary["n_skus"] == 3 and summary["run_id"] == report.run_id

    advice = run_reorder(engine, version="v-test")
    assert advice.forecast_run_id == report.run_id
    first = advice.items[0]
    assert first.sku == "EL-0005" and first.out_of_stock and first.reorder_now
    assert first.stockout_date == END + dt.timedelta(days=1) and first.days_of_cover == 0
    steady = next(a for a in advice.items if a.sku == "CLO-0001")
    assert not steady.reorder_now and steady.days_of_cover > 14


# ---- the command line -----------------------------------------------------------------------------


def shopbot(db_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": db_url, "RASA_TELEMETRY_ENABLED": "false"}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli.main", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_forecast_reorder_and_errors(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    eng = make_engine(url)
    upgrade(eng)
    fill_shop(eng, days=200)

    out = shopbot(url, "reorder", "--json")
    assert out.returncode == 2
    assert json.loads(out.stdout)["kind"] == "ModelMissing"
    assert "no forecasts yet" in out.stderr

    out = shopbot(url, "forecast", "hom-0002", "--horizon", "10", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["sku"] == "HOM-0002" and data["kind"] == "intermittent"
    assert len(data["forecast"]) == 10 and data["method"] in data["backtest"]
    assert all(row["lo95"] >= 0 and row["mean"] >= 0 for row in data["forecast"])

    # The rest in-process (same entry point, without paying for a new interpreter each time).
    monkeypatch.setenv("DATABASE_URL", url)
    for args, kind, text in (
        (["forecast", "XYZ-999"], "NotFound", "no product with SKU XYZ-999"),
        (["forecast", "BEA-0003"], "NoData", "has no sales yet"),
    ):
        assert main([*args, "--json"]) == 2
        captured = capsys.readouterr()
        assert json.loads(captured.out)["kind"] == kind and text in captured.err
    with pytest.raises(SystemExit) as exc:
        main(["forecast", "CLO-0001", "--horizon", "0"])
    assert exc.value.code == 2 and "--horizon must be between 1 and 366" in capsys.readouterr().err
    assert main(["forecast", "CLO-0001", "--weekly", "--horizon", "14"]) == 0
    text = capsys.readouterr().out
    assert "method: sarima" in text and "95% interval" in text and "* sarima" in text
    assert "intervals of each week's total from the joint forecast paths" in text

    run_forecasts(eng, n_jobs=1)
    out = shopbot(url, "reorder", "--service-level", "0.9", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["service_level"] == 0.9 and data["products"] == 3
    assert data["reorder_now"][0]["sku"] == "EL-0005" and data["reorder_now"][0]["out_of_stock"]
    assert data["out_of_stock_count"] == 1
    # The replay of the reorder policy: both policies on the same 3 series and 4 weeks.
    out = shopbot(url, "evaluate", "inventory", "--weeks", "4", "--jobs", "1", "--json")
    assert out.returncode == 0, out.stderr
    inv = json.loads(out.stdout)
    assert inv["series"] == 3 and inv["replay"]["steps"] == 28  # BEA-0003 never sold
    for policy in ("shopbot", "seasonal_naive"):
        assert 0 < inv["overall"][policy]["fill_rate"] <= 1
        assert inv["overall"][policy]["avg_on_hand"] > 0
    assert main(["reorder"]) == 0
    assert "! EL-0005" in capsys.readouterr().out

    out = shopbot(
        url, "evaluate", "forecast", "--json", "--jobs", "1", "--origins", "2", "--candidates-only"
    )
    assert out.returncode == 0, out.stderr
    ev = json.loads(out.stdout)
    assert ev["skus"] == 3 and ev["config"]["origins"] == 2
    assert {s["sku"] for s in ev["per_sku"]} == {"CLO-0001", "HOM-0002", "EL-0005"}
    assert set(ev["candidates"]) == {"sarima", "seasonal_naive", "tsb", "adida"}
    assert ev["per_sku"][0]["backtest"]["seasonal_naive"]["origins"] == 2
    assert 0 <= ev["chosen"]["coverage95"] <= 1
    # Two origins: the newest is the only one with an older origin to calibrate on.
    assert ev["intervals"]["rolling"]["test_origins"] == 1
    assert main(["evaluate", "forecast", "--jobs", "1", "--origins", "3", "--candidates-only"]) == 0
    text = capsys.readouterr().out
    assert "interval coverage on the newest origin" in text
    assert "on each of the 2 newest origins, calibrated on the origins before it" in text
    eng.dispose()


def test_a_weekly_shop_is_forecast_and_reordered_per_week(engine):
    """Weekly totals, each dated on its Monday: detected as weekly, forecast in weeks, and the
    reorder point counts a 14-day lead time as two weekly steps."""
    from analytics.forecasting.demand import frequency_of
    from analytics.forecasting.selection import weekly_config

    rng = np.random.default_rng(5)
    first_monday = dt.datetime(2024, 1, 1, 12)  # a Monday
    with session_scope(engine) as s:
        customer = Customer(email="weekly@example.com", name="Weekly Buyer")
        p = Product(sku="FOO-0001", name="Weekly tea", category="food", price=Decimal("4.00"))
        s.add_all([customer, p])
        s.flush()
        s.add(Inventory(product_id=p.id, on_hand=40, on_order=0, lead_time_days=14))
        orders, items = [], []
        for w, qty in enumerate(rng.poisson(50, 120)):
            orders.append({"id": w + 1, "order_number": 300000 + w, "customer_id": customer.id,
                           "status": "delivered", "total": Decimal("4.00") * int(qty),
                           "placed_at": first_monday + dt.timedelta(weeks=w)})  # fmt: skip
            items.append({"order_id": w + 1, "product_id": p.id, "quantity": int(qty),
                          "unit_price": Decimal("4.00")})  # fmt: skip
        s.execute(insert(Order), orders)
        s.execute(insert(OrderItem), items)
    assert frequency_of(engine) == "W"
    config = weekly_config()
    report = run_forecasts(engine, n_jobs=1, config=config, horizon=config.horizon)
    assert report.first_day.weekday() == 0 and report.step_days == 7
    entry = report.artifact["skus"]["FOO-0001"]
    assert len(entry["mean"]) == len(entry["weeks"]) == config.horizon
    assert 40 < entry["mean"][0] < 60 and entry["weeks"][0]["lo95"] < 50 < entry["weeks"][0]["hi95"]
    advice = run_reorder(engine, forecasts=report.artifact).items[0]
    assert advice.intervals == "joint"
    assert advice.lead_time_demand == pytest.approx(sum(entry["mean"][:2]), abs=0.01)
    assert advice.reorder_point >= advice.lead_time_demand
    assert 5 < advice.mean_daily < 9  # ~50 a week


def test_per_sku_work_goes_to_a_local_dask_cluster_unless_told_otherwise(monkeypatch):
    from analytics.forecasting import cluster

    monkeypatch.delenv("SHOPBOT_DASK_SCHEDULER", raising=False)
    assert cluster.dask_address() == "local"
    assert cluster.executor(1) == (None, 1)  # one job: in this process, no cluster to start
    monkeypatch.setenv("SHOPBOT_DASK_SCHEDULER", " tcp://10.0.0.9:8786 ")
    assert cluster.dask_address() == "tcp://10.0.0.9:8786"
    monkeypatch.setenv("SHOPBOT_DASK_SCHEDULER", "OFF")
    assert cluster.dask_address() is None
    pool, workers = cluster.executor(2)
    assert workers == 2 and type(pool).__name__ == "_ReusablePoolExecutor"
