"""Per-SKU forecasting on Dask distributed: wall time and CPU per SKU on a local cluster of 1 and
2 worker processes, at several numbers of synthetic SKUs (two years of daily sales, half smooth
and weekly-seasonal, half intermittent), and the projection to 100,000 SKUs.

The work is shopbot's own (``analytics.forecasting.jobs._run_tasks``: backtests and the chosen
model per SKU) on a local Dask cluster of that many workers; CPU per SKU is the workers'
process time, summed over SKUs.

    .venv/bin/python -m bench.dask_bench [--skus 500,1000,2000] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from analytics.forecasting import cluster
from analytics.forecasting.jobs import SkuTask, _run_tasks
from analytics.forecasting.selection import ForecastConfig


def synthetic_series(n: int, days: int = 730, seed: int = 0) -> list[SkuTask]:
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    tasks = []
    for i in range(n):
        if i % 2 == 0:  # smooth, weekly season and a yearly swing
            level = rng.uniform(3, 30)
            mean = (
                level
                * (1 + 0.3 * np.sin(2 * np.pi * t / 7))
                * (1 + 0.2 * np.sin(2 * np.pi * t / 365))
            )
            y = rng.poisson(np.maximum(mean, 0.1))
        else:  # intermittent: a sale every few days
            y = rng.poisson(rng.uniform(1, 4), days) * (rng.random(days) < rng.uniform(0.05, 0.3))
        tasks.append(SkuTask(f"SYN-{i:05d}", y.astype(float)))
    return tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", default="500,1000,2000")
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
    sizes = [int(x) for x in args.skus.split(",")]
    workers_list = [int(x) for x in args.workers.split(",")]
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores; load average before "
          f"{os.getloadavg()[0]:.1f}.\n")  # fmt: skip
    print("| SKUs | workers | wall | SKUs/s | CPU per SKU | speed-up vs 1 worker |")
    print("|---|---|---|---|---|---|")
    config = ForecastConfig()
    per_sku_cpu = []
    for n in sizes:
        tasks = synthetic_series(n)
        walls = {}
        for w in workers_list:
            cluster.close_clients()
            # A local Dask cluster of w workers, even of one (shopbot itself runs one job in
            # its own process).
            executor, workers = cluster.dask_executor(cluster.LOCAL, w)
            executor.submit(cluster._warm_up).result()
            t0 = time.perf_counter()
            results = _run_tasks(tasks, config, executor, workers, None)
            wall = time.perf_counter() - t0
            assert len(results) == n, "a SKU is missing"
            cpu = sum(r.cpu_seconds for r in results.values()) / n
            per_sku_cpu.append(cpu)
            walls[w] = wall
            speed = walls[workers_list[0]] / wall
            print(f"| {n:,} | {w} | {wall:.1f} s | {n / wall:.1f} | {cpu * 1000:.0f} ms | "
                  f"{speed:.2f}× |", flush=True)  # fmt: skip
    cluster.close_clients()
    cpu = float(np.median(per_sku_cpu))
    print(f"\nProjection at {cpu * 1000:.0f} ms of CPU per SKU: 100,000 SKUs take "
          f"{100_000 * cpu / 3600:.1f} core-hours: {100_000 * cpu / 2 / 60:.0f} min on one "
          f"2-core machine, {100_000 * cpu / 8 / 60:.0f} min on 4 such machines (Dask workers "
          "with one thread each, ideal scaling).")  # fmt: skip
    print(f"Load average after {os.getloadavg()[0]:.1f}.")


if __name__ == "__main__":
    main()
