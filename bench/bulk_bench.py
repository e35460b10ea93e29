"""Bulk loads: the default demo shop written to SQLite, to PostgreSQL with COPY and to PostgreSQL
with executemany (as before COPY), in one run, interleaved, each into a fresh database; and an
Online Retail workbook of 100,000 rows read by calamine and by openpyxl's read-only mode.

    .venv/bin/python -m bench.bulk_bench [--pg postgresql://postgres@127.0.0.1:5432/postgres]
        [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from shop.demo import build as demo_build
from shop.demo import build_demo
from shop.store import make_engine, upgrade


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
    args = parser.parse_args()
    admin = create_engine(args.pg, isolation_level="AUTOCOMMIT", future=True)
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores; load average before "
          f"{os.getloadavg()[0]:.1f}; default demo shop, {args.rounds} rounds.\n")  # fmt: skip
    times: dict[str, list[float]] = {
        "SQLite": [],
        "PostgreSQL, COPY": [],
        "PostgreSQL, no COPY": [],
    }
    rows = 0
    real_uses_copy = demo_build.uses_copy
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            seconds, rows = _build(make_engine(f"sqlite:///{Path(tmp) / 'demo.db'}"))
            times["SQLite"].append(seconds)
        for label, copy in (("PostgreSQL, COPY", True), ("PostgreSQL, no COPY", False)):
            demo_build.uses_copy = real_uses_copy if copy else (lambda _conn: False)
            name, engine = _fresh_pg(admin, args.pg)
            try:
                times[label].append(_build(engine)[0])
            finally:
                demo_build.uses_copy = real_uses_copy
                _drop(admin, name)
    best = {k: min(v) for k, v in times.items()}
    print("| store | build (best of rounds) | all rounds | vs SQLite |")
    print("|---|---|---|---|")
    for label, values in times.items():
        shown = ", ".join(f"{v:.1f}" for v in values)
        print(
            f"| {label} | {best[label]:.1f} s | {shown} s | {best[label] / best['SQLite']:.2f}× |"
        )
    print(f"\n{rows:,} rows per build.\n")
    _xlsx()
    print(f"\nLoad average after {os.getloadavg()[0]:.1f}.")


def _xlsx(n: int = 100_000) -> None:
    import builtins
    import datetime as dt
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
