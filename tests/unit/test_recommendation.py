"""The recommender: training signal, serving rules, ranking quality, persistence and the CLI."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import insert

from analytics import artifacts
from analytics.recommendation import (
    Recommender,
    build_signal,
    evaluate_frames,
    evaluate_recommender,
    train_recommender,
)
from analytics.recommendation.metrics import ndcg_at_k, precision_at_k, recall_at_k
from analytics.recommendation.rating_model import fit_surprise
from analytics.recommendation.signal import events
from shop.errors import NoData, NotFound
from shop.store import make_engine, session_scope, upgrade
from shop.store.models import (
    AnalyticsRun,
    Customer,
    CustomerSegment,
    Inventory,
    Order,
    OrderItem,
    Product,
    Rating,
)
from support.synthetic import empty_purchases, planted_shop

ROOT = Path(__file__).resolve().parents[2]
ITEMS_PER_GROUP = 24


def group_of(product_id: int) -> int:
    return (product_id - 1) // ITEMS_PER_GROUP


@pytest.fixture(scope="module")
def shop() -> dict:
    return planted_shop(n_groups=3, users_per_group=40, items_per_group=ITEMS_PER_GROUP, seed=1)


@pytest.fixture(scope="module")
def fitted(shop) -> Recommender:
    return Recommender("svd").fit(shop["purchases"], shop["ratings"], shop["products"])


def history(shop: dict, customer_id: int) -> set[int]:
    p = shop["purchases"]
    r = shop["ratings"]
    return set(p.loc[p.customer_id == customer_id, "product_id"]) | set(
        r.loc[r.customer_id == customer_id, "product_id"]
    )


def write_shop(engine, shop: dict, *, with_ratings: bool = True) -> None:
    """Inserts the synthetic frames into a migrated database."""
    prods = shop["products"]
    orders = shop["purchases"]
    with session_scope(engine) as s:
        s.execute(insert(Customer), [
            {"id": int(c.customer_id), "email": c.email, "name": c.name,
             "external_id": f"X{c.customer_id}", "created_at": dt.datetime(2023, 1, 1)}
            for c in shop["customers"].itertuples()
        ])  # fmt: skip
        s.execute(insert(Product), [
            {"id": int(p.product_id), "sku": p.sku, "name": p.name, "category": p.category,
             "price": float(p.price), "active": bool(p.active)}
            for p in prods.itertuples()
        ])  # fmt: skip
        s.execute(insert(Inventory), [
            {"product_id": int(p.product_id), "on_hand": int(p.on_hand)} for p in prods.itertuples()
        ])  # fmt: skip
        s.execute(insert(Order), [
            {"id": int(o.order_id), "order_number": 100000 + int(o.order_id),
             "customer_id": int(o.customer_id), "status": "delivered",
             "placed_at": o.placed_at.to_pydatetime(), "total": float(o.amount)}
            for o in orders.itertuples()
        ])  # fmt: skip
        s.execute(insert(OrderItem), [
            {"order_id": int(o.order_id), "product_id": int(o.product_id),
             "quantity": int(o.quantity), "unit_price": float(o.unit_price)}
            for o in orders.itertuples()
        ])  # fmt: skip
        if with_ratings and len(shop["ratings"]):
            s.execute(insert(Rating), [
                {"customer_id": int(r.customer_id), "product_id": int(r.product_id),
                 "rating": float(r.rating), "rated_at": r.rated_at.to_pydatetime()}
                for r in shop["ratings"].itertuples()
            ])  # fmt: skip


# ---- training signal and metrics ---------------------------------------------------------------


def test_implicit_ratings_come_from_repeat_orders_and_explicit_ratings_win():
    t = pd.Timestamp("2025-01-01")
    purchases = pd.DataFrame(
        {
            "order_id": [1, 2, 2, 3, 4, 5, 6, 7, 8],
            "customer_id": [1, 1, 1, 1, 1, 1, 1, 1, 2],
            # product 10 in 1 order, 11 in 2 (one order lists it twice), 12 in 4, 13 in 1 rated
            "product_id": [10, 11, 11, 11, 12, 12, 12, 12, 13],
            "placed_at": [t + pd.Timedelta(days=d) for d in range(9)],
        }
    )
    ratings = pd.DataFrame(
        {
            "customer_id": [2, 3],
            "product_id": [13, 14],
            "rating": [2.0, 5.0],
            "rated_at": [t + pd.Timedelta(days=20), t + pd.Timedelta(days=21)],
        }
    )
    sig = build_signal(events(purchases, ratings)).set_index(["customer_id", "product_id"])
    assert sig.loc[(1, 10), "rating"] == 4.0
    assert sig.loc[(1, 11), "rating"] == 4.5
    assert sig.loc[(1, 12), "rating"] == 5.0  # 4 orders: 5.5, capped
    assert (sig.loc[(2, 13), "rating"], sig.loc[(2, 13), "explicit"]) == (2.0, True)
    assert (sig.loc[(3, 14), "rating"], sig.loc[(3, 14), "bought"]) == (5.0, False)
    assert len(sig) == 5


def test_ranking_metrics_by_hand():
    ranked = ["a", "b", "c", "d"]
    relevant = {"b", "d", "z"}
    assert precision_at_k(ranked, relevant, 4) == 0.5
    assert recall_at_k(ranked, relevant, 4) == pytest.approx(2 / 3)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(ranked, relevant, 4) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(["b", "d", "z"], relevant, 4) == pytest.approx(1.0)
    assert ndcg_at_k(["a"], relevant, 4) == 0.0


# ---- serving rules -----------------------------------------------------------------------------


def test_bought_items_never_come_back(shop, fitted):
    for cust in shop["customers"]["customer_id"]:
        recs = fitted.recommend(int(cust), 10)
        assert len(recs) == 10
        assert not {r.product_id for r in recs} & history(shop, int(cust))
        scores = [r.score for r in recs]
        assert scores == sorted(scores, reverse=True)


def test_rating_weighted_ease_never_recommends_the_history(shop):
    model = Recommender("svd", ranker="rated_ease@50").fit(
        shop["purchases"], shop["ratings"], shop["products"]
    )
    assert model.served_ is not None and model.served_.rated
    for cust in shop["customers"]["customer_id"]:
        recs = model.recommend(int(cust), 10)
        assert len(recs) == 10
        assert not {r.product_id for r in recs} & history(shop, int(cust))
        assert any(r.reason.startswith("because you") for r in recs)


def test_reasons_name_the_history_item_that_contributed_most(fitted):
    served = fitted.served_
    assert served.kind == "ease"  # the planted groups are item-to-item structure
    checked = 0
    for cust in range(1, 121, 7):
        u = fitted.customer_index_[cust]
        items, _ = fitted._history(u)
        for rec in fitted.recommend(cust, 10):
            if not rec.reason.startswith("because you bought"):
                continue
            i = fitted.item_index_[rec.product_id]
            # EASE's weight from each history item, times its recency weight if one was chosen.
            weights = served.ease_b[served.ease_pos[items], served.ease_pos[i]]
            if served.half_life:
                weights = weights * 0.5 ** (fitted._recency(u) / served.half_life)
            best = items[int(np.argmax(weights))]
            assert rec.reason.endswith(f"({fitted.skus_[best]})")
            checked += 1
    assert checked > 50


def test_out_of_stock_and_inactive_never_appear_even_after_update_stock(shop):
    model = Recommender().fit(shop["purchases"], shop["ratings"], shop["products"])
    before = [r.product_id for r in model.recommend(1, 10)]
    products = shop["products"].copy()
    products.loc[products.product_id == before[0], "on_hand"] = 0
    products.loc[products.product_id == before[1], "active"] = False
    model.update_stock(products)
    after = model.recommend(1, 10)
    ids = {r.product_id for r in after}
    assert before[0] not in ids and before[1] not in ids and len(after) == 10
    assert [r.product_id for r in after][:8] == before[2:10]
    for cust in range(1, 121):
        assert not {before[0], before[1]} & {r.product_id for r in model.recommend(cust, 20)}
    assert not {before[0], before[1]} & {r.product_id for r in model.popular(72)}
    # A live set of in-stock product ids works too, and restocking brings an item back.
    model.update_stock(available={before[0], before[2]})
    assert {r.product_id for r in model.recommend(1, 10)} == {before[0], before[2]}
    products.loc[products.product_id == before[0], "on_hand"] = 5
    model.update_stock(products)
    assert before[0] in {r.product_id for r in model.recommend(1, 10)}


def test_out_of_stock_at_fit_time_is_respected(shop):
    products = shop["products"].copy()
    products.loc[products.product_id <= 30, "on_hand"] = 0
    model = Recommender().fit(shop["purchases"], shop["ratings"], products)
    for cust in (1, 50, 100):
        assert all(r.product_id > 30 for r in model.recommend(cust, 15))


def test_category_filter_and_exclude(shop, fitted):
    for cat in ("clothing", "food"):
        recs = fitted.recommend(5, 5, category=cat)
        assert len(recs) == 5 and {r.category for r in recs} == {cat}
        assert {r.category for r in fitted.popular(5, category=cat)} == {cat}
    assert fitted.recommend(5, 5, category="Clothing") == fitted.recommend(
        5, 5, category="clothing"
    )
    assert fitted.recommend(5, 5, category="spaceships") == []
    top = fitted.recommend(5, 3)
    again = fitted.recommend(5, 3, exclude=[top[0].sku, top[1].product_id])
    assert top[0].sku not in {r.sku for r in again} and top[1].sku not in {r.sku for r in again}
    assert again[0].sku == top[2].sku


def test_unknown_customer_gets_popular_products(fitted):
    recs = fitted.recommend(999_999, 10)
    assert [r.sku for r in recs] == [r.sku for r in fitted.popular(10)]
    assert all("popular" in r.reason for r in recs)
    pop = fitted.popularity_[[fitted.item_index_[r.product_id] for r in recs]]
    assert list(pop) == sorted(pop, reverse=True)


def test_cold_start_uses_the_customers_segment(shop):
    # Segment 1 = planted group 1; customer 5000 has no history but a segment.
    seg = pd.DataFrame(
        {
            "customer_id": list(range(1, 121)) + [5000],
            "segment": [(c - 1) // 40 for c in range(1, 121)] + [1],
            "label": "group",
        }
    )
    model = Recommender().fit(shop["purchases"], shop["ratings"], shop["products"], segments=seg)
    recs = model.recommend(5000, 10)
    in_group = sum(group_of(r.product_id) == 1 for r in recs)
    assert in_group >= 8  # 10% of purchases are planted noise from other groups
    assert all("customers like you" in r.reason for r in recs)
    # The overall bestsellers are mostly from other groups: the segment made the difference.
    assert sum(group_of(r.product_id) == 1 for r in model.popular(10)) < in_group - 3


def test_similar_items_come_from_the_same_planted_group(shop, fitted):
    for pid in (1, 5, 30, 50, 70):
        sku = fitted.skus_[fitted.item_index_[pid]]
        sims = fitted.similar(sku, 5)
        assert len(sims) == 5 and sku not in {s.sku for s in sims}
        assert all(group_of(s.product_id) == group_of(pid) for s in sims), (pid, sims)
    with pytest.raises(NotFound):
        fitted.similar("NOPE-0000")


def test_similar_skips_out_of_stock(shop):
    model = Recommender().fit(shop["purchases"], shop["ratings"], shop["products"])
    first = model.similar("CLO-0001", 3)
    products = shop["products"].copy()
    products.loc[products.sku == first[0].sku, "on_hand"] = 0
    model.update_stock(products)
    assert first[0].sku not in {s.sku for s in model.similar("CLO-0001", 3)}


# ---- the rating models -------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["svd", "knn"])
def test_vectorised_estimates_equal_surprise_predictions(shop, algorithm):
    model = Recommender(algorithm, knn_k=5).fit(
        shop["purchases"], shop["ratings"], shop["products"]
    )
    users = np.repeat(np.arange(len(model.customer_ids_)), np.diff(model.hist_indptr_))
    frame = pd.DataFrame({"user": users, "item": model.hist_items_, "rating": model.hist_rating_})
    algo = fit_surprise(algorithm, frame, model.get_params(), model.random_state)
    for u in (0, 17, 64, 119):
        ours = model._model_scores(u)
        theirs = [algo.predict(u, i, clip=False).est for i in range(len(model.product_ids_))]
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)


@pytest.mark.parametrize("protocol", ["temporal", "random"])
def test_planted_taste_served_ranker_beats_popularity_and_matches_the_best(shop, protocol):
    m = evaluate_frames(shop["purchases"], shop["ratings"], shop["products"], protocol=protocol)
    served, pop = m["ranking"]["served"], m["ranking"]["popularity"]
    assert served["precision@10"] > 1.5 * pop["precision@10"]
    assert served["ndcg@10"] > 1.5 * pop["ndcg@10"]
    assert m["beats_popularity"] == {"precision@10": True, "ndcg@10": True}
    assert set(m["ranking"]) >= {"served", "ease", "item_knn", "als", "bpr", "svd", "popularity"}
    for ranker in m["ranking"].values():
        for key in ("precision@10", "recall@10", "ndcg@10", "coverage"):
            assert 0.0 <= ranker[key] <= 1.0
        assert ranker["users"] == m["split"]["eval_customers"] > 100
    # The served ranker was chosen on validation data; on the test split it is within noise of
    # the best baseline (120 customers: a couple of hits either way).
    assert m["served_vs_best"]["ndcg@10"] > -0.02
    assert m["split"]["protocol"] == protocol
    assert m["chosen"] in ("svd", "knn")
    other = "knn" if m["chosen"] == "svd" else "svd"
    assert m["rating"][m["chosen"]]["rmse"] <= m["rating"][other]["rmse"]
    for algo in ("svd", "knn"):
        assert 0 < m["rating"][algo]["mae"] <= m["rating"][algo]["rmse"] < 4


def test_evaluation_is_deterministic_for_a_seed(shop):
    def run(seed):
        m = evaluate_frames(
            shop["purchases"], shop["ratings"], shop["products"], protocol="random",
            random_state=seed,
        )  # fmt: skip
        m.pop("seconds")
        m.pop("baseline_fit_seconds")
        return m

    assert run(3) == run(3)
    assert run(3)["split"] == run(3)["split"] and run(3)["ranking"] != run(4)["ranking"]


def test_ratings_only_data_trains_and_ranks():
    # MovieLens-style input: explicit ratings, no purchases at all.
    shop = planted_shop(n_groups=2, users_per_group=20, items_per_group=ITEMS_PER_GROUP, seed=2)
    model = Recommender("knn").fit(empty_purchases(), shop["ratings"], shop["products"])
    assert model.algorithm_ == "knn"
    assert model.signal_summary_["implicit_ratings"] == 0
    rated = set(shop["ratings"].loc[shop["ratings"].customer_id == 1, "product_id"])
    recs = model.recommend(1, 5)
    assert len(recs) == 5 and not {r.product_id for r in recs} & rated


def test_constant_ratings_fall_back_from_knn_to_svd():
    # Every purchase bought once and no ratings: every implicit rating is 4.0, which leaves
    # surprise's pearson_baseline similarity dividing by zero.
    shop = planted_shop(n_groups=2, users_per_group=20, items_per_group=ITEMS_PER_GROUP, seed=2)
    purchases = shop["purchases"].drop_duplicates(["customer_id", "product_id"])
    model = Recommender("knn").fit(purchases, shop["ratings"].iloc[0:0], shop["products"])
    assert (model.algorithm, model.algorithm_) == ("knn", "svd")
    assert "pearson_baseline" in model.notes_[0]
    assert len(model.recommend(1, 5)) == 5
    m = evaluate_frames(purchases, shop["ratings"].iloc[0:0], shop["products"])
    assert m["chosen"] == "svd" and m["rating"]["knn"]["rmse"] is None


# ---- persistence -------------------------------------------------------------------------------


def test_pickle_round_trip_gives_identical_recommendations(shop, tmp_path):
    seg = pd.DataFrame({"customer_id": [7000], "segment": [2], "label": ["late joiners"]})
    for algorithm in ("svd", "knn"):
        model = Recommender(algorithm).fit(
            shop["purchases"], shop["ratings"], shop["products"], segments=seg
        )
        writer = artifacts.VersionWriter(root=tmp_path / algorithm)
        writer.save("recommender", model)
        writer.commit()
        loaded = artifacts.load("recommender", root=tmp_path / algorithm)
        for cust in (1, 33, 77, 120, 7000, 123456):
            assert loaded.recommend(cust, 10) == model.recommend(cust, 10)
            assert loaded.recommend(cust, 5, category="home") == model.recommend(
                cust, 5, category="home"
            )
        assert loaded.similar("EL-0002") == model.similar("EL-0002")
        assert loaded.popular(7) == model.popular(7)


# ---- from the database -------------------------------------------------------------------------


def test_train_from_database_with_segments(engine, shop):
    write_shop(engine, shop)
    with session_scope(engine) as s:
        run = AnalyticsRun(kind="segments", model_version="t")
        s.add(run)
        s.flush()
        s.add(Customer(id=500, email="new@example.com", created_at=dt.datetime(2024, 12, 1)))
        s.flush()
        s.execute(insert(CustomerSegment), [
            {"run_id": run.id, "customer_id": c, "segment": (c - 1) // 40, "label": f"g{(c-1)//40}"}
            for c in range(1, 121)
        ] + [{"run_id": run.id, "customer_id": 500, "segment": 2, "label": "g2"}])  # fmt: skip
    model, metrics = train_recommender(engine, version="v1", random_state=0)
    assert model.version_ == "v1" and metrics["version"] == "v1"
    assert metrics["chosen"] == model.algorithm
    assert metrics["trained_on"]["explicit_ratings"] == len(shop["ratings"])
    assert metrics["segments_for_cold_start"] == 3
    assert metrics["split"]["segments"] is not None
    seg_pop = metrics["ranking"]["segment_popularity"]
    assert seg_pop["precision@10"] > metrics["ranking"]["popularity"]["precision@10"]
    assert all(group_of(r.product_id) == 2 for r in model.recommend(500, 5))
    for cust in (1, 60, 110):
        assert not {r.product_id for r in model.recommend(cust, 10)} & history(shop, cust)


def test_purchases_without_ratings_still_work(any_engine, shop):
    write_shop(any_engine, shop, with_ratings=False)
    model, metrics = train_recommender(any_engine)
    assert metrics["signal"]["explicit_ratings"] == 0
    assert "implicit" in metrics["signal"]["note"]
    assert metrics["ranking"]["served"]["ndcg@10"] > metrics["ranking"]["popularity"]["ndcg@10"]
    assert len(model.recommend(3, 10)) == 10


def test_empty_database_raises_no_data(engine):
    with pytest.raises(NoData, match="no ratings and no purchases"):
        train_recommender(engine)
    with pytest.raises(NoData, match="no ratings and no purchases"):
        evaluate_recommender(engine)
    with session_scope(engine) as s:
        s.add(Product(sku="CLO-0001", name="Shirt", category="clothing", price=10))
    with pytest.raises(NoData):
        train_recommender(engine)


# ---- the command line --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_db(tmp_path_factory, shop) -> Path:
    path = tmp_path_factory.mktemp("recdb") / "shop.db"
    eng = make_engine(f"sqlite:///{path}")
    upgrade(eng)
    write_shop(eng, shop)
    eng.dispose()
    return path


def shopbot(db: Path, models: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "SHOPBOT_MODELS_DIR": str(models)}
    cmd = [sys.executable, "-m", "bot.cli.main", *args]
    return subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_cli_recommend_fits_on_the_fly_and_resolves_ids_and_emails(cli_db, shop, tmp_path):
    out = shopbot(cli_db, tmp_path / "none", "recommend", "c7@example.com", "-n", "4", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["customer"]["id"] == 7 and data["model"]["source"] == "fitted now"
    recs = data["recommendations"]
    assert len(recs) == 4 and not {r["product_id"] for r in recs} & history(shop, 7)
    assert set(recs[0]) >= {"sku", "name", "price", "category", "score", "reason"}
    # The external id from an import finds the same customer; the table has the columns.
    out = shopbot(cli_db, tmp_path / "none", "recommend", "X7", "-n", "4", "--category", "home")
    assert out.returncode == 0, out.stderr
    assert "SKU" in out.stdout and "WHY" in out.stdout and out.stdout.count("HOM-") == 4


def test_cli_unknown_customer_is_not_found(cli_db, tmp_path):
    out = shopbot(cli_db, tmp_path, "recommend", "nobody@example.com", "--json")
    assert out.returncode == 2
    assert json.loads(out.stdout) == {
        "error": "no customer nobody@example.com — give a customer id, an email or the id "
        "from an imported file",
        "kind": "NotFound",
    }
    assert "Traceback" not in out.stderr


def test_cli_uses_the_trained_model_and_evaluates(cli_db, shop, tmp_path):
    eng = make_engine(f"sqlite:///{cli_db}")
    model, _ = train_recommender(eng, version="v-test", evaluate=False)
    eng.dispose()
    writer = artifacts.VersionWriter(root=tmp_path, version="v-test")
    writer.save("recommender", model)
    writer.commit()
    out = shopbot(cli_db, tmp_path, "recommend", "12", "-n", "5", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["model"] == {
        "source": "trained",
        "version": "v-test",
        "algorithm": "svd",
        "ranker": model.ranker_,
    }
    assert [r["sku"] for r in data["recommendations"]] == [r.sku for r in model.recommend(12, 5)]

    out = shopbot(cli_db, tmp_path, "evaluate", "recommender", "--protocol", "random", "--json")
    assert out.returncode == 0, out.stderr
    m = json.loads(out.stdout)
    assert m["chosen"] in ("svd", "knn") and m["split"]["protocol"] == "random"
    assert m["ranking"]["served"]["precision@10"] > m["ranking"]["popularity"]["precision@10"]
    out = shopbot(cli_db, tmp_path, "evaluate", "recommender")
    assert "precision@10" in out.stdout and "popularity" in out.stdout and "ease" in out.stdout
    assert "temporal split" in out.stdout


def test_a_number_that_is_two_customers_is_not_guessed(engine):
    from shop.customers import find_customer
    from shop.errors import NotFound
    from shop.store import session_scope
    from shop.store.models import Customer

    with session_scope(engine) as s:
        s.add_all(
            [
                Customer(id=1, email="one@example.com", name="One"),
                Customer(id=2, external_id="1", name="Imported 1"),
                Customer(id=3, external_id="17850", name="Imported 17850"),
            ]
        )
    with pytest.raises(NotFound, match=r"1 is both customer id:1 and the imported customer ext:1"):
        find_customer(engine, "1")
    assert find_customer(engine, "id:1")["name"] == "One"
    assert find_customer(engine, "ext:1")["name"] == "Imported 1"
    assert find_customer(engine, "17850")["id"] == 3  # only an imported id: no ambiguity
    assert find_customer(engine, "2")["name"] == "Imported 1"  # only an internal id
    assert find_customer(engine, "ONE@example.com")["id"] == 1
    with pytest.raises(NotFound):
        find_customer(engine, "ext:999")
