"""Benchmark of the whole analytics pipeline: demo build and `shopbot train` at several shop sizes
(wall time, CPU time and peak memory of each command, measured with GNU time)."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

SHOPBOT = str(Path(sys.executable).parent / "shopbot")


def measure(cmd: list[str], env: dict[str, str]) -> dict:
    """Wall seconds, CPU seconds and peak RSS (MB) of ``cmd``; its --json output parsed."""
    proc = subprocess.run(
        ["/usr/bin/time", "-v", *cmd], env=env, capture_output=True, text=True, check=True
    )
    stats = dict(re.findall(r"^\s*(.+?):\s+(.+)$", proc.stderr, re.M))
    wall = stats["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":")
    seconds = sum(float(x) * 60**i for i, x in enumerate(reversed(wall)))
    out = {
        "wall_s": round(seconds, 1),
        "cpu_s": round(
            float(stats["User time (seconds)"]) + float(stats["System time (seconds)"]), 1
        ),
        "peak_rss_mb": round(int(stats["Maximum resident set size (kbytes)"]) / 1024),
    }
    try:
        out["output"] = json.loads(proc.stdout)
    except ValueError:
        pass
    return out


def bench(sizes: list[int], days: int) -> list[dict]:
    rows = []
    for customers in sizes:
        with tempfile.TemporaryDirectory(prefix="shopbot-pipeline-") as d:
            env = dict(
                os.environ,
                DATABASE_URL=f"sqlite:///{d}/shop.db",
                SHOPBOT_MODELS_DIR=f"{d}/models",
                RASA_TELEMETRY_ENABLED="false",
            )
            demo = measure(
                [
                    SHOPBOT,
                    "setup-demo",
                    "--customers",
                    str(customers),
                    "--days",
                    str(days),
                    "--json",
                ],
                env,
            )
            train = measure([SHOPBOT, "train", "--json"], env)
            steps = train.get("output", {}).get("steps", {})
            rows.append(
                {
                    "customers": customers,
                    "orders": demo["output"]["orders"],
                    "order_items": demo["output"]["order_items"],
                    "demo": {k: v for k, v in demo.items() if k != "output"},
                    "train": {k: v for k, v in train.items() if k != "output"},
                    "steps_s": {k: v.get("seconds") for k, v in steps.items()},
                }
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000])
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    load = round(os.getloadavg()[0], 1)
    rows = bench(args.sizes, args.days)
    if args.json:
        print(
            json.dumps({"cpus": os.cpu_count(), "load_avg_1min": load, "results": rows}, indent=2)
        )
        return 0
    print(
        f"pipeline benchmark ({os.cpu_count()} CPUs, load average {load} before; "
        f"{args.days} days of orders, 300 products)"
    )
    print(
        f"{'customers':>9} {'orders':>8} {'demo s':>7} {'demo MB':>8} {'train s':>8} "
        f"{'train CPU s':>11} {'train MB':>9}  per step (s)"
    )
    for r in rows:
        print(
            f"{r['customers']:>9,} {r['orders']:>8,} {r['demo']['wall_s']:>7.1f} "
            f"{r['demo']['peak_rss_mb']:>8} {r['train']['wall_s']:>8.1f} {r['train']['cpu_s']:>11.1f} "
            f"{r['train']['peak_rss_mb']:>9}  {r['steps_s']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
