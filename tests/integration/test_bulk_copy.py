"""Bulk loads through PostgreSQL's COPY give the same rows (and import reports) as SQLite's
executemany path: the demo shop and a transactions import, written both ways and compared."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from shop.demo import build as demo_build
from shop.demo import build_demo
from shop.importers import batches, import_transactions
from shop.store import bulk
from shop.store.models import Base

# Columns set from the clock at write time: they differ between two runs whatever the store.
CLOCK = {"created_at", "updated_at", "imported_at"}
DEMO = dict(seed=5, customers=150, products=40, days=200, end_date=dt.date(2026, 11, 1))


def _rows(engine, tables) -> dict[str, list[tuple]]:
    out = {}
    with engine.connect() as conn:
        for name in tables:
            table = Base.metadata.tables[name]
            cols = [c for c in table.columns if c.name not in CLOCK]
            result = conn.execute(select(*cols).order_by(*table.primary_key.columns))
            out[name] = [tuple(_plain(v) for v in row) for row in result]
    return out


def _plain(value):
    if isinstance(value, Decimal):
        return round(float(value), 6)
    if isinstance(value, float):
        return round(value, 6)
    return value


@pytest.fixture
def copies(monkeypatch):
    """Counts the rows each module sends through COPY."""
    sent: dict[str, int] = {}

    def counting(module):
        real = bulk.copy_rows

        def copy_rows(conn, table, columns, rows):
            n = real(conn, table, columns, rows)
            sent[table] = sent.get(table, 0) + n
            return n

        monkeypatch.setattr(module, "copy_rows", copy_rows)

    counting(demo_build)
    counting(batches)
    return sent


def _pg_indexes(engine) -> set[tuple[str, str]]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'")
            ).all()
        )


def _pg_foreign_keys(engine) -> set[tuple[str, str, str]]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                text(
                    "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                    "FROM pg_constraint WHERE contype = 'f'"
                )
            ).all()
        )


def test_the_demo_shop_is_the_same_built_with_copy_or_executemany(engine, pg_engine, copies):
    lite = build_demo(engine, **DEMO)
    assert copies == {}  # SQLite never uses COPY
    indexes, keys = _pg_indexes(pg_engine), _pg_foreign_keys(pg_engine)
    pg = build_demo(pg_engine, **DEMO)
    # The indexes and foreign keys dropped for the load are all back, as the migrations made them.
    assert _pg_indexes(pg_engine) == indexes and len(indexes) > 20
    assert _pg_foreign_keys(pg_engine) == keys and len(keys) > 5
    assert {k: v for k, v in lite.items() if k != "seconds"} == {
        k: v for k, v in pg.items() if k != "seconds"
    }
    # Every demo table went through COPY on PostgreSQL, every row of it.
    filled = {name: n for name, n in pg.items() if isinstance(n, int) and n}
    assert {t: copies.get(t) for t in filled} == filled, copies
    tables = list(demo_build.DEMO_TABLES)
    assert _rows(engine, tables) == _rows(pg_engine, tables)
    # Sequences moved past the copied ids: a new row gets a fresh id.
    with pg_engine.begin() as conn:
        table = Base.metadata.tables["customers"]
        new = conn.execute(
            table.insert().values(email="new@example.com", name="New").returning(table.c.id)
        ).scalar_one()
    assert new == max(r[0] for r in _rows(pg_engine, ["customers"])["customers"][:-1]) + 1


def test_a_row_breaking_a_foreign_key_fails_the_load_and_writes_nothing(pg_engine):
    from sqlalchemy.exc import IntegrityError

    keys = _pg_foreign_keys(pg_engine)
    with pytest.raises(IntegrityError, match="order_id"):
        with pg_engine.begin() as conn:
            with bulk.indexes_rebuilt(conn, ["order_items"]):
                bulk.copy_rows(
                    conn, "order_items", ["order_id", "product_id", "quantity", "unit_price"],
                    [(987654, 1, 1, 2.5)],
                )  # fmt: skip
    with pg_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM order_items")).scalar_one() == 0
    assert _pg_foreign_keys(pg_engine) == keys  # the transaction's drops were rolled back too


def _transactions_csv(path, n_invoices=400, seed=3):
    rng = random.Random(seed)
    lines = ["InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"]
    products = [(f"{84000 + i}", f'WHITE "HEART" MUG {i}, LARGE') for i in range(60)]
    start = dt.datetime(2011, 1, 3, 9, 0)
    for k in range(n_invoices):
        invoice = f"{536000 + k}" if k % 37 else f"C{536000 + k}"  # some cancellations
        when = (start + dt.timedelta(hours=7 * k)).strftime("%m/%d/%Y %H:%M")
        customer = "" if k % 53 == 0 else str(12000 + rng.randrange(80))
        for _ in range(rng.randint(1, 5)):
            code, name = rng.choice(products)
            qty = rng.choice([1, 2, 3, 6, 12, -1 if k % 41 == 0 else 4])
            price = rng.choice(["1.25", "2.55", "0.85", "4.95", "0"])
            lines.append(f'{invoice},{code},"{name.replace(chr(34), chr(34) * 2)}",{qty},'
                         f"{when},{price},{customer},United Kingdom")  # fmt: skip
    lines.append(f"536999,POST,POSTAGE,1,{start:%m/%d/%Y %H:%M},18.00,12001,France")
    lines.append("broken,line")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_an_import_gives_the_same_rows_and_report_through_copy(engine, pg_engine, tmp_path, copies):
    source = _transactions_csv(tmp_path / "online_retail.csv")
    lite = import_transactions(engine, source).to_dict()
    assert copies == {}
    pg = import_transactions(pg_engine, source).to_dict()
    for report in (lite, pg):
        for key in ("seconds", "imported_at", "rows_per_second"):
            report.pop(key, None)
    assert lite == pg
    assert copies.get("orders") == pg["created"]["orders"] > 300
    assert copies.get("order_items") == pg["created"]["order_items"]
    tables = ["customers", "products", "orders", "order_items", "inventory"]
    assert _rows(engine, tables) == _rows(pg_engine, tables)


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (None, ""),
        ("", '""'),
        ('say "hi", then\nleave', '"say ""hi"", then\nleave"'),
        (True, "t"),
        (float("nan"), ""),
        (2.5, "2.5"),
        (Decimal("3.10"), "3.10"),
        (dt.datetime(2026, 1, 2, 3, 4, 5), "2026-01-02 03:04:05"),
        ({"a": 1}, '"{""a"": 1}"'),
    ],
)
def test_copy_fields_keep_null_apart_from_empty_text(value, field):
    assert bulk._field(value) == field
