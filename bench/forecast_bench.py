"""Times the forecast run (every SKU: order selection, backtests, storage) on demo shops of 3 sizes.

Usage: ``.venv/bin/python -m bench.forecast_bench [--sizes 60 150 300] [--jobs 2] [--dir DIR]
[--json]``. The target is the default demo shop (300 products, two years of daily orders) in well
under 90 s on 2 cores. Each size is a seeded demo shop (``shop.demo.build_demo``) with the
customers scaled to the products (2,000 per 300), so demand per product, and so the work per
SKU, stays comparable and the time shows how the run grows with the number of SKUs. Shops are
built once into ``--dir`` and reused. Reported per size: wall time of ``run_forecasts`` (and of
loading the store within it), worker CPU seconds (total and per SKU by kind of series, which the
wall time hides on a busy machine), the chosen methods, aggregate backtest MASE / sMAPE /
interval coverage, and the time of the reorder run that follows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

from analytics.forecasting import run_forecasts
from analytics.inventory import run_reorder
from shop.demo import build_demo
from shop.store import make_engine, upgrade

END_DATE = dt.date(2026, 11, 25)  # fixed, so every run benchmarks the same shops
CUSTOMERS_PER_PRODUCT = 2000 / 300


def shop(directory: Path, products: int):
    """The engine of a demo shop with ``products`` products, built on first use."""
    path = directory / f"forecast-bench-{products}.db"
    engine = make_engine(f"sqlite:///{path}")
    if not path.exists() or path.stat().st_size == 0:
        upgrade(engine)
        customers = max(50, round(products * CUSTOMERS_PER_PRODUCT))
        print(f"building a demo shop: {products} products, {customers} customers", file=sys.stderr)
        build_demo(engine, seed=42, products=products, customers=customers, end_date=END_DATE)
    return engine


def bench(sizes: list[int], n_jobs: int, directory: Path) -> list[dict]:
    """One row per size (see the module docstring)."""
    rows = []
    for products in sizes:
        engine = shop(directory, products)
        t0 = time.perf_counter()
        report = run_forecasts(engine, n_jobs=n_jobs, version="bench")
        t1 = time.perf_counter()
        reorder = run_reorder(engine, version="bench")
        t2 = time.perf_counter()
        m = report.metrics
        chosen = m["chosen"]
        n = m["skus"]
        rows.append(
            {
                "products": products,
                "skus": n,
                "forecast_s": round(t1 - t0, 2),
                "load_s": m["load_seconds"],
                "wall_per_sku_s": round((t1 - t0) / n, 3),
                "worker_cpu_s": m["cpu_seconds"]["total"],
                "cpu_per_sku_s": m["cpu_seconds"]["per_sku_by_kind"],
                "methods": m["methods"],
                "kinds": m["kinds"],
                "mase_mean": chosen["mase"]["mean"],
                "mase_median": chosen["mase"]["median"],
                "smape_mean": chosen["smape"]["mean"],
                "coverage80": chosen["coverage80"],
                "coverage95": chosen["coverage95"],
                "model_beats_baseline": {
                    k: v["share"] for k, v in m["model_beats_baseline"].items()
                },
                "reorder_s": round(t2 - t1, 2),
                "reorder_now": len(reorder.to_reorder),
                "load_avg_1min_after": round(os.getloadavg()[0], 1),
            }
        )
        engine.dispose()
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[60, 150, 300])
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default: 2)")
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(os.environ.get("TMPDIR", "/tmp")) / "shopbot-forecast-bench",
        help="where the demo shops are built and kept",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    load_before = round(os.getloadavg()[0], 1)
    rows = bench(args.sizes, args.jobs, args.dir)
    if args.json:
        out = {
            "cpus": os.cpu_count(),
            "jobs": args.jobs,
            "load_avg_1min_before": load_before,
            "results": rows,
        }
        print(json.dumps(out, indent=2))
        return 0
    # Timings on a shared machine mean little without how busy it was.
    print(
        f"forecast benchmark ({os.cpu_count()} CPUs, {args.jobs} workers, load average "
        f"{load_before} before; two years of daily orders, 28-day horizon, 3×28-day backtests)"
    )
    print(
        f"{'products':>8} {'SKUs':>5} {'forecast s':>10} {'load s':>6} {'s/SKU':>6} "
        f"{'CPU s':>6} {'CPU s/SKU smooth|sparse':>24} {'MASE':>6} {'sMAPE':>6} "
        f"{'cov80':>6} {'cov95':>6} {'reorder s':>9}  methods"
    )
    for r in rows:
        cpu = r["cpu_per_sku_s"]
        per = f"{cpu.get('smooth', 0):.3f} | {cpu.get('intermittent', 0):.3f}"
        print(
            f"{r['products']:>8} {r['skus']:>5} {r['forecast_s']:>10.1f} {r['load_s']:>6.1f} "
            f"{r['wall_per_sku_s']:>6.3f} {r['worker_cpu_s']:>6.1f} {per:>24} "
            f"{r['mase_mean']:>6.3f} {r['smape_mean']:>6.1f} {r['coverage80']:>6.3f} "
            f"{r['coverage95']:>6.3f} {r['reorder_s']:>9.2f}  {r['methods']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
