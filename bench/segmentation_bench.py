"""Times customer segmentation (feature building + fit) on synthetic shops of growing size.

Usage: ``.venv/bin/python -m bench.segmentation_bench [--sizes 10000 30000 100000] [--days 365]
[--json]``. The target is 100,000 customers in under 10 s on 2 cores. The synthetic customers
follow the demo shop's five planted groups (plus churned and new customers), so the run also
prints how well the planted groups were recovered (adjusted Rand index).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import pandas as pd

from analytics.segmentation import (
    Segmenter,
    planted_agreement,
    rfm_features,
)
from shop.demo import PLANTED_FAVOURITES, PLANTED_GROUPS
from shop.store.models import CATEGORIES

# group -> (orders per month, spend per month); design.md "Demo shop".
GROUPS = {group: (rate, spend) for group, (_fav, rate, spend) in PLANTED_GROUPS.items()}
END = pd.Timestamp("2025-12-31 18:00")


def synthetic_shop(
    n_customers: int, days: int = 365, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(purchases, customers) frames shaped like analytics.data's, one order line per order."""
    rng = np.random.default_rng(seed)
    names = [*GROUPS, "churned", "new"]
    group = rng.choice(names, size=n_customers, p=[0.18] * 5 + [0.05, 0.05])
    planted = np.where(np.isin(group, list(GROUPS)), group, rng.choice(list(GROUPS), n_customers))
    rate = np.array([GROUPS[g][0] for g in planted]) * rng.lognormal(0, 0.25, n_customers)
    spend = np.array([GROUPS[g][1] for g in planted]) * rng.lognormal(0, 0.25, n_customers)
    fav = np.array([CATEGORIES.index(PLANTED_FAVOURITES[g]) for g in planted])
    start = np.zeros(n_customers)
    end = np.full(n_customers, float(days))
    is_new = group == "new"
    start[is_new] = days - rng.uniform(10, 50, is_new.sum())
    churned = group == "churned"
    end[churned] = days - rng.uniform(120, min(300, days - 30), churned.sum())
    months = (end - start) / (365.25 / 12)
    n_orders = np.maximum(1, rng.poisson(rate * months))

    cust = np.repeat(np.arange(1, n_customers + 1), n_orders)
    idx = np.repeat(np.arange(n_customers), n_orders)
    t = start[idx] + rng.uniform(0, 1, len(idx)) * (end - start)[idx]
    cat = np.where(rng.uniform(size=len(idx)) < 0.75, fav[idx], rng.integers(0, 5, len(idx)))
    amount = (spend / rate)[idx] * rng.lognormal(0, 0.3, len(idx))
    purchases = pd.DataFrame(
        {
            "order_id": np.arange(1, len(idx) + 1),
            "customer_id": cust,
            "category": np.array(CATEGORIES, dtype=object)[cat],
            "amount": amount.round(2),
            "placed_at": END - pd.to_timedelta(days - t, unit="D"),
        }
    ).sort_values("placed_at", kind="stable", ignore_index=True)
    customers = pd.DataFrame({"customer_id": np.arange(1, n_customers + 1), "demo_group": group})
    return purchases, customers


def bench(sizes: list[int], days: int) -> list[dict]:
    """One row per size: lines, seconds for features and fit, k, silhouette, ARI."""
    rows = []
    for n in sizes:
        purchases, customers = synthetic_shop(n, days=days)
        t0 = time.perf_counter()
        features = rfm_features(purchases, customers, purchases["placed_at"].max())
        t1 = time.perf_counter()
        model = Segmenter(random_state=0).fit(features)
        t2 = time.perf_counter()
        groups = customers.set_index("customer_id")["demo_group"].reindex(features.index)
        agreement = planted_agreement(
            pd.Series(model.labels_, index=features.index), groups, PLANTED_FAVOURITES
        )
        rows.append(
            {
                "customers": n,
                "order_lines": len(purchases),
                "features_s": round(t1 - t0, 2),
                "fit_s": round(t2 - t1, 2),
                "total_s": round(t2 - t0, 2),
                "k": model.k_,
                "silhouette": round(model.silhouette_, 3),
                "ari_planted": agreement["ari"],
                # Peak of the whole process so far (data generation included).
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            }
        )
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    parser.add_argument("--days", type=int, default=365, help="length of the order history")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    args = parser.parse_args(argv)
    rows = bench(args.sizes, args.days)
    # Timings on a shared machine mean little without how busy it was.
    load = round(os.getloadavg()[0], 1)
    if args.json:
        out = {"cpus": os.cpu_count(), "load_avg_1min": load, "days": args.days, "results": rows}
        print(json.dumps(out, indent=2))
    else:
        print(
            f"segmentation benchmark ({os.cpu_count()} CPUs, load average {load}, "
            f"{args.days} days of orders)"
        )
        print(
            f"{'customers':>10} {'lines':>10} {'features s':>11} {'fit s':>7} {'total s':>8} "
            f"{'k':>3} {'silhouette':>10} {'ARI':>6} {'peak MB':>8}"
        )
        for r in rows:
            print(
                f"{r['customers']:>10,} {r['order_lines']:>10,} {r['features_s']:>11.2f} "
                f"{r['fit_s']:>7.2f} {r['total_s']:>8.2f} {r['k']:>3} {r['silhouette']:>10.3f} "
                f"{r['ari_planted']:>6.3f} {r['peak_rss_mb']:>8}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
