"""``shopbot import transactions FILE``, ``shopbot import ratings FILE``, ``shopbot import
inventory FILE``."""

from __future__ import annotations

import sys

from bot.cli.main import add_json_flag, emit


def register(sub, _evaluate_sub) -> None:
    p = sub.add_parser(
        "import",
        help="import real data (Online Retail transactions, ratings, stock levels)",
        description="Import a file into the shop's database. Bad rows are dropped and counted by "
        "reason; the rest lands in one transaction. Importing the same file again changes nothing.",
    )
    isub = p.add_subparsers(dest="import_kind", metavar="KIND")
    isub.required = True
    t = isub.add_parser(
        "transactions",
        help="Online Retail / Online Retail II sales (CSV or XLSX)",
        description="Import sales in the Online Retail layout (InvoiceNo, StockCode, Description, "
        "Quantity, InvoiceDate, UnitPrice, CustomerID, Country) or Online Retail II (Invoice, "
        "Price, Customer ID), as CSV or XLSX (all sheets).",
    )
    t.add_argument("file", metavar="FILE", help="CSV or XLSX file")
    add_json_flag(t)
    t.set_defaults(handler=_transactions)
    r = isub.add_parser(
        "ratings",
        help="ratings: user_id,item_id,rating[,timestamp] CSV or MovieLens u.data",
        description="Import explicit ratings (1–5) from a CSV with a header user_id,item_id,rating"
        "[,timestamp] or a MovieLens u.data file. Unknown users and items are created.",
    )
    r.add_argument("file", metavar="FILE", help="CSV or u.data file")
    add_json_flag(r)
    r.set_defaults(handler=_ratings)
    i = isub.add_parser(
        "inventory",
        help="stock levels: sku,on_hand[,on_order,lead_time_days,safety_stock] CSV or XLSX",
        description="Import the shop's stock levels from a CSV or XLSX file with a header sku "
        "(or StockCode, item_id, product), on_hand (or stock, quantity, qty) and optionally "
        "on_order, lead_time_days, safety_stock. Known products get their stock updated (rows "
        "created where missing); unknown SKUs are counted, never added as products; for a SKU "
        "listed twice the last row wins. Products not in the file keep their stock.",
    )
    i.add_argument("file", metavar="FILE", help="CSV or XLSX file")
    add_json_flag(i)
    i.set_defaults(handler=_inventory)


class _StderrProgress:
    """Progress on an interactive stderr: one self-updating line per stage."""

    def __init__(self) -> None:
        self.stage: str | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.stage not in (None, stage):
            sys.stderr.write("\n")
        self.stage = stage
        text = f"{stage}: {done:,}" + (f"/{total:,}" if total else "")
        sys.stderr.write(f"\r  {text}\x1b[K")
        sys.stderr.flush()

    def close(self) -> None:
        if self.stage is not None:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _run(args, importer) -> int:
    from shop.store import get_engine, upgrade

    engine = get_engine()
    upgrade(engine)
    progress = _StderrProgress() if sys.stderr.isatty() else None
    try:
        report = importer(engine, args.file, progress=progress)
    finally:
        if progress is not None:
            progress.close()
    emit(args, report.to_dict(), report.format())
    return 0


def _transactions(args) -> int:
    from shop.importers import import_transactions

    return _run(args, import_transactions)


def _ratings(args) -> int:
    from shop.importers import import_ratings

    return _run(args, import_ratings)


def _inventory(args) -> int:
    from shop.importers import import_inventory

    return _run(args, import_inventory)
