"""Importers: messy Online Retail files (CSV, Online Retail II, XLSX) and ratings, exact counts."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select, text

from shop.errors import ImportFailed
from shop.importers import categorise, import_ratings, import_transactions
from shop.importers import transactions as transactions_module
from shop.store import session_scope
from shop.store.models import (
    Customer,
    ImportBatch,
    Inventory,
    Order,
    Product,
    Rating,
)

REPO = Path(__file__).resolve().parents[2]
# fmt: off
TABLES = ("customers", "products", "inventory", "orders", "order_items", "ratings",
          "import_batches")

OR_HEADER = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
             "CustomerID", "Country"]
OR2_HEADER = ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price",
              "Customer ID", "Country"]

# (invoice, code, description, quantity, date, price, customer, country); dates as datetimes so
# each variant can write them its own way.
D = dt.datetime
GOOD = [
    ("536365", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", 6, D(2010, 12, 1, 8, 26), 2.55, "17850.0", "United Kingdom"),
    ("536365", "71053", "WHITE METAL LANTERN", 6, D(2010, 12, 1, 8, 26), 3.39, "17850.0", "United Kingdom"),
    # the same product again in the same invoice: merged into one item (8 units at 2.65)
    ("536365", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", 2, D(2010, 12, 1, 8, 26), 2.95, "17850.0", "United Kingdom"),
    ("536366", "K100", "RETRO KETTLE", 1, D(2010, 12, 1, 8, 28), 25.00, "17850", "United Kingdom"),
    ("536367", "TS01", "KIDS T-SHIRT", 3, D(2010, 12, 1, 8, 34), 7.50, "13047", "United Kingdom"),
    ("536367", "ls01", "RED LIPSTICK CRÈME", 2, D(2010, 12, 1, 8, 34), 4.25, "13047", "United Kingdom"),
    ("536368", "71053", "WHITE METAL LANTERN", 4, D(2010, 12, 2, 9, 0), 3.75, "12583", "France"),
    ("536368", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", 12, D(2010, 12, 2, 9, 0), 2.55, "12583", "France"),
    ("536369", "22386", "JUMBO BAG, PINK POLKADOT", 10, D(2010, 12, 3, 10, 15), 1.95, "12583", "France"),
    ("536370", "TS01", "KIDS T-SHIRT", 1, D(2010, 12, 13, 11, 0), 7.50, "17850", "United Kingdom"),
]
BAD = [
    ("C536379", "TS01", "KIDS T-SHIRT", -1, D(2010, 12, 3, 12, 0), 7.50, "13047", "United Kingdom"),
    ("C536380", "D", "Discount", -1, D(2010, 12, 3, 12, 0), 27.50, "14527", "United Kingdom"),
    ("536371", "71053", "WHITE METAL LANTERN", -2, D(2010, 12, 4, 9, 0), 3.39, "17850", "United Kingdom"),
    ("536372", "22139", "RETROSPOT TEA SET CERAMIC 11 PC", 1, D(2010, 12, 4, 9, 5), 0, "12583", "France"),
    ("536373", "71053", "WHITE METAL LANTERN", 2, D(2010, 12, 4, 9, 10), 3.39, "", "United Kingdom"),
    ("536374", "POST", "POSTAGE", 3, D(2010, 12, 4, 9, 15), 18.00, "12583", "France"),
    ("536375", "M", "Manual", 1, D(2010, 12, 4, 9, 20), 0.85, "17850", "United Kingdom"),
    ("536376", "BANK CHARGES", "Bank Charges", 1, D(2010, 12, 4, 9, 25), 15.00, "17850", "United Kingdom"),
    ("536376", "gift_0001_20", "Dotcomgiftshop Gift Voucher £20.00", 1, D(2010, 12, 4, 9, 25), 17.02, "17850", "United Kingdom"),
    GOOD[1],  # exact duplicate
    ("536377", "TS01", "KIDS T-SHIRT", 1, "not a date", 7.50, "13047", "United Kingdom"),
    ("536378", "71053", "WHITE METAL LANTERN", "six", D(2010, 12, 5, 9, 0), 3.39, "17850", "United Kingdom"),
    ("581483", "23843", "PAPER CRAFT , LITTLE BIRDIE", 80995, D(2011, 12, 9, 9, 15), 2.08, "16446", "United Kingdom"),
    ("A563185", "B", "Adjust bad debt", 1, D(2011, 8, 12, 14, 50), 11062.06, "", "United Kingdom"),
]
# fmt: on
EXPECTED_DROPS = {
    "cancelled": 2,
    "non_positive_quantity": 1,
    "non_positive_price": 1,
    "missing_customer_id": 1,
    "non_product_code": 4,
    "duplicate_row": 1,
    "bad_date": 1,
    "bad_quantity": 1,
    "outlier": 1,
    "bad_invoice": 1,
}
MALFORMED = 2  # a line with an extra field, and a half-written last line (CSV only)


def _interleaved():
    # Bad rows spread among the good ones, as in real files.
    rows, bad = [], list(BAD)
    for i, good in enumerate(GOOD):
        rows.append(good)
        rows += bad[i * 2 : i * 2 + 2]
    rows += bad[len(GOOD) * 2 :]
    return rows


def _csv_text(header, date_format, delimiter=",") -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    for i, row in enumerate(_interleaved()):
        cells = [c.strftime(date_format) if isinstance(c, dt.datetime) else c for c in row]
        writer.writerow(cells)
        if i == 5:
            writer.writerow(
                [
                    "536381",
                    "22727",
                    "ALARM CLOCK BAKELIKE RED",
                    6,
                    "12/6/2010 9:00",
                    3.75,
                    "17850",
                    "United Kingdom",
                    "EXTRA",
                ]
            )
    out.write(delimiter.join(["536382", "22728", "ALARM CLOCK BAK"]))  # cut off, no newline
    return out.getvalue()


def write_online_retail(path: Path) -> Path:
    """Online Retail layout, US dates as in the UCI file, Windows-1252 encoded (like the original)."""
    path.write_bytes(_csv_text(OR_HEADER, "%m/%d/%Y %H:%M").encode("cp1252"))
    return path


def write_online_retail_ii(path: Path) -> Path:
    """Online Retail II names, ISO dates, semicolons, UTF-8 with BOM."""
    path.write_bytes(_csv_text(OR2_HEADER, "%Y-%m-%d %H:%M:%S", delimiter=";").encode("utf-8-sig"))
    return path


def write_xlsx(path: Path) -> Path:
    """An Online Retail II workbook: two yearly sheets with native dates and numbers, plus notes."""
    wb = openpyxl.Workbook()
    rows = _interleaved()
    sheets = [wb.active, wb.create_sheet()]
    sheets[0].title, sheets[1].title = "Year 2009-2010", "Year 2010-2011"
    half = len(rows) // 2
    for sheet, part in zip(sheets, (rows[:half], rows[half:])):
        sheet.append(OR2_HEADER)
        for inv, code, desc, qty, when, price, cust, country in part:
            customer = float(cust) if cust else None  # spreadsheets store ids as floats
            sheet.append(
                [
                    int(inv) if inv.isdigit() else inv,
                    code,
                    desc,
                    qty,
                    when,
                    price,
                    customer,
                    country,
                ]
            )
    wb.create_sheet("Notes").append(["Source: test data"])
    wb.save(path)
    return path


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES}


def check_online_retail_result(engine, report, malformed=MALFORMED, extra_rows=0) -> None:
    """The exact outcome of importing the messy test data (any layout)."""
    assert report.already_imported is False
    assert report.rows_read == len(GOOD) + len(BAD) + malformed + extra_rows
    assert report.rows_kept == len(GOOD) == 10
    expected = {**dict.fromkeys(report.dropped, 0), **EXPECTED_DROPS, "malformed_row": malformed}
    assert report.dropped == expected
    assert report.rows_read == report.rows_kept + report.rows_dropped
    assert report.created == {
        "customers": 3,
        "products": 6,
        "inventory": 6,
        "orders": 6,
        "order_items": 9,
        "ratings": 0,
    }
    assert counts(engine) == {
        "customers": 3,
        "products": 6,
        "inventory": 6,
        "orders": 6,
        "order_items": 9,
        "ratings": 0,
        "import_batches": 1,
    }
    with session_scope(engine) as s:
        orders = {o.order_number: o for o in s.execute(select(Order)).scalars()}
        assert sorted(orders) == [536365, 536366, 536367, 536368, 536369, 536370]
        totals = {n: float(o.total) for n, o in orders.items()}
        assert totals == {
            536365: 41.54,
            536366: 25.0,
            536367: 31.0,
            536368: 45.6,
            536369: 19.5,
            536370: 7.5,
        }
        first = orders[536365]
        assert first.status == "delivered" and first.email is None
        assert first.placed_at == dt.datetime(2010, 12, 1, 8, 26)
        assert first.source == f"import:{report.sha256[:12]}"
        assert first.customer.external_id == "17850"
        items = {(i.product.sku, i.quantity, float(i.unit_price)) for i in first.items}
        assert items == {("85123A", 8, 2.65), ("71053", 6, 3.39)}  # 6×2.55 + 2×2.95 = 8×2.65
        assert orders[536368].customer.external_id == "12583"
        assert orders[536370].placed_at == dt.datetime(2010, 12, 13, 11, 0)
        products = {p.sku: p for p in s.execute(select(Product)).scalars()}
        assert sorted(products) == ["22386", "71053", "85123A", "K100", "LS01", "TS01"]
        assert {sku: p.category for sku, p in products.items()} == {
            "22386": "other",
            "71053": "home",
            "85123A": "home",
            "K100": "home",
            "LS01": "beauty",
            "TS01": "clothing",
        }
        assert products["LS01"].name == "RED LIPSTICK CRÈME"
        assert products["22386"].name == "JUMBO BAG, PINK POLKADOT"
        assert float(products["85123A"].price) == 2.55  # median of 2.55, 2.95, 2.55
        assert float(products["71053"].price) == 3.57  # median of 3.39, 3.75
        inventory = s.execute(select(Inventory)).scalars().all()
        assert {(i.on_hand, i.lead_time_days) for i in inventory} == {(0, 14)}
        customers = {c.external_id: c for c in s.execute(select(Customer)).scalars()}
        assert sorted(customers) == ["12583", "13047", "17850"]
        assert customers["12583"].country == "France"
        assert customers["17850"].created_at == dt.datetime(2010, 12, 1, 8, 26)
        batch = s.execute(select(ImportBatch)).scalar_one()
        assert batch.kind == "transactions" and batch.sha256 == report.sha256
        assert batch.report["rows_kept"] == 10


def test_categories_from_keywords():
    assert categorise("RETRO KETTLE") == "home"
    assert categorise("ELECTRIC KETTLE") == "electronics"
    assert categorise("KIDS T-SHIRT") == "clothing"
    assert categorise("red lipstick") == "beauty"
    assert categorise("CHOCOLATE BAR") == "food"
    assert categorise("CAKE STAND") == "home"
    assert categorise("JUMBO BAG RED") == "other"
    assert categorise("WOOLLY HATS") == "clothing"
    assert categorise("HATTER") == "other"
    assert categorise("OVEN GLOVES") == "home"  # the longer keyword wins over "GLOVE"
    assert categorise("60 CAKE CASES") == "home"  # tie: home is listed before food


def test_online_retail_csv(any_engine, tmp_path):
    report = import_transactions(any_engine, write_online_retail(tmp_path / "online_retail.csv"))
    check_online_retail_result(any_engine, report)
    text_report = report.format()
    assert "rows kept" in text_report and "cancelled" in text_report
    json.dumps(report.to_dict())


def test_online_retail_ii_csv(engine, tmp_path):
    report = import_transactions(engine, write_online_retail_ii(tmp_path / "online_retail_ii.csv"))
    check_online_retail_result(engine, report)


def test_online_retail_ii_xlsx(engine, tmp_path):
    report = import_transactions(engine, write_xlsx(tmp_path / "online_retail_II.xlsx"))
    check_online_retail_result(engine, report, malformed=0)
    assert any("Notes" in note for note in report.notes)


def test_workbooks_read_the_same_with_calamine_or_openpyxl(tmp_path, monkeypatch):
    import builtins

    import python_calamine  # noqa: F401  (pinned in requirements.txt: the fast path is tested)

    from shop.importers import files

    info = files.inspect_file(write_xlsx(tmp_path / "online_retail_II.xlsx"))

    def cells(sheets):
        return {name: [files._cell_text(c) if c not in (None, "") else "" for r in rows for c in r]
                for name, rows in sheets}  # fmt: skip

    fast = cells(files.xlsx_sheets(info))
    real_import = builtins.__import__

    def no_calamine(name, *args, **kwargs):
        if name == "python_calamine":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_calamine)
    slow = cells(files.xlsx_sheets(info))
    assert fast.keys() == slow.keys() == {"Year 2009-2010", "Year 2010-2011", "Notes"}
    for name in fast:
        # Same cells as text (calamine pads short rows with blanks; dates may lose 00:00:00).
        a = [c.removesuffix(" 00:00:00") for c in fast[name] if c]
        b = [c.removesuffix(" 00:00:00") for c in slow[name] if c]
        assert a == b, name


def test_same_file_twice_changes_nothing(engine, tmp_path):
    path = write_online_retail(tmp_path / "online_retail.csv")
    first = import_transactions(engine, path)
    before = counts(engine)
    second = import_transactions(engine, path)
    assert second.already_imported is True
    assert second.created["orders"] == 0 and second.rows_kept == 0
    assert second.previous["rows_kept"] == first.rows_kept == 10
    assert second.previous["created"]["orders"] == 6
    assert counts(engine) == before
    assert "already imported" in second.format()
    # The same data in another file: every order is already there from the first file's source.
    copy = tmp_path / "copy.csv"
    copy.write_bytes(path.read_bytes() + b"\r\n")
    third = import_transactions(engine, copy)
    assert third.dropped["order_number_taken"] == 10
    assert third.skipped_orders["order_number_taken"] == 6
    assert third.created["orders"] == 0
    assert counts(engine) == {**before, "import_batches": 2}


def test_clash_with_existing_orders(engine, tmp_path):
    with session_scope(engine) as s:
        c = Customer(email="demo@example.com", name="Demo Customer")
        s.add(c)
        s.flush()
        s.add(
            Order(
                order_number=536366,
                customer_id=c.id,
                status="shipped",
                source="demo",
                placed_at=dt.datetime(2026, 1, 1),
                total=10,
            )
        )
    report = import_transactions(engine, write_online_retail(tmp_path / "online_retail.csv"))
    assert report.dropped["order_number_taken"] == 1
    assert report.skipped_orders == {"order_number_taken": 1, "order_already_imported": 0}
    assert report.rows_kept == 9
    assert report.created["orders"] == 5
    assert report.created["products"] == 5  # K100 only appeared in the clashing invoice
    with session_scope(engine) as s:
        clash = s.execute(select(Order).where(Order.order_number == 536366)).scalar_one()
        assert clash.source == "demo" and float(clash.total) == 10.0
        assert s.execute(select(func.count()).select_from(Order)).scalar_one() == 6
    assert "order(s) skipped" in report.format()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"   \r\n\r\n", "empty"),
        (",".join(OR_HEADER).encode() + b"\r\n", "no data rows"),
        (b"date,sku,qty,amount\n2010-12-01,85123A,6,15.30\n", "missing required column(s)"),
        (
            b"536365,85123A,WHITE HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom\n",
            "needs a header line",
        ),
        (
            ",".join(OR_HEADER).encode()
            + b"\nC536379,TS01,KIDS T-SHIRT,-1,12/3/2010 12:00,7.5,1,UK\n",
            "none of the 1 rows is usable",
        ),
    ],
)
def test_unusable_files_fail_and_write_nothing(engine, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    before = counts(engine)
    with pytest.raises(ImportFailed, match=re.escape(message)) as err:
        import_transactions(engine, path)
    assert counts(engine) == before
    if b"date,sku" in content:
        assert "InvoiceNo" in str(err.value) and "InvoiceDate" in str(err.value)
        assert "found: date, sku, qty, amount" in str(err.value)


def test_unreadable_and_missing_files(engine, tmp_path):
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 this is not really a workbook")
    with pytest.raises(ImportFailed, match="workbook cannot be read"):
        import_transactions(engine, broken)
    with pytest.raises(ImportFailed, match="no such file"):
        import_transactions(engine, tmp_path / "nope.csv")
    wb = openpyxl.Workbook()
    wb.active.append(["Date", "Amount"])
    wb.active.append([dt.datetime(2010, 1, 1), 3])
    wb.save(tmp_path / "other.xlsx")
    with pytest.raises(ImportFailed, match="missing required column"):
        import_transactions(engine, tmp_path / "other.xlsx")
    assert counts(engine) == dict.fromkeys(TABLES, 0)


def test_failure_in_the_middle_leaves_nothing(engine, tmp_path, monkeypatch):
    real = transactions_module._write_order_items

    def write_then_fail(conn, *args, **kwargs):
        real(conn, *args, **kwargs)  # customers, products, orders and items are inserted…
        assert conn.execute(text("SELECT COUNT(*) FROM order_items")).scalar_one() == 9
        raise RuntimeError("disk full")  # …and then something breaks

    monkeypatch.setattr(transactions_module, "_write_order_items", write_then_fail)
    path = write_online_retail(tmp_path / "online_retail.csv")
    with pytest.raises(RuntimeError, match="disk full"):
        import_transactions(engine, path)
    assert counts(engine) == dict.fromkeys(TABLES, 0)
    monkeypatch.undo()
    # The file was not recorded as imported, so it imports fine afterwards.
    check_online_retail_result(engine, import_transactions(engine, path))


# ---- ratings ------------------------------------------------------------------------------------

RATINGS_CSV = """user_id,item_id,rating,timestamp
1,242,3,881250949
1,302,4.5,891717742
2,242,5,2020-01-05T10:00:00
2,51,2,878887116
3,346,1,886397596
1,242,4,891000000
2,51,5,870000000
3,100,0,886397596
3,101,6,886397596
3,102,5.5,886397596
3,103,abc,886397596
,242,3,881250949
user 7,242,3,881250949
4,,3,881250949
4,242,3,yesterday
4,242
4,242,3,881250949,extra
"""

UDATA = (
    "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n"
    "244\t51\t2\t880606923\n196\t242\t4\t881250950\n166\t346\t7\t886397596\n298\t474\t4\n"
)


def rating_map(engine) -> dict[tuple[str, str], float]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(Customer.external_id, Product.sku, Rating.rating, Rating.rated_at)
            .join(Customer, Customer.id == Rating.customer_id)
            .join(Product, Product.id == Rating.product_id)
        ).all()
    return {(u, i): r for u, i, r, _ in rows}


def test_ratings_csv(engine, tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text(RATINGS_CSV)
    report = import_ratings(engine, path)
    assert report.rows_read == 17
    assert report.rows_kept == 5
    assert report.dropped == {
        "malformed_row": 2,
        "bad_user_id": 2,
        "bad_item_id": 1,
        "bad_rating": 1,
        "rating_out_of_range": 3,
        "bad_timestamp": 1,
        "duplicate_rating": 2,
    }
    assert report.created == {
        "customers": 3,
        "products": 4,
        "inventory": 4,
        "orders": 0,
        "order_items": 0,
        "ratings": 5,
    }
    assert rating_map(engine) == {
        ("1", "242"): 4.0,
        ("1", "302"): 4.5,
        ("2", "242"): 5.0,
        ("2", "51"): 2.0,
        ("3", "346"): 1.0,
    }
    with session_scope(engine) as s:
        placeholder = s.execute(select(Product).where(Product.sku == "242")).scalar_one()
        assert (
            placeholder.name,
            placeholder.category,
            float(placeholder.price),
            placeholder.active,
        ) == ("Item 242", "other", 0.0, True)
        assert placeholder.inventory.on_hand == 0 and placeholder.inventory.lead_time_days == 14
        r = s.execute(
            select(Rating)
            .join(Customer)
            .where(Customer.external_id == "2")
            .join(Product)
            .where(Product.sku == "242")
        ).scalar_one()
        assert r.rated_at == dt.datetime(2020, 1, 5, 10, 0)
        r = s.execute(
            select(Rating)
            .join(Customer)
            .where(Customer.external_id == "1")
            .join(Product)
            .where(Product.sku == "242")
        ).scalar_one()
        assert r.rated_at == dt.datetime.utcfromtimestamp(891000000)
    again = import_ratings(engine, path)
    assert again.already_imported and counts(engine)["ratings"] == 5


def test_ratings_udata_and_upsert(engine, tmp_path):
    with session_scope(engine) as s:  # an existing product with that SKU is used, not replaced
        s.add(Product(sku="302", name="Blue linen shirt", category="clothing", price=39.9))
    path = tmp_path / "u.data"
    path.write_text(UDATA)
    report = import_ratings(engine, path)
    assert report.rows_read == 7 and report.rows_kept == 4
    assert {k: v for k, v in report.dropped.items() if v} == {
        "malformed_row": 1,
        "rating_out_of_range": 1,
        "duplicate_rating": 1,
    }
    assert report.created["customers"] == 4 and report.created["products"] == 3
    assert report.created["inventory"] == 4  # the existing product had no stock row either
    assert rating_map(engine) == {
        ("196", "242"): 4.0,
        ("186", "302"): 3.0,
        ("22", "377"): 1.0,
        ("244", "51"): 2.0,
    }
    # A newer export of the same ratings: no duplicates, newer values win, older ones don't.
    newer = tmp_path / "u2.data"
    newer.write_text(
        "196\t242\t5\t881260000\n186\t302\t1\t800000000\n22\t377\t1\t878887116\n"
        "1\t1\t3\t881250949\n"
    )
    second = import_ratings(engine, newer)
    assert second.created["ratings"] == 1 and second.created["customers"] == 1
    assert second.updated == {"ratings": 1} and second.unchanged == {"ratings": 2}
    assert counts(engine)["ratings"] == 5
    assert rating_map(engine) == {
        ("196", "242"): 5.0,
        ("186", "302"): 3.0,
        ("22", "377"): 1.0,
        ("244", "51"): 2.0,
        ("1", "1"): 3.0,
    }
    with session_scope(engine) as s:
        assert (
            s.execute(select(Product.name).where(Product.sku == "302")).scalar_one()
            == "Blue linen shirt"
        )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("user_id,item_id,rating\n", "no data rows"),
        ("who,what,when\nada,shirt,yesterday\n", "missing required column"),
        ("user_id,item_id,rating\n1,2,9\n1,3,0\n", "none of the 2 rows is usable"),
    ],
)
def test_ratings_unusable_files(engine, tmp_path, content, message):
    path = tmp_path / "ratings.csv"
    path.write_text(content)
    with pytest.raises(ImportFailed, match=re.escape(message)):
        import_ratings(engine, path)
    assert counts(engine) == dict.fromkeys(TABLES, 0)


# ---- CLI ----------------------------------------------------------------------------------------


def _shopbot(args, db_url):
    env = {**os.environ, "DATABASE_URL": db_url, "RASA_TELEMETRY_ENABLED": "false"}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli.main", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_cli_json_and_errors(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    data = write_online_retail(tmp_path / "online_retail.csv")
    done = _shopbot(["import", "transactions", str(data), "--json"], db_url)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["rows_kept"] == 10 and out["created"]["orders"] == 6
    assert out["dropped"]["cancelled"] == 2 and out["dropped"]["malformed_row"] == 2
    assert out["already_imported"] is False

    again = _shopbot(["import", "transactions", str(data)], db_url)
    assert again.returncode == 0 and "already imported" in again.stdout

    ratings = tmp_path / "u.data"
    ratings.write_text(UDATA)
    done = _shopbot(["import", "ratings", str(ratings), "--json"], db_url)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["created"]["ratings"] == 4

    wrong = tmp_path / "wrong.csv"
    wrong.write_text("date,sku,qty,amount\n2010-12-01,85123A,6,15.30\n")
    failed = _shopbot(["import", "transactions", str(wrong)], db_url)
    assert failed.returncode == 2
    assert "missing required column(s): InvoiceNo" in failed.stderr
    assert "Traceback" not in failed.stderr
    failed = _shopbot(["import", "transactions", str(wrong), "--json"], db_url)
    assert failed.returncode == 2 and "Traceback" not in failed.stderr
    assert json.loads(failed.stdout)["kind"] == "ImportFailed"


# ---- oversized input ---------------------------------------------------------------------------


def _good_csv_lines() -> list[str]:
    return [
        ",".join(OR_HEADER),
        "536365,85123A,WHITE HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom",
    ]


def test_a_field_over_the_limit_is_refused_naming_its_line(engine, tmp_path):
    lines = _good_csv_lines()
    lines.append('536366,K100,"' + "A" * 20_000 + '",1,12/1/2010 8:28,25.00,17850,United Kingdom')
    path = tmp_path / "huge-field.csv"
    path.write_text("\r\n".join(lines) + "\r\n")
    with pytest.raises(
        ImportFailed, match=r"huge-field.csv: line 3: a field is longer than 10,000"
    ):
        import_transactions(engine, path)
    assert set(counts(engine).values()) == {0}


def test_an_endless_line_is_refused_without_reading_it_whole(engine, tmp_path):
    path = tmp_path / "endless.csv"
    path.write_text("\r\n".join(_good_csv_lines()) + "\r\n" + "9" * 300_000)
    with pytest.raises(ImportFailed, match=r"endless.csv: line 3 is longer than 100,000"):
        import_transactions(engine, path)
    assert set(counts(engine).values()) == {0}
    with pytest.raises(ImportFailed, match=r"line 2 is longer than 100,000"):
        ratings = tmp_path / "ratings.csv"
        ratings.write_text("user_id,item_id,rating\n" + "1," * 60_000 + "\n")
        import_ratings(engine, ratings)


def test_a_workbook_cell_over_the_limit_is_refused_naming_sheet_and_row(engine, tmp_path):
    wb = openpyxl.Workbook()
    sheet = wb.active
    sheet.title = "Sales"
    sheet.append(OR2_HEADER)
    sheet.append([536365, "85123A", "WHITE HEART", 6, D(2010, 12, 1, 8, 26), 2.55, 17850.0, "UK"])
    sheet.append([536366, "K100", "B" * 20_000, 1, D(2010, 12, 1, 8, 28), 25.0, 17850.0, "UK"])
    path = tmp_path / "huge-cell.xlsx"
    wb.save(path)
    with pytest.raises(ImportFailed, match=r"sheet 'Sales', row 3: a cell is longer than 10,000"):
        import_transactions(engine, path)
    assert set(counts(engine).values()) == {0}


def test_a_workbook_whose_text_unpacks_too_large_is_refused_before_reading(
    engine, tmp_path, monkeypatch
):
    import zipfile

    from shop.importers import files

    path = write_xlsx(tmp_path / "bomb.xlsx")
    # Excel keeps a workbook's text in one shared-strings part, which openpyxl reads whole.
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", "<sst>" + "<si><t>x</t></si>" * 100 + "</sst>")
    monkeypatch.setattr(files, "MAX_SHARED_STRINGS_BYTES", 1000)
    with pytest.raises(ImportFailed, match=r"bomb.xlsx: its text cells unpack to .* over the"):
        import_transactions(engine, path)
    assert set(counts(engine).values()) == {0}


def test_weekly_sales_files_are_recognised_as_weekly(engine, tmp_path):
    path = tmp_path / "weekly.csv"
    rows = ["InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"]
    monday = dt.date(2025, 1, 6)
    for w in range(12):
        day = monday + dt.timedelta(weeks=w)
        rows.append(f"{536400 + w},84029E,RED WOOLLY HOTTIE,{3 + w % 4},{day} 09:00,3.39,17850,UK")
        rows.append(f"{536500 + w},22752,SET 7 BABUSHKA NESTING BOXES,2,{day} 10:00,7.65,13047,UK")
    path.write_text("\n".join(rows) + "\n")
    report = import_transactions(engine, path)
    assert any("looks like weekly data" in n for n in report.notes)
    from analytics.forecasting.demand import frequency_of

    assert frequency_of(engine) == "W"
    daily = import_transactions(engine, write_online_retail(tmp_path / "online_retail.csv"))
    assert not any("weekly" in n for n in daily.notes)


def test_ratings_half_star_scale_is_mapped_onto_one_to_five(engine, tmp_path):
    # MovieLens latest: 0.5–5 in half stars. 0.5 is a rating, not an error; 0.25 and 0 are.
    path = tmp_path / "ratings.csv"
    path.write_text(
        "userId,movieId,rating,timestamp\n"
        "1,10,0.5,881250949\n1,20,5,881250949\n1,30,3.5,881250949\n"
        "2,10,0.25,881250949\n2,20,0,881250949\n"
    )
    report = import_ratings(engine, path)
    assert report.rows_kept == 3 and report.dropped["rating_out_of_range"] == 2
    assert any("half-star" in note for note in report.notes)
    got = rating_map(engine)
    assert got[("1", "10")] == 1.0 and got[("1", "20")] == 5.0
    assert got[("1", "30")] == pytest.approx(1 + 3 * 4 / 4.5)


def test_ratings_without_half_stars_are_kept_as_they_are(engine, tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("userId,movieId,rating\n1,10,1.5\n1,20,3.5\n")
    report = import_ratings(engine, path)
    assert not report.notes
    assert rating_map(engine) == {("1", "10"): 1.5, ("1", "20"): 3.5}
