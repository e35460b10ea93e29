"""Bulk loads: the default demo shop written to SQLite, to PostgreSQL with COPY and to PostgreSQL
with executemany (as before COPY), in one run, interleaved, each into a fresh database; and an
Online Retail workbook of 100,000 rows read by calamine and by openpyxl's read-only mode; with
``--import-lines N``, also an Online Retail-shaped transactions CSV of N lines (the UCI file has
541,909) imported by ``shopbot import transactions``'s code into each store, interleaved.

    .venv/bin/python -m bench.bulk_bench [--pg postgresql://postgres@127.0.0.1:5432/postgres]
        [--rounds 2] [--import-lines 547000] [--skip-demo]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from shop.demo import build as demo_build
from shop.demo import build_demo
from shop.importers import batches
from shop.importers.transactions import import_transactions
from shop.store import bulk, make_engine, upgrade


def _fresh_pg(admin, base_url: str):
    name = "shopbot_bulk_bench_" + uuid.uuid4().hex[:8]
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return name, make_engine(base_url.rsplit("/", 1)[0] + "/" + name)


def _drop(admin, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))


def _build(engine) -> tuple[float, int]:
    upgrade(engine)
    t0 = time.perf_counter()
    counts = build_demo(engine)
    seconds = time.perf_counter() - t0
    engine.dispose()
    return seconds, sum(v for k, v in counts.items() if k != "seconds" and isinstance(v, int))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--import-lines", type=int, default=0, help="also time a CSV import")
    parser.add_argument("--skip-demo", action="store_true", help="no demo builds, no XLSX")
    args = parser.parse_args()
    admin = create_engine(args.pg, isolation_level="AUTOCOMMIT", future=True)
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores; load average before "
          f"{os.getloadavg()[0]:.1f}; {args.rounds} rounds.\n")  # fmt: skip
    if not args.skip_demo:
        _demo_builds(admin, args)
        _xlsx()
    if args.import_lines:
        _imports(admin, args)
    print(f"\nLoad average after {os.getloadavg()[0]:.1f}.")


def _stores(admin, base_url: str):
    """(label, engine factory, cleanup) for SQLite, PostgreSQL with COPY and without."""
    real_uses_copy = bulk.uses_copy
    for label, copy in (
        ("SQLite", None),
        ("PostgreSQL, COPY", True),
        ("PostgreSQL, no COPY", False),
    ):
        if copy is None:
            with tempfile.TemporaryDirectory() as tmp:
                engine = make_engine(f"sqlite:///{Path(tmp) / 'shop.db'}")
                yield label, engine
                engine.dispose()
            continue
        patched = real_uses_copy if copy else (lambda _conn: False)
        demo_build.uses_copy = batches.uses_copy = patched
        name, engine = _fresh_pg(admin, base_url)
        try:
            yield label, engine
        finally:
            demo_build.uses_copy = batches.uses_copy = real_uses_copy
            engine.dispose()
            _drop(admin, name)


def _table(title: str, times: dict[str, list[float]]) -> None:
    best = {k: min(v) for k, v in times.items()}
    print(f"| store | {title} (best of rounds) | all rounds | vs SQLite |")
    print("|---|---|---|---|")
    for label, values in times.items():
        shown = ", ".join(f"{v:.1f}" for v in values)
        print(
            f"| {label} | {best[label]:.1f} s | {shown} s | {best[label] / best['SQLite']:.2f}× |"
        )


def _demo_builds(admin, args) -> None:
    """The default demo shop built into each store, interleaved."""
    times: dict[str, list[float]] = {}
    rows = 0
    for _ in range(args.rounds):
        for label, engine in _stores(admin, args.pg):
            seconds, rows = _build(engine)
            times.setdefault(label, []).append(seconds)
    _table("demo build", times)
    print(f"\n{rows:,} rows per build.\n")


def _imports(admin, args) -> None:
    """An Online Retail-shaped transactions CSV imported into each store, interleaved; the
    reports must agree (same rows kept and dropped)."""
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = _transactions_csv(Path(tmp) / "online_retail.csv", args.import_lines)
        reports = {}
        for _ in range(args.rounds):
            for label, engine in _stores(admin, args.pg):
                upgrade(engine)
                t0 = time.perf_counter()
                report = import_transactions(engine, path)
                times.setdefault(label, []).append(time.perf_counter() - t0)
                reports[label] = report.to_dict()
    print(f"\n{args.import_lines:,}-line transactions CSV (`shopbot import transactions`):\n")
    _table("import", times)
    timing = {"seconds", "imported_at"}
    same = len({repr(sorted((k, str(v)) for k, v in r.items() if k not in timing))
                for r in reports.values()}) == 1  # fmt: skip
    print(f"\nSame import report from every store: {'yes' if same else 'NO'}.")


def _transactions_csv(path: Path, lines: int, seed: int = 5) -> Path:
    """Online Retail's layout and proportions: ~20 lines per invoice, ~4,000 products and
    customers, 2 % cancellations, a quarter of the lines without a customer (guests)."""
    import random

    r = random.Random(seed)
    start = dt.datetime(2010, 12, 1, 8, 0)
    with path.open("w") as out:
        out.write(
            "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        )
        k = written = 0
        while written < lines:
            invoice = f"C{536000 + k}" if r.random() < 0.02 else f"{536000 + k}"
            when = (start + dt.timedelta(minutes=20 * k)).strftime("%m/%d/%Y %H:%M")
            customer = "" if r.random() < 0.25 else str(12000 + r.randrange(4300))
            for _ in range(min(lines - written, r.randint(1, 40))):
                item = r.randrange(4000)
                qty = -r.randint(1, 6) if invoice[0] == "C" else r.choice([1, 2, 3, 4, 6, 12, 24])
                out.write(f'{invoice},{84000 + item},"HANGING HEART HOLDER, NO {item}",{qty},{when},'
                          f"{0.5 + item % 97 / 10:.2f},{customer},United Kingdom\n")  # fmt: skip
                written += 1
            k += 1
    return path


def _xlsx(n: int = 100_000) -> None:
    import builtins
    import random

    import openpyxl

    from shop.importers import files

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "online_retail.xlsx"
        wb = openpyxl.Workbook(write_only=True)
        ws = wb.create_sheet("Online Retail")
        ws.append(["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                   "UnitPrice", "CustomerID", "Country"])  # fmt: skip
        r = random.Random(1)
        start = dt.datetime(2011, 1, 1)
        for i in range(n):
            ws.append([str(536000 + i // 5), f"{84000 + r.randrange(500)}",
                       f"WHITE HANGING HEART T-LIGHT HOLDER {r.randrange(500)}", r.randint(1, 12),
                       start + dt.timedelta(minutes=i), round(r.random() * 10, 2),
                       12000 + r.randrange(4000), "United Kingdom"])  # fmt: skip
        wb.save(path)
        info = files.inspect_file(path)
        real_import = builtins.__import__

        def without_calamine(name, *args, **kwargs):
            if name == "python_calamine":
                raise ImportError(name)
            return real_import(name, *args, **kwargs)

        print("| XLSX reader | rows | seconds | rows/s |")
        print("|---|---|---|---|")
        for label, importer in (
            ("calamine", real_import),
            ("openpyxl read-only", without_calamine),
        ):
            builtins.__import__ = importer
            try:
                t0 = time.perf_counter()
                count = sum(1 for _name, rows in files.xlsx_sheets(info) for _row in rows)
                seconds = time.perf_counter() - t0
            finally:
                builtins.__import__ = real_import
            print(f"| {label} | {count:,} | {seconds:.1f} | {count / seconds:,.0f} |")


if __name__ == "__main__":
    main()
