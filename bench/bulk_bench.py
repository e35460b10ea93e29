"""Bulk loads: the default demo shop written to SQLite, to PostgreSQL with COPY and to PostgreSQL
with executemany (as before COPY), in one run, interleaved, each into a fresh database.

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
    print(f"\n{rows:,} rows per build. Load average after {os.getloadavg()[0]:.1f}.")


if __name__ == "__main__":
    main()
