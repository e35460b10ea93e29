"""Customer segmentation: features, the estimator, stored runs, evaluation and the CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score
from sqlalchemy import func, insert, select

from analytics.segmentation import (
    FEATURE_COLUMNS,
    Segmenter,
    customer_segment,
    evaluate_segments,
    format_rate,
    latest_segments,
    rfm_features,
    run_segmentation,
)
from shop.demo import PLANTED_FAVOURITES, PLANTED_GROUPS
from shop.errors import NoData
from shop.store.models import (
    CATEGORIES,
    AnalyticsRun,
    Customer,
    CustomerSegment,
    Order,
    OrderItem,
    Product,
    SegmentProfile,
)
from shop.text import rough_money

END = pd.Timestamp("2026-06-30 18:00")
# The demo shop's reference groups: favourite category, orders a month, spend a month.
GROUPS = PLANTED_GROUPS
SHOPBOT = Path(sys.executable).with_name("shopbot")


def planted_shop(
    per_group: int = 24,
    days: int = 180,
    seed: int = 7,
    extra: dict[str, int] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(purchases, customers) with five planted groups and known favourites.

    Each customer buys at their group's rate and spend (with ±20 % personal noise), 80 % of
    orders from the group's favourite category. ``extra`` adds "lapsed" customers (group B's habits,
    but nothing in the last 150+ days) and "new" ones (first order in the last 20 days, any
    category).
    """
    rng = np.random.default_rng(seed)
    names = [g for g in GROUPS for _ in range(per_group)]
    for name, count in (extra or {}).items():
        names += [name] * count
    rows = []
    order_id = 0
    for cid, group in enumerate(names, start=1):
        fav, rate, spend = GROUPS[group] if group in GROUPS else GROUPS["B"]
        rate *= rng.lognormal(0, 0.2)
        spend *= rng.lognormal(0, 0.2)
        start, end = 0.0, float(days)
        if group == "lapsed":
            end = days - rng.uniform(150, 170)
        elif group == "new":
            start = days - rng.uniform(5, 20)
        n_orders = max(1, rng.poisson(rate * (end - start) / (365.25 / 12)))
        times = np.sort(rng.uniform(start, end, n_orders))
        for t in times:
            order_id += 1
            loyal = group != "new" and rng.random() < 0.8
            cat = fav if loyal else CATEGORIES[rng.integers(len(CATEGORIES))]
            amount = round(spend / rate * rng.lognormal(0, 0.3), 2)
            rows.append((order_id, cid, cat, amount, END - pd.Timedelta(days=days - t)))
    purchases = pd.DataFrame(
        rows, columns=["order_id", "customer_id", "category", "amount", "placed_at"]
    )
    customers = pd.DataFrame(
        {"customer_id": np.arange(1, len(names) + 1), "demo_group": np.array(names, dtype=object)}
    )
    return purchases.sort_values("placed_at", ignore_index=True), customers


def store_shop(engine, purchases: pd.DataFrame, customers: pd.DataFrame, extra_customers: int = 0):
    """Writes the frames into the store: one product per category, one line per order."""
    start = dt.datetime(2025, 1, 1)
    with engine.begin() as conn:
        conn.execute(
            insert(Customer),
            [
                {
                    "id": int(c),
                    "email": f"c{c}@example.com",
                    "name": f"Customer {c}",
                    "created_at": start,
                    "demo_group": g,
                }
                for c, g in zip(customers["customer_id"], customers["demo_group"], strict=True)
            ]
            + [
                {
                    "id": 10_000 + i,
                    "email": f"idle{i}@example.com",
                    "name": None,
                    "created_at": start,
                    "demo_group": None,
                }
                for i in range(extra_customers)
            ],
        )
        conn.execute(
            insert(Product),
            [
                {"id": i + 1, "sku": f"{c[:3].upper()}-{i + 1:04d}", "name": c, "category": c,
                 "price": 10}
                for i, c in enumerate(CATEGORIES)
            ],
        )  # fmt: skip
        product_of = {c: i + 1 for i, c in enumerate(CATEGORIES)}
        conn.execute(
            insert(Order),
            [
                {
                    "id": int(o),
                    "order_number": 100_000 + int(o),
                    "customer_id": int(c),
                    "status": "delivered",
                    "placed_at": t.floor("s").to_pydatetime(),
                    "total": float(a),
                    "source": "demo",
                }
                for o, c, a, t in zip(
                    purchases["order_id"], purchases["customer_id"], purchases["amount"],
                    purchases["placed_at"], strict=True,
                )
            ],
        )  # fmt: skip
        conn.execute(
            insert(OrderItem),
            [
                {"order_id": int(o), "product_id": product_of[cat], "quantity": 1,
                 "unit_price": float(a)}
                for o, cat, a in zip(
                    purchases["order_id"], purchases["category"], purchases["amount"], strict=True
                )
            ],
        )  # fmt: skip


@pytest.fixture(scope="module")
def shop():
    return planted_shop(per_group=40)


@pytest.fixture(scope="module")
def fitted(shop):
    purchases, customers = shop
    features = rfm_features(purchases, customers, purchases["placed_at"].max())
    return features, Segmenter(random_state=0).fit(features)


def _groups(customers: pd.DataFrame, features: pd.DataFrame) -> pd.Series:
    return customers.set_index("customer_id")["demo_group"].reindex(features.index)


# ---- features ----------------------------------------------------------------------------------


def test_rfm_features_match_hand_computed_values():
    t = pd.Timestamp
    purchases = pd.DataFrame(
        [
            # order, customer, category, amount, time
            (1, 1, "clothing", 100.0, t("2026-01-01 12:00")),
            (1, 1, "electronics", 300.0, t("2026-01-01 12:00")),  # same order: one purchase
            (2, 1, "clothing", 100.0, t("2026-03-02 12:00")),
            (3, 2, "food", 20.0, t("2026-03-31 12:00")),
            (3, 2, "toys", 5.0, t("2026-03-31 12:00")),  # unknown category -> other
            (5, 2, "food", 999.0, t("2026-05-01 12:00")),  # after as_of: ignored
        ],
        columns=["order_id", "customer_id", "category", "amount", "placed_at"],
    )
    customers = pd.DataFrame({"customer_id": [1, 2, 3]})
    f = rfm_features(purchases, customers, as_of=dt.datetime(2026, 4, 1, 12, 0))

    assert list(f.index) == [1, 2]
    assert f.attrs["customers_without_purchases"] == 1  # customer 3 never bought
    month = 365.25 / 12
    c1, c2 = f.loc[1], f.loc[2]
    # Customer 1: last order 2 March -> 30 days; active 1 Jan -> 1 Apr = 90 days; 2 orders, 500.
    assert c1["recency_days"] == pytest.approx(30.0)
    assert c1["tenure_days"] == pytest.approx(90.0)
    assert c1["frequency"] == pytest.approx(2 / (90 / month))
    assert c1["monetary"] == pytest.approx(500 / (90 / month))
    assert c1["orders"] == 2
    assert c1["share_clothing"] == pytest.approx(0.4)
    assert c1["share_electronics"] == pytest.approx(0.6)
    assert c1[["share_home", "share_beauty", "share_food", "share_other"]].sum() == 0
    # Customer 2: one order a day ago; the span is floored at one month.
    assert c2["recency_days"] == pytest.approx(1.0)
    assert c2["frequency"] == pytest.approx(1.0)
    assert c2["monetary"] == pytest.approx(25.0)
    assert c2["share_food"] == pytest.approx(0.8)
    assert c2["share_other"] == pytest.approx(0.2)
    shares = [c for c in FEATURE_COLUMNS if c.startswith("share_")]
    assert f[shares].sum(axis=1).to_numpy() == pytest.approx([1.0, 1.0])


def test_rfm_features_do_not_depend_on_row_order(shop):
    purchases, customers = shop
    # Orders of several lines, some placed at the same moment, to exercise both code paths.
    lines = pd.concat([purchases, purchases.assign(category="home", amount=5.0)])
    lines["placed_at"] = lines["placed_at"].dt.floor("D")
    ordered = lines.sort_values(["placed_at", "order_id"], kind="stable")
    shuffled = lines.sample(frac=1.0, random_state=1)
    a = rfm_features(ordered, customers)
    b = rfm_features(shuffled, customers)
    pd.testing.assert_frame_equal(a, b)
    assert (a["orders"] == purchases.groupby("customer_id").size()).all()


def test_rfm_features_as_of_defaults_to_newest_order():
    purchases, customers = planted_shop(per_group=3, days=60)
    f = rfm_features(purchases)
    assert f["recency_days"].min() == pytest.approx(0.0)
    assert len(f) == len(customers)


# ---- the estimator -----------------------------------------------------------------------------


def test_planted_groups_are_found_with_k_chosen_by_silhouette(shop, fitted):
    _, customers = shop
    features, model = fitted
    assert model.k_ == 5
    assert max(model.silhouette_by_k_, key=model.silhouette_by_k_.get) == 5
    assert set(model.silhouette_by_k_) == set(range(2, 9))
    groups = _groups(customers, features)
    assert adjusted_rand_score(groups, model.labels_) >= 0.9
    # Each planted group's segment is named after, and profiled with, its favourite category.
    for group, (fav, rate, spend) in GROUPS.items():
        segment = pd.Series(model.labels_[(groups == group).to_numpy()]).mode()[0]
        prof = model.profiles_.loc[segment]
        assert prof["favourite_category"] == fav
        assert model.segment_labels_[segment].startswith(f"{fav.capitalize()} enthusiasts — ")
        assert prof["purchases_per_month"] == pytest.approx(rate, rel=0.35)
        assert prof["spend_per_month"] == pytest.approx(spend, rel=0.35)
    assert model.profiles_["size"].sum() == len(features)
    assert list(model.profiles_["size"]) == sorted(model.profiles_["size"], reverse=True)


def test_labels_are_unique_and_readable(fitted):
    _, model = fitted
    labels = list(model.profiles_["label"])
    assert len(set(labels)) == len(labels) == model.k_
    by_fav = dict(zip(model.profiles_["favourite_category"], labels, strict=True))
    # e.g. "Food enthusiasts — 13 orders/month" is said per week; spend per month, rounded.
    assert by_fav["food"].startswith("Food enthusiasts — 3 orders/week, ")
    assert by_fav["electronics"].startswith("Electronics enthusiasts — 2 orders/month, ")
    assert all(len(lbl) <= 100 for lbl in labels)
    assert format_rate(1.0) == "1 order/month"
    assert format_rate(0.4) == "0.4 orders/month"
    assert format_rate(52 / 12) == "1 order/week"
    assert format_rate(4.0) == "4 orders/month"  # 0.92 a week reads better per month
    assert format_rate(3 * 52 / 12) == "3 orders/week"
    assert rough_money(1987.0) == "2,000"
    assert rough_money(487.0) == "490"


def test_lapsed_customers_form_their_own_named_segment():
    purchases, customers = planted_shop(per_group=20, extra={"lapsed": 25}, seed=3)
    features = rfm_features(purchases, customers)
    model = Segmenter(random_state=0).fit(features)
    lapsed = _groups(customers, features).to_numpy() == "lapsed"
    named = {s for s, lbl in model.segment_labels_.items() if lbl.startswith("Lapsed customers")}
    assert named
    assert np.isin(model.labels_[lapsed], list(named)).mean() >= 0.9
    assert np.isin(model.labels_[~lapsed], list(named)).mean() <= 0.02
    assert (model.profiles_.loc[sorted(named), "recency_days"] >= 150).all()
    assert len(set(model.segment_labels_.values())) == model.k_


def test_segments_of_newcomers_are_named_new_customers():
    # Newcomers with one order look like anyone else in RFM + shares; a segment made mostly of
    # them is still named for what it is.
    purchases, customers = planted_shop(per_group=10, extra={"new": 15, "lapsed": 15}, seed=3)
    features = rfm_features(purchases, customers)
    groups = _groups(customers, features)
    codes = {g: i for i, g in enumerate(sorted(groups.unique()))}
    profiles = Segmenter.profile(features, groups.map(codes).to_numpy())
    labels = dict(zip(sorted(codes), profiles["label"], strict=True))
    assert labels["new"] == "New customers"
    assert labels["lapsed"] == "Lapsed customers"
    assert labels["E"].startswith("Food enthusiasts — 3 orders/week, ")
    assert len(set(labels.values())) == len(labels)


def test_duplicate_names_are_told_apart():
    # Two clusters of lapsed customers, one per favourite category, must not share a name.
    purchases, customers = planted_shop(per_group=2, seed=5)
    base = rfm_features(purchases, customers)
    profiles = Segmenter.profile(base, np.arange(len(base)) % 3)
    profiles["recency_days"] = 200.0
    profiles["favourite_category"] = ["home", "food", "home"]
    profiles["favourite_share"] = [0.9, 0.9, 0.3]
    from analytics.segmentation.profiles import unique_labels

    labels = unique_labels(profiles)
    assert labels[0].startswith("Lapsed customers (home)")
    assert labels[1].startswith("Lapsed customers (food)")
    assert labels[2].startswith("Lapsed customers (mixed)")
    assert len(set(labels)) == 3


def test_k_is_honoured(fitted):
    features, _ = fitted
    model = Segmenter(k=3, random_state=0).fit(features)
    assert model.k_ == 3
    assert list(model.silhouette_by_k_) == [3]
    assert sorted(set(model.labels_)) == [0, 1, 2]
    assert len(model.profiles_) == 3


def test_same_seed_same_segments_and_predict_matches(fitted):
    features, model = fitted
    again = Segmenter(random_state=0).fit(features)
    np.testing.assert_array_equal(again.labels_, model.labels_)
    assert again.segment_labels_ == model.segment_labels_
    pd.testing.assert_frame_equal(again.profiles_, model.profiles_)
    np.testing.assert_array_equal(model.predict(features), model.labels_)


def test_large_input_uses_samples_and_stays_consistent():
    # More customers than the selection sample: k is chosen on a subsample, then refined.
    from analytics.segmentation import model as segmentation_model

    purchases, customers = planted_shop(per_group=40, seed=11)
    features = rfm_features(purchases, customers)
    old = segmentation_model.SELECTION_SAMPLE, segmentation_model.SILHOUETTE_SAMPLE
    segmentation_model.SELECTION_SAMPLE, segmentation_model.SILHOUETTE_SAMPLE = 120, 80
    try:
        model = Segmenter(random_state=1).fit(features)
    finally:
        segmentation_model.SELECTION_SAMPLE, segmentation_model.SILHOUETTE_SAMPLE = old
    assert model.k_ == 5
    assert len(model.labels_) == len(features) == 200
    assert adjusted_rand_score(_groups(customers, features), model.labels_) >= 0.9
    np.testing.assert_array_equal(model.predict(features), model.labels_)


def test_pickles_with_joblib(fitted, tmp_path):
    features, model = fitted
    joblib.dump(model, tmp_path / "segmenter.joblib")
    loaded = joblib.load(tmp_path / "segmenter.joblib")
    np.testing.assert_array_equal(loaded.predict(features), model.labels_)
    assert loaded.label_of(0) == model.label_of(0)
    assert loaded.get_params() == {"k": None, "k_range": (2, 8), "random_state": 0}


def test_too_few_customers_is_no_data():
    purchases, customers = planted_shop(per_group=1)
    with pytest.raises(NoData, match="at least 10"):
        Segmenter().fit(rfm_features(purchases, customers))


def test_unfitted_and_bad_input_fail_clearly(fitted):
    features, _ = fitted
    with pytest.raises(ValueError, match="not fitted"):
        Segmenter().predict(features)
    with pytest.raises(ValueError, match="share_food"):
        Segmenter().fit(features.drop(columns="share_food"))


# ---- the store ---------------------------------------------------------------------------------


def test_empty_database_is_no_data(engine):
    with pytest.raises(NoData, match="setup-demo"):
        run_segmentation(engine)
    with pytest.raises(NoData, match="no purchases"):
        evaluate_segments(engine, planted=PLANTED_FAVOURITES)
    assert latest_segments(engine) is None
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(AnalyticsRun)).scalar() == 0


def test_run_segmentation_stores_one_consistent_run(any_engine, shop):
    engine = any_engine
    purchases, customers = shop
    store_shop(engine, purchases, customers, extra_customers=2)
    report = run_segmentation(engine, version="v-test", random_state=0)

    assert report.k == 5
    assert report.n_customers == len(customers)
    assert report.customers_without_purchases == 2
    assert report.model.k_ == 5
    with engine.connect() as conn:
        run = conn.execute(select(AnalyticsRun)).one()
        assert (run.id, run.kind, run.model_version) == (report.run_id, "segments", "v-test")
        assert run.finished_at is not None
        assert run.metrics["k"] == 5
        assert run.metrics["silhouette"] == pytest.approx(report.silhouette, abs=1e-4)
        assert run.params["as_of"].startswith(str(purchases["placed_at"].max().date()))
        seg_rows = conn.execute(
            select(CustomerSegment.customer_id, CustomerSegment.segment, CustomerSegment.label)
        ).all()
        profiles = conn.execute(select(SegmentProfile).order_by(SegmentProfile.segment)).all()
    assert len(seg_rows) == len(customers)
    assert {r.customer_id for r in seg_rows} == set(customers["customer_id"])
    assert sum(p.size for p in profiles) == len(seg_rows)
    assert [p.segment for p in profiles] == list(range(5))
    label_of = {p.segment: p.label for p in profiles}
    assert all(label_of[r.segment] == r.label for r in seg_rows)
    assert {p.favourite_category for p in profiles} == set(CATEGORIES)

    # Read back without refitting; a second run becomes the latest.
    stored = latest_segments(engine)
    assert stored["run_id"] == report.run_id
    assert stored["k"] == 5
    assert [s["label"] for s in stored["segments"]] == [p["label"] for p in report.profiles]
    assert stored["segments"][0]["category_shares"]["clothing"] is not None
    second = run_segmentation(engine, k=3)
    assert second.run_id != report.run_id
    assert latest_segments(engine)["run_id"] == second.run_id
    assert len(latest_segments(engine)["segments"]) == 3
    mine = customer_segment(engine, 1)
    assert mine["run_id"] == second.run_id
    assert mine["label"] == second.model.label_of(mine["segment"])
    assert customer_segment(engine, 10_000) is None  # no purchases, no segment

    text = report.format()
    assert "Customer segments — run" in text and "favourite" in text
    assert "2 customer(s) without purchases" in text
    assert json.loads(json.dumps(report.to_dict()))["k"] == 5


def test_cancelled_orders_do_not_count(engine):
    purchases, customers = planted_shop(per_group=3, days=60)
    store_shop(engine, purchases, customers)
    with engine.begin() as conn:
        conn.execute(
            Order.__table__.update().where(Order.customer_id == 1).values(status="cancelled")
        )
    report = run_segmentation(engine, k=2)
    assert report.n_customers == len(customers) - 1
    assert report.customers_without_purchases == 1


def test_evaluate_segments_against_planted_groups(engine):
    purchases, customers = planted_shop(per_group=24, extra={"lapsed": 6})
    store_shop(engine, purchases, customers)
    result = evaluate_segments(engine, planted=PLANTED_FAVOURITES)
    planted = result["planted"]
    assert planted["customers"] == 5 * 24
    assert planted["ari"] >= 0.9
    assert planted["purity"] >= 0.9
    for group, info in planted["groups"].items():
        assert info["planted_favourite"] == PLANTED_FAVOURITES[group]
        assert info["dominant_favourite"] == info["planted_favourite"]
        assert info["share_in_dominant"] >= 0.9
    assert planted["other_groups"]["lapsed"]["customers"] == 6
    if result["k"] != 5:
        assert result["at_k5"]["k"] == 5
    forced = evaluate_segments(engine, k=3, planted=PLANTED_FAVOURITES)
    assert forced["k"] == 3 and "at_k5" not in forced
    assert forced["planted"]["ari"] < planted["ari"]
    with engine.connect() as conn:  # evaluation stores nothing
        assert conn.execute(select(func.count()).select_from(AnalyticsRun)).scalar() == 0


# ---- CLI ---------------------------------------------------------------------------------------


def _shopbot(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url, "RASA_TELEMETRY_ENABLED": "false"}
    return subprocess.run(
        [str(SHOPBOT), *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_cli_segments_and_evaluate(engine, sqlite_url, shop):
    empty = _shopbot(sqlite_url, "segments", "--json")
    assert empty.returncode == 2
    assert json.loads(empty.stdout)["kind"] == "NoData"
    assert "Traceback" not in empty.stderr

    purchases, customers = shop
    store_shop(engine, purchases, customers)
    out = _shopbot(sqlite_url, "segments", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["k"] == 5
    assert isinstance(data["run_id"], int)
    assert sum(s["size"] for s in data["segments"]) == data["customers"] == 200
    assert 0 < data["silhouette"] <= 1

    forced = _shopbot(sqlite_url, "segments", "--k", "3")
    assert forced.returncode == 0, forced.stderr
    assert "3 segments" in forced.stdout and "favourite" in forced.stdout

    ev = _shopbot(sqlite_url, "evaluate", "segments", "--json")
    assert ev.returncode == 0, ev.stderr
    result = json.loads(ev.stdout)
    assert result["k"] == 5 and result["planted"]["ari"] >= 0.9
    assert latest_segments(engine)["k"] == 3  # evaluation stored nothing


def test_cli_latest_and_bad_k_in_process(engine, sqlite_url, shop, monkeypatch, capsys):
    from bot.cli.main import main
    from shop.store.db import dispose_engines

    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    purchases, customers = shop
    store_shop(engine, purchases, customers)
    try:
        assert main(["segments", "--latest"]) == 2
        assert "no segmentation has been stored yet" in capsys.readouterr().err
        run_id = run_segmentation(engine, k=4).run_id
        assert main(["segments", "--latest", "--json"]) == 0
        latest = json.loads(capsys.readouterr().out)
        assert latest["run_id"] == run_id and len(latest["segments"]) == 4
        with pytest.raises(SystemExit) as exit_:
            main(["segments", "--k", "1"])
        assert exit_.value.code == 2
        assert "--k must be between 2 and 20" in capsys.readouterr().err
    finally:
        dispose_engines()


# ---- the demo shop -----------------------------------------------------------------------------


def test_demo_shop_planted_groups_are_recovered(engine):
    from shop.demo import build_demo
    from shop.store import session_scope

    build_demo(engine, seed=42, customers=400, products=60, days=365, end_date=dt.date(2026, 6, 1))
    with session_scope(engine) as s:
        planted_customers = s.execute(
            select(func.count()).where(Customer.demo_group.in_(list(PLANTED_FAVOURITES)))
        ).scalar()
    result = evaluate_segments(engine, planted=PLANTED_FAVOURITES)
    assert result["as_of"].startswith("2026-05-31")  # as of the data, not today
    fits = [result] + ([result["at_k5"]] if "at_k5" in result else [])
    assert result["k"] == 5 or len(fits) == 2
    for fit in fits:
        planted = fit["planted"]
        assert planted["customers"] >= 0.95 * planted_customers
        assert planted["ari"] >= 0.8, fit
        assert set(planted["groups"]) == set(PLANTED_FAVOURITES)
        for group, info in planted["groups"].items():
            assert info["dominant_favourite"] == PLANTED_FAVOURITES[group], (group, info)
            assert info["dominant_label"].startswith(PLANTED_FAVOURITES[group].capitalize())
    assert {"churned", "new", "noise"} <= set(result["planted"]["other_groups"])


# ---- stability -----------------------------------------------------------------------------------


def test_bootstrap_stability_is_high_for_planted_groups_and_low_without_structure():
    from analytics.segmentation.stability import bootstrap_stability

    purchases, customers = planted_shop(per_group=24)
    features = rfm_features(purchases, customers, as_of=END)
    model = Segmenter(random_state=0).fit(features)
    planted = bootstrap_stability(features, model, resamples=8)
    assert planted["resamples"] == 8 and planted["k_reference"] == model.k_
    assert planted["ari_mean"] >= 0.95 and planted["ari_min"] >= 0.9
    assert sum(planted["k_chosen"].values()) == 8
    # The same marginals with the joint structure destroyed (each column shuffled on its own):
    # whatever K-means finds there depends on the sample.
    rng = np.random.default_rng(0)
    shuffled = features.copy()
    for col in FEATURE_COLUMNS:
        shuffled[col] = rng.permutation(shuffled[col].to_numpy())
    noise = bootstrap_stability(shuffled, Segmenter(random_state=0).fit(shuffled), resamples=8)
    assert noise["ari_mean"] < planted["ari_mean"] - 0.2, (noise, planted)


def test_evaluate_segments_reports_stability_without_planted_groups(engine):
    purchases, customers = planted_shop(per_group=24)
    store_shop(engine, purchases, customers.assign(demo_group=None))
    result = evaluate_segments(engine, resamples=5)
    assert result["planted"] is None
    assert result["stability"]["resamples"] == 5 and result["stability"]["ari_mean"] > 0.9
