"""Import of sales transactions in the "Online Retail" / "Online Retail II" layouts (CSV or XLSX).

Layouts (headers are matched ignoring case, blanks and punctuation; other columns are ignored):

- Online Retail:    InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice,
                    CustomerID, Country
- Online Retail II: Invoice, StockCode, Description, Quantity, InvoiceDate, Price,
                    Customer ID, Country   (the XLSX has one sheet per year: all are read)

Description and Country may be absent. Cleaning drops rows for the reasons in
``report.TRANSACTION_REASONS``, each row counted once under the first reason that applies:

- ``cancelled``: the invoice starts with "C";
- ``bad_invoice``: the invoice is not a 6-digit number (e.g. "A563185" bad-debt adjustments);
- ``bad_stock_code``: no stock code, or longer than a SKU may be (32);
- ``non_product_code``: postage, fees, manual adjustments, samples, vouchers… (``NON_PRODUCT_CODES``
  and ``NON_PRODUCT_PATTERN``);
- ``bad_quantity`` / ``non_positive_quantity``: unreadable or fractional / zero or negative;
- ``bad_price`` / ``non_positive_price``: unreadable / zero or negative;
- ``missing_customer_id`` / ``bad_customer_id``: empty / containing blanks or over 64 characters;
- ``bad_date``: missing, unreadable, before 1990 or in the future (see ``cleaning.parse_dates``);
- ``outlier``: more than ``MAX_QUANTITY`` units or a line value above ``MAX_LINE_VALUE`` (the
  famous 80,995 and 74,215 unit lines of Online Retail are data-entry errors cancelled the same day);
- ``duplicate_row``: the same invoice, code, description, quantity, date, price, customer and
  country as an earlier kept row;
- ``malformed_row``: a CSV line with the wrong number of fields (e.g. a half-written last line);
- ``order_number_taken`` / ``order_already_imported``: the invoice number is already an order in
  the database from another source / from this same file (never duplicated).

Mapping: one order per invoice (number = invoice, customer of its first line, placed at its
earliest line, status "delivered", no email, source "import:<sha256[:12]>", total = Σ lines);
one order item per (invoice, product) with quantities summed and the price weighted by quantity;
products by upper-cased StockCode (new ones: most frequent description as name, median unit price,
category from ``categorise``; existing products are linked, never changed); customers by
``external_id`` = CustomerID ("17850.0" → "17850"; new ones get the country of their first line and
``created_at`` = their first order). Every product touched gets an inventory row if it has none.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from shop.errors import ImportFailed
from shop.importers import batches, cleaning, files
from shop.importers.files import FileInfo
from shop.importers.frequency import detect_frequency
from shop.importers.report import ImportReport, Progress
from shop.store.models import Customer, Order, OrderItem, Product, utcnow

KIND = "transactions"

MAX_QUANTITY = 10_000
MAX_LINE_VALUE = 50_000.0

# Stock codes that are not goods in the Online Retail data sets.
NON_PRODUCT_CODES = frozenset(
    {
        "POST",  # postage
        "DOT",  # dotcom postage
        "C2",  # carriage
        "C3",
        "M",  # manual adjustment
        "D",  # discount
        "S",  # samples
        "B",  # adjust bad debt
        "CRUK",  # CRUK commission
        "BANK CHARGES",
        "AMAZONFEE",
        "AMAZON FEE",
        "PADS",  # "pads to match all cushions", priced 0.001: a bookkeeping line
        "CARRIAGE",
    }
)
# Gift vouchers (gift_0001_20), adjustments (ADJUST, ADJUST2) and test lines (TEST001).
NON_PRODUCT_PATTERN = r"GIFT_\d+_\d+|ADJUST\w*|TEST\w*"

# Description keywords → category; a keyword also matches its plural (+S / +ES). When several
# match, the longest keyword wins ("OVEN GLOVE" is home, not clothing; "ELECTRIC KETTLE" is
# electronics; "CAKE STAND" is home), and on a tie the category listed first. No match: "other".
# fmt: off
CATEGORY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "clothing": (
        "T-SHIRT", "SHIRT", "TEE", "BLOUSE", "DRESS", "SKIRT", "JUMPER", "SWEATER", "CARDIGAN",
        "HOODIE", "JACKET", "COAT", "TROUSERS", "JEANS", "LEGGINGS", "SHORTS", "SOCK", "TIGHTS",
        "SCARF", "SCARVES", "GLOVE", "MITTEN", "HAT", "BEANIE", "PYJAMA", "PAJAMA", "SLIPPER",
        "SHOE", "BOOT", "SANDAL", "BELT", "SWIMSUIT", "BIKINI", "UNDERWEAR",
    ),
    "beauty": (
        "LIPSTICK", "LIP GLOSS", "LIPGLOSS", "LIP BALM", "MASCARA", "EYELINER", "EYESHADOW",
        "NAIL POLISH", "NAIL VARNISH", "PERFUME", "FRAGRANCE", "COLOGNE", "EAU DE TOILETTE",
        "LOTION", "MOISTURISER", "MOISTURIZER", "SHAMPOO", "CONDITIONER", "SOAP", "COSMETIC",
        "MAKEUP", "MAKE-UP", "SERUM", "FACE MASK", "HAIR CLIP", "HAIRCLIP", "HAIR SLIDE",
        "HAIRSLIDE", "HAIRBAND", "HAIR BAND", "HAIRBRUSH", "MANICURE", "DEODORANT", "TOOTHBRUSH",
        "BEAUTY",
    ),
    "electronics": (
        "ELECTRIC", "ELECTRONIC", "LED", "USB", "RADIO", "HEADPHONE", "EARPHONE", "SPEAKER",
        "CHARGER", "BATTERY", "BATTERIES", "CABLE", "CALCULATOR", "CAMERA", "PHONE", "SMARTPHONE",
        "LAPTOP", "TABLET", "TV", "TELEVISION", "CONSOLE", "KEYBOARD", "TORCH", "FLASHLIGHT",
        "ROUTER", "MONITOR", "PRINTER",
    ),
    "home": (
        "KETTLE", "TEAPOT", "MUG", "CUP", "SAUCER", "PLATE", "BOWL", "DISH", "JAR", "TIN", "BOX",
        "HOLDER", "CANDLE", "T-LIGHT", "CUSHION", "BLANKET", "THROW", "LAMP", "LANTERN", "CLOCK",
        "FRAME", "VASE", "MIRROR", "TOWEL", "CURTAIN", "RUG", "DOORMAT", "MAT", "SHELF", "HOOK",
        "HANGER", "BASKET", "TRAY", "CUTLERY", "SPOON", "NAPKIN", "COASTER", "DOORSTOP", "BUNTING",
        "GARLAND", "WREATH", "ORNAMENT", "DECORATION", "STAND", "CAKESTAND", "CASE", "TABLE",
        "CHAIR", "STOOL", "DUVET", "PILLOW", "POT", "PAN", "BOTTLE", "STORAGE", "DRAWER",
        "CABINET", "APRON", "OVEN GLOVE", "CHOPPING BOARD", "PEG",
    ),
    "food": (
        "CHOCOLATE", "SWEET", "CANDY", "COOKIE", "BISCUIT", "CAKE", "COFFEE", "TEA", "JAM", "HONEY",
        "SAUCE", "PASTA", "RICE", "SNACK", "CRISPS", "NUT", "SPICE", "WINE", "BEER", "JUICE",
        "CEREAL", "BREAD", "CHEESE", "OLIVE OIL", "MARMALADE", "FUDGE", "TOFFEE", "LOLLIPOP",
        "POPCORN", "MARSHMALLOW",
    ),
}
# fmt: on
_CATEGORY_PATTERNS = {
    category: re.compile(
        r"(?<![A-Z0-9])(?P<word>"
        + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        + r")(?:S|ES)?(?![A-Z0-9])"
    )
    for category, words in CATEGORY_KEYWORDS.items()
}

# Canonical column → accepted (normalised) header names; and how to name them in messages.
ALIASES: dict[str, tuple[str, ...]] = {
    "invoice": ("invoiceno", "invoice", "invoicenumber"),
    "stock_code": ("stockcode",),
    "description": ("description",),
    "quantity": ("quantity",),
    "invoice_date": ("invoicedate",),
    "unit_price": ("unitprice", "price"),
    "customer_id": ("customerid",),
    "country": ("country",),
}
REQUIRED = ("invoice", "stock_code", "quantity", "invoice_date", "unit_price", "customer_id")
DISPLAY = {
    "invoice": "InvoiceNo (or Invoice)",
    "stock_code": "StockCode",
    "description": "Description",
    "quantity": "Quantity",
    "invoice_date": "InvoiceDate",
    "unit_price": "UnitPrice (or Price)",
    "customer_id": "CustomerID (or Customer ID)",
    "country": "Country",
}
# fmt: off
_DEDUP_COLUMNS = ["invoice", "sku", "description", "quantity", "placed_at", "unit_price",
                  "customer", "country"]
# fmt: on


def categorise(description: str) -> str:
    """The category of a product from keywords in its description, or "other"."""
    text = str(description or "").upper()
    best, best_len = "other", 0
    for category, pattern in _CATEGORY_PATTERNS.items():
        length = max((len(m.group("word")) for m in pattern.finditer(text)), default=0)
        if length > best_len:
            best, best_len = category, length
    return best


def is_non_product(codes: pd.Series) -> pd.Series:
    """True where an (upper-cased) stock code is postage, a fee, an adjustment or a voucher."""
    return codes.isin(NON_PRODUCT_CODES) | codes.str.fullmatch(NON_PRODUCT_PATTERN)


def import_transactions(
    engine: Engine, path: str | Path, *, progress: Progress | None = None
) -> ImportReport:
    """The report of importing a transactions file; all its clean rows land in one transaction.

    Raises ImportFailed (and writes nothing) when the file cannot be imported at all: missing or
    empty, no header or another layout, an unreadable workbook, or no usable row.
    """

    def clean(info: FileInfo, report: ImportReport, progress: Progress) -> pd.DataFrame:
        lines = _clean(files.read_table(info, report, progress, LAYOUT), report)
        progress("clean", report.rows_read, report.rows_read)
        return lines

    return batches.run_import(
        engine,
        path,
        KIND,
        progress=progress,
        clean=clean,
        write=_write,
        clash="changed the same orders",
    )


# ---- reading ------------------------------------------------------------------------------------


def _layout_error(
    info: FileInfo, header: list[Any], positions: dict[str, int], where: str = ""
) -> ImportFailed:
    missing = [DISPLAY[c] for c in REQUIRED if c not in positions]
    found = ", ".join(str(h).strip() for h in header if str(h).strip()) or "nothing"
    looks_like_data = sum(bool(re.search(r"\d", str(h))) for h in header) >= max(
        2, len(header) // 2
    )
    hint = (
        " The first line looks like data: the file needs a header line."
        if looks_like_data and not positions
        else ""
    )
    return ImportFailed(
        f"{info.path.name}{where}: not an Online Retail transactions file — missing required "
        f"column(s): {', '.join(missing)}; found: {found}.{hint} Expected the header InvoiceNo, "
        "StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country (Online "
        "Retail) or Invoice, StockCode, Description, Quantity, InvoiceDate, Price, Customer ID, "
        "Country (Online Retail II)."
    )


LAYOUT = files.Layout(
    aliases=ALIASES,
    required=REQUIRED,
    layout_error=_layout_error,
    skipped_because="not in the Online Retail layout",
)


# ---- cleaning -----------------------------------------------------------------------------------


def _clean_chunk(raw: pd.DataFrame, offset: int, report: ImportReport) -> pd.DataFrame:
    """Typed rows of a raw chunk that pass the row-level rules (drops counted in ``report``)."""
    distinct = cleaning.Distinct
    invoice = distinct(raw["invoice"]).derive(cleaning.normalise_ids)
    sku = distinct(raw["stock_code"]).derive(lambda s: cleaning.strip(s).str.upper())
    customer = distinct(raw["customer_id"]).derive(cleaning.normalise_ids)
    quantity = distinct(raw["quantity"]).map(cleaning.to_number).astype("float64")
    price = distinct(raw["unit_price"]).map(cleaning.to_number).astype("float64")
    placed_at = distinct(raw["invoice_date"]).map(cleaning.parse_dates).astype("datetime64[ns]")
    with np.errstate(invalid="ignore"):
        fractional = (quantity % 1) != 0
    rules = [
        ("cancelled", invoice.map(lambda s: s.str.upper().str.startswith("C"))),
        ("bad_invoice", invoice.map(lambda s: ~s.str.fullmatch(r"\d{6}"))),
        ("bad_stock_code", sku.map(lambda s: (s == "") | (s.str.len() > 32))),
        ("non_product_code", sku.map(is_non_product)),
        ("bad_quantity", quantity.isna() | fractional),
        ("non_positive_quantity", quantity <= 0),
        ("bad_price", price.isna() | ~np.isfinite(price)),
        ("non_positive_price", price <= 0),
        ("missing_customer_id", customer.map(lambda s: s == "")),
        ("bad_customer_id", customer.map(lambda s: ~cleaning.valid_ids(s, 64))),
        ("bad_date", placed_at.isna()),
        ("outlier", (quantity > MAX_QUANTITY) | (quantity * price > MAX_LINE_VALUE)),
    ]
    frame = pd.DataFrame(
        {
            "row": np.arange(offset, offset + len(raw)),
            "invoice": invoice.values().to_numpy(),
            "sku": sku.values().to_numpy(),
            "description": distinct(raw["description"])
            .map(lambda s: cleaning.strip(s).str.replace(r"\s+", " ", regex=True))
            .to_numpy(),
            "quantity": quantity.to_numpy(),
            "placed_at": placed_at.to_numpy(),
            "unit_price": price.to_numpy(),
            "customer": customer.values().to_numpy(),
            "country": distinct(raw["country"])
            .map(lambda s: cleaning.strip(s).str.slice(0, 80))
            .to_numpy(),
        },
        index=raw.index,
    )
    kept = cleaning.apply_rules(frame, rules, report)
    kept = kept.assign(
        invoice=kept["invoice"].astype("int64"), quantity=kept["quantity"].astype("int64")
    )
    return kept.reset_index(drop=True)


def _clean(chunks, report: ImportReport) -> pd.DataFrame:
    """All kept rows of the file in file order (after removing exact duplicates)."""
    lines = cleaning.clean_chunks(chunks, report, _clean_chunk)
    if len(lines):
        dup = lines.duplicated(subset=_DEDUP_COLUMNS, keep="first")
        report.drop("duplicate_row", int(dup.sum()))
        lines = lines[~dup].reset_index(drop=True)
    if lines.empty:
        raise report.nothing_usable()
    return lines


# ---- writing ------------------------------------------------------------------------------------


def _write(
    conn: Connection,
    info: FileInfo,
    lines: pd.DataFrame,
    report: ImportReport,
    progress: Progress,
    started: float,
) -> None:
    """Write the clean lines (customers, products, inventory, orders, items) and the batch row."""
    now = utcnow()
    batch_id = batches.start_batch(conn, KIND, info, now)
    lines = _skip_existing_orders(conn, info, lines, report)
    report.rows_kept = len(lines)
    if len(lines):
        heads = _order_heads(lines)
        items = _items(lines)
        customer_ids = _write_customers(conn, lines, heads, report, progress)
        product_ids = _write_products(conn, lines, report, progress, now)
        report.created["inventory"] += batches.add_missing_inventory(
            conn, product_ids.values(), progress
        )
        order_ids = _write_orders(conn, info, heads, items, customer_ids, report, progress)
        _write_order_items(conn, items, order_ids, product_ids, report, progress)
    report.imported_at = now.isoformat(sep=" ", timespec="seconds")
    report.notes += _notes(report)
    if len(lines) and detect_frequency(lines["placed_at"]) == "W":
        report.notes.append(
            "every invoice falls on the same weekday: this looks like weekly data, so demand "
            "will be forecast per week (`shopbot forecast SKU --freq auto`, `shopbot train`)"
        )
    report.seconds = time.perf_counter() - started
    batches.finish_batch(conn, batch_id, report)


def _skip_existing_orders(
    conn: Connection, info: FileInfo, lines: pd.DataFrame, report: ImportReport
) -> pd.DataFrame:
    """Lines whose invoice is not yet an order; the others are counted by reason."""
    o = Order.__table__
    invoices = [int(v) for v in lines["invoice"].unique()]
    sources = batches.fetch_map(conn, o.c.order_number, o.c.source, invoices)
    report.skipped_orders = {"order_number_taken": 0, "order_already_imported": 0}
    if not sources:
        return lines
    same = {n for n, src in sources.items() if src == info.source}
    other = set(sources) - same
    for reason, numbers in (("order_already_imported", same), ("order_number_taken", other)):
        hit = lines["invoice"].isin(numbers)
        report.drop(reason, int(hit.sum()))
        report.skipped_orders[reason] = len(numbers)
    return lines[~lines["invoice"].isin(set(sources))].reset_index(drop=True)


def _order_heads(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per invoice: its customer (first line), time (earliest line) and first row."""
    return lines.groupby("invoice", sort=False).agg(
        customer=("customer", "first"), placed_at=("placed_at", "min"), first_row=("row", "min")
    )


def _write_customers(
    conn: Connection,
    lines: pd.DataFrame,
    heads: pd.DataFrame,
    report: ImportReport,
    progress: Progress,
) -> dict[str, int]:
    """External id → customer id for every order's customer, creating the missing ones."""
    c = Customer.__table__
    wanted = heads.groupby("customer", sort=False)["placed_at"].min()
    existing = batches.fetch_map(conn, c.c.external_id, c.c.id, wanted.index.tolist())
    new = wanted[~wanted.index.isin(list(existing))]
    if len(new):
        countries = lines[lines["country"] != ""].groupby("customer", sort=False)["country"].first()
        rows = [
            {
                "external_id": ext,
                "email": None,
                "name": None,
                "country": countries.get(ext) or None,
                "created_at": ts.to_pydatetime(),
            }
            for ext, ts in new.items()
        ]
        report.created["customers"] = batches.bulk_insert(
            conn, c, rows, progress, "write customers"
        )
        existing.update(batches.fetch_map(conn, c.c.external_id, c.c.id, new.index.tolist()))
    return existing


def _product_facts(lines: pd.DataFrame) -> pd.DataFrame:
    """Per SKU: name (most frequent description), median unit price and category."""
    price = lines.groupby("sku", sort=False)["unit_price"].median().round(2)
    described = lines[lines["description"] != ""]
    counts = (
        described.groupby(["sku", "description"], sort=False)
        .agg(n=("row", "size"), first=("row", "min"))
        .reset_index()
        .sort_values(["sku", "n", "first"], ascending=[True, False, True])
        .drop_duplicates("sku")
        .set_index("sku")["description"]
    )
    facts = pd.DataFrame({"price": price})
    facts["name"] = counts.reindex(facts.index)
    missing = facts["name"].isna()
    facts.loc[missing, "name"] = "Item " + facts.index[missing].astype(str)
    facts["name"] = facts["name"].astype(str).str.slice(0, 300)
    facts["category"] = facts["name"].map(categorise)
    return facts


def _write_products(
    conn: Connection, lines: pd.DataFrame, report: ImportReport, progress: Progress, now
) -> dict[str, int]:
    """SKU → product id for every SKU of the lines, creating the missing products."""
    p = Product.__table__
    skus = lines["sku"].unique().tolist()
    existing = batches.fetch_map(conn, p.c.sku, p.c.id, skus)
    new_skus = [s for s in skus if s not in existing]
    if new_skus:
        facts = _product_facts(lines[lines["sku"].isin(new_skus)])
        rows = [
            {
                "sku": sku,
                "name": name,
                "category": category,
                "brand": None,
                "price": float(price),
                "active": True,
                "description": None,
                "created_at": now,
            }
            for sku, name, category, price in zip(
                facts.index, facts["name"], facts["category"], facts["price"]
            )
        ]
        report.created["products"] = batches.bulk_insert(conn, p, rows, progress, "write products")
        existing.update(batches.fetch_map(conn, p.c.sku, p.c.id, new_skus))
    return existing


def _items(lines: pd.DataFrame) -> pd.DataFrame:
    """Order items: one per (invoice, sku), quantities summed, unit price weighted by quantity."""
    merged = (
        lines.assign(value=lines["quantity"] * lines["unit_price"])
        .groupby(["invoice", "sku"], sort=False)
        .agg(quantity=("quantity", "sum"), value=("value", "sum"))
        .reset_index()
    )
    merged["unit_price"] = (merged["value"] / merged["quantity"]).round(2)
    return merged


def _write_orders(
    conn: Connection,
    info: FileInfo,
    heads: pd.DataFrame,
    items: pd.DataFrame,
    customer_ids: dict[str, int],
    report: ImportReport,
    progress: Progress,
) -> dict[int, int]:
    """Order number → order id for the new orders (inserted here, historic and delivered)."""
    o = Order.__table__
    totals = (items["quantity"] * items["unit_price"]).groupby(items["invoice"]).sum().round(2)
    orders = pd.DataFrame(
        {
            "order_number": heads.index.astype("int64"),
            "customer_id": heads["customer"].map(customer_ids).astype("int64").to_numpy(),
            "email": None,
            "status": "delivered",
            "placed_at": heads["placed_at"].to_numpy(),
            "total": totals.reindex(heads.index).to_numpy(),
            "source": info.source,
        }
    ).sort_values("order_number")
    report.created["orders"] = batches.bulk_insert_frame(conn, o, orders, progress, "write orders")
    found = conn.execute(select(o.c.order_number, o.c.id).where(o.c.source == info.source))
    return {number: oid for number, oid in found}


def _write_order_items(
    conn: Connection,
    items: pd.DataFrame,
    order_ids: dict[int, int],
    product_ids: dict[str, int],
    report: ImportReport,
    progress: Progress,
) -> None:
    """Insert one order item per (order, product)."""
    rows = pd.DataFrame(
        {
            "order_id": items["invoice"].map(order_ids).astype("int64"),
            "product_id": items["sku"].map(product_ids).astype("int64"),
            "quantity": items["quantity"].astype("int64"),
            "unit_price": items["unit_price"].astype("float64"),
        }
    ).sort_values(["order_id", "product_id"])  # key order: local index updates
    report.created["order_items"] = batches.bulk_insert_frame(
        conn, OrderItem.__table__, rows, progress, "write order items"
    )


def _notes(report: ImportReport) -> list[str]:
    notes = []
    taken = report.skipped_orders.get("order_number_taken", 0)
    if taken:
        notes.append(
            f"{taken:,} order(s) skipped: their numbers already belong to orders from "
            "another source (demo shop or another file)"
        )
    return notes
