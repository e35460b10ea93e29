"""`shopbot import inventory`: stock levels from CSV/XLSX, exact counts; and a shop without them."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import func, insert, select

from analytics.data import NO_STOCK_FIGURES, load_products, stock_figures_known
from analytics.inventory import run_reorder, stock_status
from analytics.recommendation import Recommender
from analytics.reports import staff as staff_reports
from shop.catalog import product_info
from shop.errors import ImportFailed, NoData
from shop.importers import import_inventory
from shop.store import session_scope
from shop.store.models import ImportBatch, Inventory, Product
from support.synthetic import planted_shop

SHOPBOT = str(Path(sys.executable).parent / "shopbot")

# sku → (active, inventory row as (on_hand, on_order, lead_time_days, safety_stock) or None)
CATALOGUE = {
    "85123A": (True, (0, 0, 14, 0)),
    "71053": (True, (5, 10, 7, 2)),
    "22386": (True, None),  # a product without a stock row yet
    "K100": (True, (0, 0, 14, 0)),
    "CLO-0042": (False, (3, 0, 7, 0)),
}

# The messy stock list: semicolons, other header names, every kind of bad row.
STOCK_CSV = """item_id;Qty;On order;Lead time;Safety stock
85123a;120;;;
71053;5;10;7;2
22386;30;0;21;5
NOPE-1;3;0;1;0
K100;-2;0;1;0
K100;1.5;0;1;0
;4;0;1;0
k100;4;;400;
K100;7;2;5;1
K100;8;2;5;1
85123A;abc;;;
CLO-0042;9;0;3;0;extra
TS 01;4;0;1;0
"""
EXPECTED_DROPS = {
    "malformed_row": 1,
    "bad_sku": 2,  # empty, blank inside
    "bad_number": 3,  # fraction, lead time over 365 days, "abc"
    "negative_number": 1,
    "unknown_sku": 1,
    "duplicate_sku": 1,  # K100 7 then 8: the last usable row wins
}
EXPECTED_STOCK = {
    "85123A": (120, 0, 14, 0),  # empty cells keep the stored figures; the later "abc" row is bad
    "71053": (5, 10, 7, 2),  # the same as stored: unchanged
    "22386": (30, 0, 21, 5),  # created
    "K100": (8, 2, 5, 1),
    "CLO-0042": (3, 0, 7, 0),  # not in the file (malformed row): as it was
}


def add_catalogue(engine, catalogue=CATALOGUE) -> None:
    with session_scope(engine) as s:
        for sku, (active, stock) in catalogue.items():
            p = Product(sku=sku, name=f"Item {sku}", category="home", price=Decimal("2.50"),
                        active=active)  # fmt: skip
            s.add(p)
            s.flush()
            if stock is not None:
                on_hand, on_order, lead, safety = stock
                s.add(Inventory(product_id=p.id, on_hand=on_hand, on_order=on_order,
                                lead_time_days=lead, safety_stock=safety))  # fmt: skip


def stock(engine) -> dict[str, tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Product.sku,
                Inventory.on_hand,
                Inventory.on_order,
                Inventory.lead_time_days,
                Inventory.safety_stock,
            ).join(Inventory, Inventory.product_id == Product.id)
        ).all()
    return {sku: tuple(figures) for sku, *figures in rows}


def state(engine) -> tuple:
    """Everything an inventory import may touch."""
    with engine.connect() as conn:
        products = conn.execute(select(func.count()).select_from(Product)).scalar_one()
        batches = conn.execute(select(func.count()).select_from(ImportBatch)).scalar_one()
    return stock(engine), products, batches


def test_messy_stock_csv(any_engine, tmp_path):
    add_catalogue(any_engine)
    path = tmp_path / "stock.csv"
    path.write_text(STOCK_CSV)
    report = import_inventory(any_engine, path)
    assert report.kind == "inventory" and report.already_imported is False
    assert report.rows_read == 13 and report.rows_kept == 4
    assert {k: v for k, v in report.dropped.items() if v} == EXPECTED_DROPS
    assert report.created["inventory"] == 1
    assert (report.updated, report.unchanged) == ({"inventory": 2}, {"inventory": 1})
    assert report.created["products"] == 0  # NOPE-1 was not invented
    assert stock(any_engine) == EXPECTED_STOCK
    assert report.notes == [
        "5 of the catalogue's 5 products now have stock on hand",
        "1 product(s) are not in this file and keep their stock as it was (0 of them with "
        "nothing on hand)",
    ]
    text = report.format()
    assert text.startswith("Import of inventory from stock.csv")
    assert "unknown_sku" in text and "duplicate_sku" in text and "orders" not in text
    json.dumps(report.to_dict())


def test_same_file_twice_changes_nothing_and_equal_figures_are_unchanged(engine, tmp_path):
    add_catalogue(engine)
    path = tmp_path / "stock.csv"
    path.write_text(STOCK_CSV)
    first = import_inventory(engine, path)
    before = state(engine)
    again = import_inventory(engine, path)
    assert again.already_imported is True and again.rows_kept == 0
    assert again.previous["updated"] == {"inventory": 2}
    assert state(engine) == before
    assert "already imported" in again.format()
    # The same figures in another file: read and kept again, but nothing differs.
    copy = tmp_path / "stock-copy.csv"
    copy.write_text(STOCK_CSV + "\n")
    third = import_inventory(engine, copy)
    assert third.rows_kept == first.rows_kept == 4
    assert (third.created["inventory"], third.updated, third.unchanged) == (
        0,
        {"inventory": 0},
        {"inventory": 4},
    )
    assert stock(engine) == EXPECTED_STOCK


def test_stock_xlsx(engine, tmp_path):
    add_catalogue(engine)
    wb = openpyxl.Workbook()
    wb.active.title = "Notes"
    wb.active.append(["Exported from the warehouse system"])
    sheet = wb.create_sheet("Stock")
    sheet.append(["StockCode", "Description", "Stock", "On Order"])
    sheet.append(["85123A", "WHITE HANGING HEART", 44.0, None])
    sheet.append([71053, "WHITE METAL LANTERN", 6, 0])  # numbers, as spreadsheets keep them
    sheet.append(["NOPE-1", "NOT OURS", 1, 0])
    wb.save(tmp_path / "stock.xlsx")
    report = import_inventory(engine, tmp_path / "stock.xlsx")
    assert (report.rows_read, report.rows_kept) == (3, 2)
    assert {k: v for k, v in report.dropped.items() if v} == {"unknown_sku": 1}
    assert "sheet 'Notes' skipped: it has no sku and on_hand columns" in report.notes
    got = stock(engine)
    assert got["85123A"] == (44, 0, 14, 0) and got["71053"] == (6, 0, 7, 2)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"\r\n  \r\n", "the file is empty"),
        (b"sku,on_hand\n", "only a header, no data rows"),
        (b"sku,price\n85123A,2.55\n", "not a stock file — missing required column(s): on_hand"),
        (b"85123A,12,0\n71053,4,0\n", "the file needs a header line"),
        (b"sku,on_hand,on_order\n85123A,12,0\n71053,4", "the file looks cut off (its last line"),
        ("sku,on_hand,name\n85123A,12,Café".encode()[:-1], "ends in the middle of a character"),
        (b"sku,on_hand\nNOPE-1,3\nNOPE-2,4\n", "none of the file's SKUs (e.g. NOPE-1, NOPE-2)"),
        (b"sku,on_hand\n85123A,-1\n71053,x\n", "none of the 2 rows is usable"),
    ],
)
def test_unusable_files_fail_and_write_nothing(engine, tmp_path, content, message):
    add_catalogue(engine)
    before = state(engine)
    path = tmp_path / "stock.csv"
    path.write_bytes(content)
    with pytest.raises(ImportFailed, match=re.escape(message)) as err:
        import_inventory(engine, path)
    assert "nothing" in str(err.value)
    assert state(engine) == before
    if b"price" in content:
        assert "found: sku, price" in str(err.value) and "sku,on_hand" in str(err.value)


def test_a_last_line_without_a_line_end_is_fine_when_complete(engine, tmp_path):
    add_catalogue(engine)
    path = tmp_path / "stock.csv"
    path.write_text("sku,on_hand\n85123A,12\n71053,4")  # hand-written files often end like this
    assert import_inventory(engine, path).rows_kept == 2
    assert stock(engine)["71053"] == (4, 10, 7, 2)


def test_cli_import_inventory(engine, sqlite_url, tmp_path):
    add_catalogue(engine)
    path = tmp_path / "stock.csv"
    path.write_text(STOCK_CSV)
    env = {**os.environ, "DATABASE_URL": sqlite_url, "RASA_TELEMETRY_ENABLED": "false"}

    def run(*args):
        return subprocess.run([SHOPBOT, *args], capture_output=True, text=True, env=env,
                              timeout=300)  # fmt: skip

    done = run("import", "inventory", str(path), "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["kind"] == "inventory" and out["rows_kept"] == 4
    assert {k: v for k, v in out["dropped"].items() if v} == EXPECTED_DROPS
    again = run("import", "inventory", str(path))
    assert again.returncode == 0 and "already imported" in again.stdout
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("sku,price\n85123A,2.55\n")
    failed = run("import", "inventory", str(wrong), "--json")
    assert failed.returncode == 2 and "Traceback" not in failed.stderr
    assert json.loads(failed.stdout)["kind"] == "ImportFailed"
    assert "missing required column(s): on_hand" in failed.stderr
    assert stock(engine) == EXPECTED_STOCK


# ---- a shop without stock figures -----------------------------------------------------------


def test_stock_figures_known():
    frame = pd.DataFrame(
        {"on_hand": [0, 0, 4], "on_order": [0, 0, 0], "active": [True, True, False]}
    )
    assert stock_figures_known(frame) is False  # only an inactive product has stock
    frame.loc[1, "on_order"] = 20
    assert stock_figures_known(frame) is True  # something on its way is a stock figure
    frame.loc[0, "on_hand"] = 1
    assert stock_figures_known(frame.drop(columns="on_order")) is True
    assert stock_figures_known(frame.iloc[:0]) is False


def test_recommender_without_stock_figures_ignores_stock_but_keeps_the_other_rules():
    shop = planted_shop(n_groups=3, users_per_group=20, items_per_group=12, seed=3)
    products = shop["products"].assign(on_hand=0, on_order=0)
    products.loc[products["product_id"] == 5, "active"] = False
    model = Recommender().fit(shop["purchases"], shop["ratings"], products)
    assert model.stock_known_ is False
    bought = set(shop["purchases"].loc[shop["purchases"]["customer_id"] == 1, "product_id"])
    rated = set(shop["ratings"].loc[shop["ratings"]["customer_id"] == 1, "product_id"])
    recs = model.recommend(1, 10)
    ids = {r.product_id for r in recs}
    assert len(recs) == 10 and not ids & (bought | rated) and 5 not in ids
    assert 5 not in {r.product_id for r in model.popular(36)}
    # As soon as one product has stock, the shop has stock figures: only that one qualifies.
    in_stock = next(i for i in range(1, 37) if i not in bought | rated | {5})
    products.loc[products["product_id"] == in_stock, "on_hand"] = 3
    model.update_stock(products)
    assert model.stock_known_ is True
    assert [r.product_id for r in model.recommend(1, 10)] == [in_stock]
    # Stock on order only: figures exist, nothing is on hand, nothing is recommended.
    products["on_hand"] = 0
    products.loc[products["product_id"] == in_stock, "on_order"] = 50
    assert model.update_stock(products).recommend(1, 10) == []
    # An explicit (even empty) set of in-stock products is a stock figure too.
    products["on_order"] = 0
    model.update_stock(products)
    assert model.stock_known_ is False and len(model.recommend(1, 10)) == 10
    assert model.update_stock(available=set()).recommend(1, 10) == []
    assert model.stock_known_ is True


def test_reorder_and_staff_answers_without_stock_figures(engine):
    add_catalogue(engine, {"85123A": (True, (0, 0, 14, 0)), "71053": (True, None)})
    with pytest.raises(NoData) as err:
        run_reorder(engine)
    assert str(err.value) == f"no reorder advice: {NO_STOCK_FIGURES}"
    assert "`shopbot import inventory FILE`" in str(err.value)
    with pytest.raises(NoData, match=re.escape("I can't advise on reordering yet: no product")):
        staff_reports.reorder_report(engine)
    status = stock_status(engine, "85123a")
    assert (status.stock_known, status.on_hand, status.reorder_now) == (False, 0, None)
    assert status.note == NO_STOCK_FIGURES
    report = staff_reports.stock_report(engine, "85123A")
    assert report.summary.startswith("Stock level not known")
    with session_scope(engine) as s:
        info = product_info(s, "85123A")
    assert (info.in_stock, info.stock_known) == (False, False)
    assert info.describe() == (
        "Item 85123A (85123A) costs 2.50. I can't see its availability right now, sorry."
    )
    # Once stock figures exist, a product with nothing on hand is out of stock again.
    with session_scope(engine) as s:
        s.execute(
            insert(Inventory),
            [{"product_id": 2, "on_hand": 7, "on_order": 0, "lead_time_days": 7,
              "updated_at": dt.datetime(2026, 1, 1)}],
        )  # fmt: skip
        info = product_info(s, "85123A")
    assert (info.in_stock, info.stock_known) == (False, True)
    assert "out of stock right now" in info.describe()
    assert stock_status(engine, "85123A").stock_known is True
    assert stock_figures_known(load_products(engine)) is True
    assert staff_reports.stock_report(engine, "85123A").summary == "Out of stock."
