"""Recommender benchmark: fit time and ``recommend()`` latency (p50/p95/p99 over 1,000 calls) at
three data sizes of MovieLens-shaped synthetic ratings, plus any shop database given with
``--db LABEL=URL`` (e.g. the demo shop, or MovieLens latest-small imported with
``shopbot import ratings``).

No MovieLens file is shipped or downloaded: ``analytics.recommendation.synthetic.movielens_like``
generates data with the same shape (the "medium" size has MovieLens-100k's 943 users, 1,682
items and 100,000 ratings). ``--evaluate`` also runs the held-out evaluation at that size, which
shows the known gap between rating accuracy and ranking quality.

    .venv/bin/python -m bench.recommend_bench [--db LABEL=URL …] [--sizes …] [--evaluate]
        [--json FILE]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import joblib
import numpy as np

from analytics.recommendation import Recommender, evaluate_frames
from analytics.recommendation.evaluation import KNN_MAX_ITEMS
from tests.support.synthetic import movielens_like

SIZES = {
    "small": {"n_users": 300, "n_items": 200, "n_ratings": 10_000},
    "medium (ML-100k shape)": {"n_users": 943, "n_items": 1682, "n_ratings": 100_000},
    "large": {"n_users": 3000, "n_items": 3000, "n_ratings": 300_000},
    # Not in the default run (minutes): MovieLens-1M's shape, for the one-machine limit (#21).
    "1M (ML-1M shape)": {"n_users": 6040, "n_items": 3706, "n_ratings": 1_000_209},
}
DEFAULT_SIZES = ["small", "medium (ML-100k shape)", "large"]
CALLS = 1000


def latency(model: Recommender, customers: np.ndarray, seed: int = 0) -> dict:
    """p50/p95/p99/max wall-clock milliseconds of ``recommend(customer, 10)`` over CALLS random
    customers (a tenth of them asking for one category), and p50/p95/p99 of the CPU time, which
    says what the code costs when the machine is shared and wall-clock includes waiting."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(customers, size=CALLS)
    cats = sorted(model.category_codes_)
    wall, cpu = [], []
    for k, cust in enumerate(picks):
        category = cats[k % len(cats)] if k % 10 == 0 else None
        t0, c0 = time.perf_counter(), time.process_time()
        model.recommend(int(cust), 10, category=category)
        cpu.append((time.process_time() - c0) * 1000)
        wall.append((time.perf_counter() - t0) * 1000)
    w, c = np.array(wall), np.array(cpu)
    out = {f"p{q}_ms": round(float(np.percentile(w, q)), 2) for q in (50, 95, 99)}
    out["max_ms"] = round(float(w.max()), 2)
    out |= {f"cpu_p{q}_ms": round(float(np.percentile(c, q)), 2) for q in (50, 95, 99)}
    return out


def peak_rss_mb() -> int:
    """The process's peak resident memory so far (run one size alone to attribute it)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def artifact_mb(model: Recommender) -> float:
    buf = io.BytesIO()
    joblib.dump(model, buf, compress=3)
    return round(len(buf.getvalue()) / 1e6, 2)


def bench_frames(label: str, frames: dict, algorithms=("svd", "knn")) -> list[dict]:
    rows = []
    if len(frames["products"]) > KNN_MAX_ITEMS:  # products² similarities: not servable
        algorithms = tuple(a for a in algorithms if a != "knn")
    for algo in algorithms:
        t0 = time.perf_counter()
        model = Recommender(algo).fit(
            frames["purchases"], frames["ratings"], frames["products"],
            segments=frames.get("segments"),
        )  # fmt: skip
        fit_s = time.perf_counter() - t0
        row = {
            "data": label,
            "algorithm": model.algorithm_,
            "ranker": model.ranker_,
            "customers": len(model.customer_ids_),
            "products": len(model.product_ids_),
            "pairs": model.signal_summary_["pairs"],
            "fit_s": round(fit_s, 2),
            **latency(model, model.customer_ids_),
            "artifact_mb": artifact_mb(model),
            "peak_rss_mb": peak_rss_mb(),
        }
        print(json.dumps(row), file=sys.stderr, flush=True)
        rows.append(row)
    return rows


def markdown(rows: list[dict]) -> str:
    cols = ["data", "algorithm", "ranker", "customers", "products", "pairs", "fit_s", "p50_ms", "p95_ms",
            "p99_ms", "max_ms", "cpu_p50_ms", "cpu_p95_ms", "cpu_p99_ms", "artifact_mb", "peak_rss_mb"]  # fmt: skip
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--db",
        action="append",
        default=[],
        metavar="LABEL=URL",
        help="also bench the shop in this database (repeatable)",
    )
    parser.add_argument("--evaluate", action="store_true", help="held-out metrics at ML-100k size")
    parser.add_argument("--sizes", nargs="*", default=DEFAULT_SIZES, help="which sizes to run")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    args = parser.parse_args(argv)

    rows: list[dict] = []
    for name in args.sizes:
        rows += bench_frames(name, movielens_like(**SIZES[name], seed=0))
    for spec in args.db:
        from analytics.recommendation import load_frames
        from shop.store import make_engine

        label, _, url = spec.partition("=")
        rows += bench_frames(label, load_frames(make_engine(url)))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    report = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, load average {load:.1f} at the end",
        "calls": CALLS,
        "results": rows,
    }
    print(f"recommend(customer, n=10) latency over {CALLS} calls; fit = Recommender.fit")
    print(f"machine: {report['machine']}\n")
    print(markdown(rows))
    if args.evaluate:
        d = movielens_like(**SIZES["medium (ML-100k shape)"], seed=0)
        m = evaluate_frames(d["purchases"], d["ratings"], d["products"])
        report["evaluation_ml100k_shape"] = m
        print("\nheld-out evaluation, MovieLens-100k-shaped synthetic data:")
        for algo in ("svd", "knn"):
            r = m["rating"][algo]
            if r.get("rmse") is not None:
                print(f"  {algo}: RMSE {r['rmse']:.3f}  MAE {r['mae']:.3f}")
        for name, r in m["ranking"].items():
            print(f"  {name:<18} P@10 {r['precision@10']:.3f}  R@10 {r['recall@10']:.3f}  "
                  f"NDCG@10 {r['ndcg@10']:.3f}")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
