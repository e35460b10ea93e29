"""The demo shop: deterministic, planted groups recoverable, consistent orders, CLI behaviour."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine

from shop.demo import (
    DEMO_ACCOUNTS,
    DEMO_ORDERS,
    PLANTED_GROUPS,
    build_demo,
    demo_order_timeline,
    generate_shop,
)
from shop.errors import ShopbotError
from shop.store import make_engine, session_scope, upgrade
from shop.store.models import (
    CATEGORIES,
    RETURN_STATUSES,
    SHIPMENT_STATUSES,
    Base,
    Customer,
    Order,
)

END = dt.date(2026, 11, 25)
AS_OF = pd.Timestamp(END)
SMALL = dict(customers=300, products=60, days=365, end_date=END)
TINY = dict(customers=120, products=30, days=200, end_date=END)
REPO = Path(__file__).resolve().parents[2]
SHOPBOT = REPO / ".venv" / "bin" / "shopbot"
MONTH_DAYS = 365.25 / 12


def _fresh_sqlite(path: Path) -> Engine:
    eng = make_engine(f"sqlite:///{path}")
    upgrade(eng)
    return eng


def frame(engine: Engine, sql: str, dates=()) -> pd.DataFrame:
    """Query result as a frame (pandas' read_sql wants SQLAlchemy 2; this store runs 1.4)."""
    with engine.connect() as conn:
        result = conn.execute(text(sql))
        df = pd.DataFrame(result.all(), columns=list(result.keys()))
    for col in dates:
        df[col] = pd.to_datetime(df[col])
    return df


def table_hashes(engine: Engine) -> dict[str, str]:
    """sha256 of every shop table's rows, sorted by primary key, values normalised to text."""
    out = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
            h = hashlib.sha256()
            for row in rows:
                h.update(repr(tuple(_norm(v) for v in row)).encode())
            out[table.name] = h.hexdigest()
    return out


def _norm(v):
    if isinstance(v, (Decimal, float)):
        return f"{float(v):.4f}"
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    return v


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    """A small demo shop in SQLite, plus the counts build_demo reported."""
    eng = _fresh_sqlite(tmp_path_factory.mktemp("small") / "shop.db")
    result = build_demo(eng, **SMALL)
    yield eng, result
    eng.dispose()


@pytest.fixture(scope="module")
def default_db(tmp_path_factory):
    """The default-size demo shop (the one `make run` builds), timed."""
    eng = _fresh_sqlite(tmp_path_factory.mktemp("default") / "shop.db")
    phases = []
    cpu = time.process_time()
    result = build_demo(eng, end_date=END, progress=phases.append)
    result["cpu_seconds"] = time.process_time() - cpu
    print(f"\ndefault demo build: {result}", file=sys.stderr)
    yield eng, result, phases
    eng.dispose()


@pytest.fixture(scope="module")
def default_frames(default_db):
    eng = default_db[0]
    customers = frame(eng, "SELECT * FROM customers", dates=["created_at"])
    orders = frame(
        eng, "SELECT * FROM orders",
        dates=["placed_at", "paid_at", "shipped_at", "delivered_at", "cancelled_at"],
    )  # fmt: skip
    lines = frame(
        eng,
        "SELECT oi.*, p.category, o.customer_id, o.status AS order_status "
        "FROM order_items oi JOIN products p ON p.id = oi.product_id "
        "JOIN orders o ON o.id = oi.order_id",
    )
    return customers, orders, lines


# ---- determinism and sizes -----------------------------------------------------------------------


def test_same_seed_and_end_date_give_identical_databases(tmp_path):
    a, b, c = (_fresh_sqlite(tmp_path / f"{n}.db") for n in "abc")
    build_demo(a, seed=7, **TINY)
    build_demo(b, seed=7, **TINY)
    build_demo(c, seed=8, **TINY)
    ha, hb, hc = table_hashes(a), table_hashes(b), table_hashes(c)
    assert ha == hb
    for name in ("customers", "products", "orders", "order_items", "ratings", "events"):
        assert ha[name] != hc[name], name
    # The fixed demo accounts and their orders do not depend on the seed.
    for eng in (a, c):
        rows = frame(eng, "SELECT order_number, status, placed_at, total FROM orders "
                          "WHERE order_number BETWEEN 104200 AND 104299 ORDER BY 1")  # fmt: skip
        assert rows["order_number"].tolist() == sorted(DEMO_ORDERS)
    assert frame(a, "SELECT order_number, status, placed_at, total FROM orders WHERE "
                    "order_number BETWEEN 104200 AND 104299 ORDER BY 1").equals(
        frame(c, "SELECT order_number, status, placed_at, total FROM orders WHERE "
                 "order_number BETWEEN 104200 AND 104299 ORDER BY 1")
    )  # fmt: skip


def test_generation_uses_no_global_random_state():
    np.random.seed(1)
    first = generate_shop(seed=3, **TINY)["orders"]
    np.random.seed(2)
    second = generate_shop(seed=3, **TINY)["orders"]
    pd.testing.assert_frame_equal(first, second)


def test_reported_counts_match_the_database(small_db):
    eng, result = small_db
    for name in ("customers", "products", "orders", "order_items", "shipments", "returns",
                 "inventory", "ratings", "events", "support_tickets"):  # fmt: skip
        got = frame(eng, f"SELECT COUNT(*) AS n FROM {name}")["n"][0]
        assert got == result[name], name
    assert result["support_tickets"] == 0
    assert result["customers"] == SMALL["customers"] and result["products"] == SMALL["products"]
    assert result["seconds"] > 0


def test_default_build_is_sized_as_documented(default_db):
    # Build time is measured in bench/, not asserted here.
    _, result, phases = default_db
    assert result["customers"] == 2000 and result["products"] == 300
    assert 80_000 <= result["orders"] <= 120_000
    assert result["order_items"] > result["orders"]
    assert any("inserting" in p for p in phases)


@pytest.mark.parametrize("kwargs", [dict(customers=10), dict(products=5), dict(days=30)])
def test_too_small_sizes_are_refused(engine, kwargs):
    with pytest.raises(ShopbotError, match="too small"):
        build_demo(engine, end_date=END, **kwargs)


# ---- planted customer groups ---------------------------------------------------------------------


def _per_customer(customers, orders, lines, days=730):
    start = AS_OF - pd.Timedelta(days=days)
    kept = orders[orders["status"] != "cancelled"]
    c = customers.set_index("id")
    months = (AS_OF - c["created_at"].clip(lower=start)).dt.total_seconds() / 86400 / MONTH_DAYS
    n = kept.groupby("customer_id").size().reindex(c.index, fill_value=0)
    spend = kept.groupby("customer_id")["total"].sum().astype(float).reindex(c.index, fill_value=0)
    live = lines[lines["order_status"] != "cancelled"]
    value = live["quantity"] * live["unit_price"].astype(float)
    shares = (
        live.assign(value=value)
        .pivot_table(index="customer_id", columns="category", values="value", aggfunc="sum")
        .fillna(0.0)
        .reindex(c.index, fill_value=0.0)
    )
    total = shares.sum(axis=1)
    shares = shares.div(total.replace(0, np.nan), axis=0)
    favourite = shares.fillna(0.0).idxmax(axis=1).where(total > 0)
    return pd.DataFrame(
        {"group": c["demo_group"], "per_month": n / months, "spend": spend / months,
         "favourite": favourite}
    ).join(shares)  # fmt: skip


def test_planted_groups_match_the_reference_table(default_frames):
    stats = _per_customer(*default_frames)
    for group, (category, per_month, spend) in PLANTED_GROUPS.items():
        g = stats[stats["group"] == group]
        assert len(g) >= 100, group
        assert g["per_month"].median() == pytest.approx(per_month, rel=0.3), group
        assert g["spend"].median() == pytest.approx(spend, rel=0.3), group
        assert (g["favourite"] == category).mean() >= 0.9, group
        # Realistic noise: the favourite is most but not all of the basket.
        assert 0.6 <= g[category].median() <= 0.92, group


def test_churned_and_new_customers(default_frames):
    customers, orders, _ = default_frames
    groups = customers.set_index("id")["demo_group"]
    churned = groups.index[groups == "churned"]
    assert len(churned) >= 100
    last = orders.groupby("customer_id")["placed_at"].max()
    assert (last.reindex(churned).dropna() < AS_OF - pd.Timedelta(days=183)).all()
    assert last.reindex(churned).notna().mean() > 0.95  # they did buy, earlier
    new = customers[customers["demo_group"] == "new"]
    assert len(new) >= 100
    assert (new["created_at"] >= AS_OF - pd.Timedelta(days=62)).all()
    assert (new["created_at"] < AS_OF).all()
    first = orders.groupby("customer_id")["placed_at"].min().reindex(new["id"]).dropna()
    assert (first >= AS_OF - pd.Timedelta(days=62)).all()
    assert {"noise", "account"} <= set(groups)


def test_kmeans_on_rfm_and_category_shares_recovers_the_planted_groups(default_frames):
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score
    from sklearn.preprocessing import StandardScaler

    customers, orders, lines = default_frames
    stats = _per_customer(customers, orders, lines)
    last = orders[orders["status"] != "cancelled"].groupby("customer_id")["placed_at"].max()
    stats["recency"] = (AS_OF - last).dt.days
    planted = stats[stats["group"].isin(list(PLANTED_GROUPS))].dropna()
    features = np.column_stack(
        [np.log1p(planted[["recency", "per_month", "spend"]]), planted[list(CATEGORIES)]]
    )
    labels = KMeans(5, n_init=10, random_state=0).fit_predict(
        StandardScaler().fit_transform(features)
    )
    assert adjusted_rand_score(planted["group"], labels) >= 0.8


# ---- catalogue, orders, shipments, returns -------------------------------------------------------


def test_catalogue(default_db):
    eng = default_db[0]
    products = frame(eng, "SELECT * FROM products")
    assert products["sku"].str.fullmatch(r"[A-Z]{2,4}-\d{3,5}").all()
    assert products["sku"].is_unique
    assert set(products["category"]) == set(CATEGORIES)
    by_sku = products.set_index("sku")
    assert by_sku.loc["CLO-0042", "category"] == "clothing"
    assert by_sku.loc["EL-1042", "category"] == "electronics"
    assert "EL-1001" in by_sku.index and "CLO-0001" in by_sku.index
    kettle = products[products["name"] == "Blue Enamel Kettle"]
    assert len(kettle) == 1 and kettle["category"].iloc[0] == "home" and kettle["active"].iloc[0]
    ranges = {"clothing": (15, 250), "electronics": (30, 1500), "home": (10, 400),
              "beauty": (5, 120), "food": (2, 60)}  # fmt: skip
    for cat, (lo, hi) in ranges.items():
        prices = products.loc[products["category"] == cat, "price"].astype(float)
        assert prices.between(lo, hi).all(), cat
    assert 1 <= (~products["active"].astype(bool)).sum() <= 20
    assert products["name"].is_unique and products["brand"].notna().all()


def test_slow_movers_are_intermittent(default_db):
    eng = default_db[0]
    sold_days = frame(
        eng,
        "SELECT p.id, COUNT(DISTINCT DATE(o.placed_at)) AS days FROM products p "
        "LEFT JOIN order_items oi ON oi.product_id = p.id "
        "LEFT JOIN orders o ON o.id = oi.order_id GROUP BY p.id",
    )
    sparse = (sold_days["days"] / 730 < 0.1).mean()
    assert 0.08 <= sparse <= 0.3
    assert (sold_days["days"] / 730 > 0.5).mean() > 0.3  # and most sell most days


def test_orders_are_consistent(default_frames):
    customers, orders, lines = default_frames
    numbers = orders["order_number"]
    assert numbers.between(100000, 999999).all() and numbers.is_unique
    reserved = numbers.between(104200, 104299)
    assert set(numbers[reserved]) == set(DEMO_ORDERS)
    assert (orders["source"] == "demo").all()
    emails = customers.set_index("id")["email"]
    assert (orders["email"] == orders["customer_id"].map(emails)).all()
    # total = sum of items, to the cent
    items_cents = (
        (lines["quantity"] * (lines["unit_price"].astype(float) * 100).round())
        .groupby(lines["order_id"])
        .sum()
    )
    totals = (orders.set_index("id")["total"].astype(float) * 100).round()
    assert (items_cents.reindex(totals.index) == totals).all()
    assert (lines["quantity"] > 0).all()

    status = orders["status"]
    assert set(status) == {"pending", "paid", "shipped", "delivered", "cancelled"}
    assert 0.01 <= (status == "cancelled").mean() <= 0.035
    t = orders
    assert (t["paid_at"].dropna() >= t.loc[t["paid_at"].notna(), "placed_at"]).all()
    both = t["shipped_at"].notna()
    assert (t.loc[both, "shipped_at"] >= t.loc[both, "paid_at"]).all()
    done = t["delivered_at"].notna()
    assert (t.loc[done, "delivered_at"] > t.loc[done, "shipped_at"]).all()
    for col in ("placed_at", "paid_at", "shipped_at", "delivered_at", "cancelled_at"):
        assert (t[col].dropna() <= AS_OF).all(), col
    assert (t["cancelled_at"].notna() == (status == "cancelled")).all()
    assert t.loc[status == "cancelled", ["shipped_at", "delivered_at"]].isna().all().all()
    assert (t["delivered_at"].notna() == (status == "delivered")).all()
    sent = status.isin(["shipped", "delivered"])
    assert (t["shipped_at"].notna() == sent).all()
    assert t.loc[sent, ["carrier", "tracking_number"]].notna().all().all()
    assert t.loc[~sent, ["carrier", "tracking_number"]].isna().all().all()
    assert {"DHL", "UPS", "FedEx", "Royal Mail"} <= set(t["carrier"].dropna())
    assert t.loc[status == "pending", "paid_at"].isna().all()
    # Old orders are delivered (or cancelled); open ones are recent.
    old = t["placed_at"] < AS_OF - pd.Timedelta(days=14)
    assert status[old].isin(["delivered", "cancelled"]).all()
    recent = t["placed_at"] >= AS_OF - pd.Timedelta(days=3)
    assert {"pending", "paid", "shipped"} <= set(status[recent])
    # Promotions: codes only on promotion days, with a discount.
    promo = t[t["promo_code"].notna()]
    assert promo["promo_code"].str.startswith("BLACKFRIDAY").any()
    assert promo["promo_code"].str.startswith("SPRING").any()
    bf = promo[promo["promo_code"].str.startswith("BLACKFRIDAY")]
    # Black Friday to Cyber Monday: the last days of November, at most into 1-2 December.
    when = bf["placed_at"]
    assert (
        ((when.dt.month == 11) & (when.dt.day >= 23)) | ((when.dt.month == 12) & (when.dt.day <= 2))
    ).all()
    assert (when.dt.month == 11).mean() > 0.5


def test_weekly_and_yearly_seasonality(default_frames):
    orders = default_frames[1]
    daily = orders.groupby(orders["placed_at"].dt.floor("D")).size()
    days = pd.date_range(AS_OF - pd.Timedelta(days=730), AS_OF - pd.Timedelta(days=1))
    daily = daily.reindex(days, fill_value=0)
    weekend = daily[daily.index.weekday >= 5].mean()
    weekday = daily[daily.index.weekday < 5].mean()
    assert weekend > 1.1 * weekday
    peak = daily[daily.index.month.isin([11, 12])].mean()
    summer = daily[daily.index.month.isin([6, 7, 8])].mean()
    assert peak > 1.3 * summer


def test_shipments(default_db):
    eng = default_db[0]
    s = frame(eng, "SELECT s.*, o.status AS order_status, o.carrier AS order_carrier, "
                   "o.tracking_number AS order_tracking FROM shipments s "
                   "JOIN orders o ON o.id = s.order_id")  # fmt: skip
    assert set(s["status"]) == set(SHIPMENT_STATUSES)
    assert s["order_id"].is_unique
    assert (s["carrier"] == s["order_carrier"]).all()
    assert (s["tracking_number"] == s["order_tracking"]).all()
    assert ((s["status"] == "delivered") == (s["order_status"] == "delivered")).all()
    assert s["estimated_delivery"].notna().all() and s["last_location"].notna().all()
    sent = frame(eng, "SELECT COUNT(*) AS n FROM orders WHERE status IN ('shipped', 'delivered')")
    assert len(s) == sent["n"][0]


def test_returns(default_db):
    eng = default_db[0]
    r = frame(
        eng,
        "SELECT r.*, oi.quantity AS item_quantity, oi.order_id AS item_order, "
        "o.status AS order_status, o.delivered_at FROM returns r "
        "JOIN order_items oi ON oi.id = r.order_item_id JOIN orders o ON o.id = r.order_id",
        dates=["created_at", "updated_at", "delivered_at"],
    )
    assert set(r["status"]) == set(RETURN_STATUSES)
    assert r["rma_number"].str.fullmatch(r"RMA-\d{6}").all() and r["rma_number"].is_unique
    assert r["order_item_id"].is_unique
    assert (r["quantity"] >= 1).all() and (r["quantity"] <= r["item_quantity"]).all()
    assert (r["order_id"] == r["item_order"]).all()
    assert (r["order_status"] == "delivered").all()
    assert (r["created_at"] > r["delivered_at"]).all() and (
        r["updated_at"] >= r["created_at"]
    ).all()
    items = frame(eng, "SELECT COUNT(*) AS n FROM order_items")["n"][0]
    assert 0.01 <= len(r) / items <= 0.08
    assert r["reason"].notna().all()


def test_ratings_events_inventory(default_db):
    eng = default_db[0]
    ratings = frame(eng, "SELECT * FROM ratings", dates=["rated_at"])
    assert ratings["rating"].between(1, 5).all()
    assert set(ratings["rating"]) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert not ratings.duplicated(["customer_id", "product_id"]).any()
    # Every rating follows a delivered purchase of that product by that customer.
    first = frame(
        eng,
        "SELECT o.customer_id, oi.product_id, MIN(o.delivered_at) AS first_delivery "
        "FROM orders o JOIN order_items oi ON oi.order_id = o.id "
        "WHERE o.status = 'delivered' GROUP BY o.customer_id, oi.product_id",
        dates=["first_delivery"],
    )
    joined = ratings.merge(first, on=["customer_id", "product_id"], how="left")
    assert joined["first_delivery"].notna().all()
    assert (joined["rated_at"] > joined["first_delivery"]).all()
    # Signal for a recommender: products differ in how they are rated.
    per_product = ratings.groupby("product_id")["rating"].agg(["mean", "size"])
    assert per_product.loc[per_product["size"] >= 20, "mean"].std() > 0.25

    events = frame(eng, "SELECT kind, COUNT(*) AS n FROM events GROUP BY kind").set_index("kind")[
        "n"
    ]
    assert set(events.index) == {"view", "cart", "purchase"}
    assert events["view"] > 2 * events["purchase"] and events["cart"] > events["purchase"]

    inv = frame(eng, "SELECT i.*, p.active FROM inventory i JOIN products p ON p.id = i.product_id")
    assert len(inv) == frame(eng, "SELECT COUNT(*) AS n FROM products")["n"][0]
    assert inv["lead_time_days"].between(3, 30).all()
    active = inv[inv["active"].astype(bool)]
    assert (active["on_hand"] == 0).any()
    assert ((active["on_hand"] > 0) & (active["on_hand"] < active["reorder_point"])).any()
    assert (active["on_hand"] > active["reorder_point"]).mean() > 0.6
    assert (inv["on_order"] > 0).any() and (inv["safety_stock"] >= 0).all()


# ---- the demo accounts ---------------------------------------------------------------------------


def _check_demo_accounts(eng: Engine) -> None:
    with session_scope(eng) as s:
        for account in DEMO_ACCOUNTS:
            customer = s.execute(
                select(Customer).where(Customer.email == account["email"])
            ).scalar_one()
            assert customer.id == account["customer_id"] and customer.name == account["name"]
            history = (
                s.execute(select(Order).where(Order.customer_id == customer.id)).scalars().all()
            )
            assert len(history) >= len(account["orders"]) + 5  # a real purchase history
            for number, status in account["orders"].items():
                order = s.execute(select(Order).where(Order.order_number == number)).scalar_one()
                assert order.status == status and order.customer_id == customer.id
                assert order.email == account["email"]
                assert order.total == sum(i.quantity * i.unit_price for i in order.items)
        order = lambda n: s.execute(select(Order).where(Order.order_number == n)).scalar_one()  # noqa: E731
        o = order(104233)
        (ship,) = o.shipments
        assert (o.carrier, ship.carrier, ship.status) == ("DHL", "DHL", "in_transit")
        assert o.tracking_number and ship.tracking_number == o.tracking_number
        assert o.shipped_at.date() == END - dt.timedelta(days=2)
        assert ship.estimated_delivery == END + dt.timedelta(days=2)
        o = order(104234)
        assert o.delivered_at.date() == END - dt.timedelta(days=5)
        assert len(o.items) >= 2 and any(i.product.category == "clothing" for i in o.items)
        o = order(104235)
        assert o.paid_at is not None and o.shipped_at is None and not o.shipments
        o = order(104236)
        assert o.delivered_at.date() == END - dt.timedelta(days=60)
        o = order(104240)
        assert o.delivered_at.date() == END - dt.timedelta(days=3) and len(o.items) == 2
        o = order(104241)
        assert o.paid_at is None and o.shipped_at is None
        for number in DEMO_ORDERS:
            timeline = demo_order_timeline(number, END)
            assert order(number).placed_at == timeline["placed"]
        n_ratings = s.execute(
            text("SELECT COUNT(*) FROM ratings WHERE customer_id IN (1, 2)")
        ).scalar_one()
        assert n_ratings >= 4
        returns = s.execute(
            text(
                "SELECT COUNT(*) FROM returns r JOIN orders o ON o.id = r.order_id "
                "WHERE o.order_number BETWEEN 104200 AND 104299"
            )  # fmt: skip
        ).scalar_one()
        assert returns == 0  # the chat demos start with nothing returned


def test_demo_accounts_small(small_db):
    _check_demo_accounts(small_db[0])


def test_demo_accounts_default(default_db):
    _check_demo_accounts(default_db[0])
    groups = frame(default_db[0], "SELECT demo_group FROM customers WHERE id IN (1, 2)")
    assert set(groups["demo_group"]) == {"account"}


# ---- PostgreSQL ----------------------------------------------------------------------------------


def test_postgresql_build_matches_sqlite(pg_engine, small_db):
    result = build_demo(pg_engine, **SMALL)
    _, sqlite_result = small_db
    for name, count in sqlite_result.items():
        if name != "seconds":
            assert result[name] == count, name
    _check_demo_accounts(pg_engine)
    # Ids were given explicitly: the sequences must have moved past them.
    with session_scope(pg_engine) as s:
        c = Customer(email="new.person@example.com", name="New Person")
        s.add(c)
        s.flush()
        assert c.id == SMALL["customers"] + 1


# ---- the command ---------------------------------------------------------------------------------


def _cli(db: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{db}")
    return subprocess.run(
        [str(SHOPBOT), "setup-demo", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_cli_setup_demo(tmp_path):
    db = tmp_path / "cli.db"
    sizes = ["--customers", "120", "--products", "30", "--days", "200", "--end-date", "2026-11-25"]
    first = _cli(db, *sizes, "--json")
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert data["counts"]["customers"] == 120 and data["counts"]["products"] == 30
    assert data["counts"]["orders"] > 1000 and data["end_date"] == "2026-11-25"
    assert data["seconds"] > 0 and "inserting" in first.stderr  # progress on stderr
    eng = make_engine(f"sqlite:///{db}")
    try:
        before = table_hashes(eng)
        again = _cli(db, *sizes)
        assert again.returncode != 0
        assert "already holds a shop" in again.stderr and "--force" in again.stderr
        assert "Traceback" not in again.stderr
        assert table_hashes(eng) == before

        skip = _cli(db, "--if-missing")
        assert skip.returncode == 0, skip.stderr
        assert len(skip.stdout.strip().splitlines()) == 1 and "nothing to do" in skip.stdout
        assert table_hashes(eng) == before

        forced = _cli(db, *sizes, "--seed", "5", "--force", "--json")
        assert forced.returncode == 0, forced.stderr
        assert json.loads(forced.stdout)["counts"]["customers"] == 120
        after = table_hashes(eng)
        assert after["orders"] != before["orders"]
        n = frame(eng, "SELECT COUNT(*) AS n FROM orders")["n"][0]
        assert n == json.loads(forced.stdout)["counts"]["orders"]
    finally:
        eng.dispose()


def test_cli_if_missing_builds_an_empty_database_and_rejects_bad_dates(tmp_path):
    db = tmp_path / "fresh.db"
    done = _cli(db, "--if-missing", "--customers", "60", "--products", "20", "--days", "200")
    assert done.returncode == 0, done.stderr
    assert "demo shop built" in done.stdout and "ada@example.com" in done.stdout
    bad = _cli(tmp_path / "other.db", "--end-date", "2026-02-30")
    assert bad.returncode != 0 and "not a date" in bad.stderr
