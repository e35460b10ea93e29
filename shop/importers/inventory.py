"""Import of stock levels: ``sku, on_hand[, on_order, lead_time_days, safety_stock]`` (CSV or XLSX).

A shop that imported its sales history (``shopbot import transactions``) has products but no idea
of its stock: those products start with nothing on hand. This file tells shopbot the stock.

Accepted files: CSV (any of ``, ; TAB |``, encoding detected) or XLSX (every sheet with the
columns), with a header naming (case, blanks and punctuation ignored):

- ``sku`` — also ``StockCode``, ``item_id``, ``product``, ``product_id``, ``product code``,
  ``code``;
- ``on_hand`` — also ``stock``, ``quantity``, ``qty``, ``in stock``, ``stock level``, ``available``;
- optional ``on_order`` (``ordered``, ``incoming``), ``lead_time_days`` (``lead time``,
  ``lead days``), ``safety_stock`` (``safety``). An empty optional cell keeps the stored value (or
  the default of a new row: nothing on order, 14 days lead time, no safety stock).

Rows are dropped (``report.INVENTORY_REASONS``, each counted once under the first reason that
applies) for: a wrong number of fields (``malformed_row``); a missing or malformed SKU
(``bad_sku``); an on-hand figure that is missing, or any figure that is not a whole number, over
100,000,000 units or (lead time) over 365 days (``bad_number``); a negative figure
(``negative_number``); a SKU no product has (``unknown_sku``: stock is only recorded for products
the shop has — this never invents products); and the same SKU again later in the file
(``duplicate_sku``: the last usable row wins, the earlier ones are counted).

SKUs are matched case-insensitively after trimming ("85123a" and "85123A " are 85123A;
"85123.0", a number that went through a spreadsheet, is 85123). Each product in the file gets its
inventory row updated, or created when it has none; products not in the file keep their stock
(the report says how many). The reorder advice computes its own safety stock and reorder point
from the forecasts; the file's ``safety_stock`` is stored as the shop's own figure.

A stock file is a snapshot, so it lands completely or not at all: in one transaction, and a file
whose last line is cut off (no line end and the wrong number of fields, or a cut character: an
export that was still being written) is refused as a whole. Importing the same file again changes
nothing (``import_batches``); another file with the same figures reports them as unchanged.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection, Engine

from shop.errors import ImportFailed
from shop.importers import batches, cleaning, files
from shop.importers.files import FileInfo
from shop.importers.report import ImportReport, Progress
from shop.store.models import Inventory, Product, utcnow

KIND = "inventory"

ALIASES: dict[str, tuple[str, ...]] = {
    "sku": (
        "sku", "stockcode", "itemid", "item", "product", "productid", "productcode", "code",
        "articlenumber", "article",
    ),
    "on_hand": (
        "onhand", "stock", "quantity", "qty", "instock", "stocklevel", "stockonhand",
        "quantityonhand", "qtyonhand", "available", "units",
    ),
    "on_order": ("onorder", "ordered", "incoming", "quantityonorder", "qtyonorder"),
    "lead_time_days": ("leadtimedays", "leadtime", "leaddays", "leadtimeindays"),
    "safety_stock": ("safetystock", "safety", "safetystockunits"),
}  # fmt: skip
REQUIRED = ("sku", "on_hand")
OPTIONAL = ("on_order", "lead_time_days", "safety_stock")
FIGURES = ("on_hand", *OPTIONAL)

# Above these a figure is a typing or export error; they also keep values inside the INTEGER
# columns of every database.
MAX_UNITS = 100_000_000
MAX_LEAD_TIME_DAYS = 365


def import_inventory(
    engine: Engine, path: str | Path, *, progress: Progress | None = None
) -> ImportReport:
    """The report of importing a stock file; all its clean rows land in one transaction.

    Raises ImportFailed (and writes nothing) when the file cannot be imported at all: missing,
    empty or cut off, no header or another layout, an unreadable workbook, or no usable row.
    """
    return batches.run_import(
        engine,
        path,
        KIND,
        progress=progress,
        check=_check_encoding,
        clean=lambda info, report, progress: _clean(
            files.read_table(info, report, progress, LAYOUT), report
        ),
        write=_write,
        clash="changed the same stock rows",
    )


# ---- reading ------------------------------------------------------------------------------------


def _check_encoding(info: FileInfo) -> None:
    if info.errors != "strict":
        raise _cut_off(info, "it ends in the middle of a character")


def _cut_off(info: FileInfo, why: str) -> ImportFailed:
    return ImportFailed(
        f"{info.path.name}: the file looks cut off ({why}), as if it was copied while still "
        "being written; nothing was imported — export the stock list again and import that"
    )


def _layout_error(
    info: FileInfo, header: list[Any], positions: dict[str, int], where: str = ""
) -> ImportFailed:
    names = {"sku": "sku (or StockCode, item_id, product)", "on_hand": "on_hand (or stock, qty)"}
    missing = [names[c] for c in REQUIRED if c not in positions]
    found = ", ".join(str(h).strip() for h in header if h is not None and str(h).strip())
    looks_like_data = sum(bool(re.search(r"\d", str(h))) for h in header) >= max(
        1, len(header) // 2
    )
    hint = (
        " The first line looks like data: the file needs a header line."
        if looks_like_data and not positions
        else ""
    )
    return ImportFailed(
        f"{info.path.name}{where}: not a stock file — missing required column(s): "
        f"{', '.join(missing)}; found: {found or 'nothing'}; nothing was imported.{hint} "
        "Expected a header like "
        "sku,on_hand,on_order,lead_time_days,safety_stock (the last three are optional)."
    )


LAYOUT = files.Layout(
    aliases=ALIASES,
    required=REQUIRED,
    layout_error=_layout_error,
    skipped_because="it has no sku and on_hand columns",
    cut_off=_cut_off,
)


# ---- cleaning -----------------------------------------------------------------------------------


def _figure(raw: pd.Series, limit: int, required: bool) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(value or NaN when not given, bad mask, negative mask) of a column of figures."""
    text = cleaning.strip(raw)
    given = text != ""
    value = cleaning.per_unique(raw, cleaning.to_number).astype("float64")
    with np.errstate(invalid="ignore"):
        bad = given & (value.isna() | ((value % 1) != 0) | (value > limit))
    if required:
        bad |= ~given
    negative = ~bad & given & (value < 0)
    return value.where(given), bad, negative


def _clean_chunk(raw: pd.DataFrame, offset: int, report: ImportReport) -> pd.DataFrame:
    """Typed rows of a raw chunk that pass the row-level rules (drops counted in ``report``)."""
    sku = cleaning.Distinct(raw["sku"]).derive(lambda s: cleaning.normalise_ids(s).str.upper())
    values, bad, negative = {}, np.zeros(len(raw), bool), np.zeros(len(raw), bool)
    for name in FIGURES:
        limit = MAX_LEAD_TIME_DAYS if name == "lead_time_days" else MAX_UNITS
        value, is_bad, is_negative = _figure(raw[name], limit, required=name == "on_hand")
        values[name] = value.to_numpy()
        bad |= is_bad.to_numpy()
        negative |= is_negative.to_numpy()
    rules = [
        ("bad_sku", sku.map(lambda s: ~cleaning.valid_ids(s, 32))),
        ("bad_number", pd.Series(bad, index=raw.index)),
        ("negative_number", pd.Series(negative, index=raw.index)),
    ]
    frame = pd.DataFrame(
        {"row": np.arange(offset, offset + len(raw)), "sku": sku.values().to_numpy(), **values},
        index=raw.index,
    )
    return cleaning.apply_rules(frame, rules, report).reset_index(drop=True)


def _clean(chunks, report: ImportReport) -> pd.DataFrame:
    """Every usable row of the file in file order (SKUs not yet checked against products)."""
    rows = cleaning.clean_chunks(chunks, report, _clean_chunk)
    if rows.empty:
        raise report.nothing_usable()
    return rows


# ---- writing ------------------------------------------------------------------------------------


def _product_ids(conn: Connection) -> dict[str, int]:
    """Upper-cased SKU → product id for the whole catalogue (the first product on a clash)."""
    out: dict[str, int] = {}
    for pid, sku in conn.execute(select(Product.id, Product.sku).order_by(Product.id)):
        out.setdefault(str(sku).strip().upper(), int(pid))
    return out


def _stored(conn: Connection, product_ids: list[int]) -> pd.DataFrame:
    inv = Inventory.__table__
    cols = [inv.c.product_id, *(inv.c[name] for name in FIGURES)]
    rows = []
    for part in batches.chunks(product_ids, batches.IN_CHUNK):
        rows += conn.execute(select(*cols).where(inv.c.product_id.in_(part))).all()
    frame = pd.DataFrame(rows, columns=["product_id", *FIGURES])
    return frame.astype("int64").set_index("product_id")


def _write(
    conn: Connection,
    info: FileInfo,
    rows: pd.DataFrame,
    report: ImportReport,
    progress: Progress,
    started: float,
) -> None:
    """Update (or create) the inventory rows of the file's known products; record the batch."""
    now = utcnow()
    batch_id = batches.start_batch(conn, KIND, info, now)
    catalogue = _product_ids(conn)
    skus = rows["sku"]
    product_id = skus.map(catalogue)
    unknown = product_id.isna()
    report.drop("unknown_sku", int(unknown.sum()))
    rows = rows[~unknown].assign(product_id=product_id[~unknown].astype("int64"))
    # The last usable row of a SKU wins; SKUs differing only in case are the same product.
    last = ~rows.duplicated(subset="product_id", keep="last")
    report.drop("duplicate_sku", int((~last).sum()))
    rows = rows[last].set_index("product_id").sort_index()
    if rows.empty and unknown.any():
        example = ", ".join(skus[unknown].drop_duplicates().head(3))
        raise ImportFailed(
            f"{info.path.name}: none of the file's SKUs (e.g. {example}) is a product of the "
            f"shop ({len(catalogue):,} products); nothing was imported — import the sales "
            "first (`shopbot import transactions FILE`), or check the SKU column"
        )
    if rows.empty:
        raise report.nothing_usable()
    report.rows_kept = len(rows)

    stored = _stored(conn, rows.index.tolist())
    new_ids = rows.index.difference(stored.index)
    defaults = {name: batches.NEW_INVENTORY[name] for name in FIGURES}
    base = pd.concat([stored, pd.DataFrame(defaults, index=new_ids)]).reindex(rows.index)
    wanted = rows[list(FIGURES)].fillna(base).astype("int64")  # an empty cell keeps the value

    inv = Inventory.__table__
    created = [
        {"product_id": int(pid), **{k: int(v) for k, v in wanted.loc[pid].items()},
         "reorder_point": 0, "updated_at": now}
        for pid in new_ids
    ]  # fmt: skip
    report.created["inventory"] = batches.bulk_insert(conn, inv, created, progress, "write stock")
    old = wanted.loc[wanted.index.isin(stored.index)]
    changed = (old != stored.loc[old.index, list(FIGURES)]).any(axis=1)
    updates = [
        {"pid": int(pid), **{f"new_{k}": int(v) for k, v in old.loc[pid].items()}}
        for pid in old.index[changed]
    ]
    if updates:
        stmt = (
            inv.update()
            .where(inv.c.product_id == bindparam("pid"))
            .values(updated_at=now, **{k: bindparam(f"new_{k}") for k in FIGURES})
        )
        for part in batches.chunks(updates, batches.INSERT_CHUNK_ROWS):
            conn.execute(stmt, list(part))
    report.updated = {"inventory": len(updates)}
    report.unchanged = {"inventory": int((~changed).sum())}
    report.notes += _notes(conn, set(rows.index), len(catalogue))
    report.imported_at = now.isoformat(sep=" ", timespec="seconds")
    report.seconds = time.perf_counter() - started
    batches.finish_batch(conn, batch_id, report)


def _notes(conn: Connection, in_file: set[int], products: int) -> list[str]:
    """What the stock of the whole catalogue looks like now, in words."""
    inv = Inventory.__table__
    on_hand = dict(
        conn.execute(
            select(Product.id, inv.c.on_hand)
            .select_from(Product)
            .outerjoin(inv, inv.c.product_id == Product.id)
        ).all()
    )
    missing = [pid for pid in on_hand if pid not in in_file]
    in_stock = sum(1 for v in on_hand.values() if v and v > 0)
    notes = [f"{in_stock:,} of the catalogue's {products:,} products now have stock on hand"]
    if missing:
        empty = sum(1 for pid in missing if not on_hand[pid])
        notes.append(
            f"{len(missing):,} product(s) are not in this file and keep their stock as it was "
            f"({empty:,} of them with nothing on hand)"
        )
    return notes
