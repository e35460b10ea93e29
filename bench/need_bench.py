"""Search by need: quality on the demo catalogue and cost per request.

The demo catalogue (300 products, the default demo shop's size, seed 7) is embedded as
``shopbot train`` does; each need of ``tests/unit/test_by_need.py::NEEDS`` is searched and its
best five products are checked against the kinds of product that meet it (precision@5, and
whether the best one fits). Then the cost of one request (encode the need, score the catalogue)
over 200 calls, and the cost of embedding the catalogue, at 300 and 3,000 products.

The needs and the descriptions were both written by us, so precision here is a check that the
parts fit together, not an independent measure of quality.

    .venv/bin/python -m bench.need_bench
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from analytics.recommendation.by_need import build_index, need_of
from shop.demo.build import DEFAULT_PRODUCTS
from shop.demo.catalogue import build_catalogue

# The needs and what meets them are the known answers of tests/unit/test_by_need.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from unit.test_by_need import NEEDS  # noqa: E402

CALLS = 200


def _catalogue(n: int):
    return build_catalogue(n, 365, np.datetime64("2025-01-01"), np.random.default_rng(7)).frame


def _pct(values, q):
    return float(np.percentile(values, q)) * 1000


def main() -> None:
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"load average before: {os.getloadavg()[0]:.1f}\n")  # fmt: skip
    frame = _catalogue(DEFAULT_PRODUCTS)
    t0 = time.perf_counter()
    index = build_index(frame)
    embed_300 = time.perf_counter() - t0
    names = frame.set_index("sku")["name"]
    print("| need | found | best five | fit |")
    print("|---|---|---|---|")
    hits, firsts = 0, 0
    for text, kinds in NEEDS.items():
        relevance = index.search(need_of(text) or text)
        top = sorted(relevance, key=relevance.get, reverse=True)[:5]
        fits = [any(k.lower() in names[s].lower() for k in kinds) for s in top]
        hits += sum(fits)
        firsts += bool(fits and fits[0])
        shown = ", ".join(names[s] + ("" if f else " ✗") for s, f in zip(top, fits))
        print(f"| {text} | {len(relevance)} | {shown} | {sum(fits)}/{len(top)} |")
    print(f"\nPrecision@5 {hits / (5 * len(NEEDS)):.3f}; best product fits in "
          f"{firsts}/{len(NEEDS)} needs.\n")  # fmt: skip

    big = _catalogue(3000)
    t0 = time.perf_counter()
    big_index = build_index(big)
    embed_3000 = time.perf_counter() - t0
    print("| catalogue | embed (shopbot train) | request p50 | p95 | p99 |")
    print("|---|---|---|---|---|")
    for label, idx, embed in (("300", index, embed_300), ("3,000", big_index, embed_3000)):
        times = []
        texts = list(NEEDS)
        for i in range(CALLS):
            t0 = time.perf_counter()
            idx.search(need_of(texts[i % len(texts)]) or texts[i % len(texts)])
            times.append(time.perf_counter() - t0)
        print(f"| {label} products | {embed:.1f} s | {_pct(times, 50):.1f} ms | "
              f"{_pct(times, 95):.1f} ms | {_pct(times, 99):.1f} ms |")  # fmt: skip
    print(f"\nLoad average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
