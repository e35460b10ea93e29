"""Footprint: how long training takes (the Rasa model from scratch, and the analytics on
the default demo shop) and how much memory each server takes, idle and under load, in the default
and the scaled configuration.

- ``rasa train`` from scratch: config, domain and data of this checkout, into a temp folder, with
  an empty Rasa cache (``RASA_CACHE_DIRECTORY``), so nothing is reused; measured with GNU time
  (wall, CPU, peak RSS). Takes ~5 minutes on 2 quiet cores: ``--skip-rasa-train`` leaves it out
  (the benchmarks themselves use the cached model).
- ``shopbot setup-demo`` and ``shopbot train`` at the default demo size (2,000 customers, 730
  days), the same way.
- Memory of the Rasa server and the action server (each process tree with its Sanic workers;
  RSS and PSS summed) after start-up and warm-up, then the peak during 20 s of 10 conversations
  in a closed loop (the load benchmark's mix).

    python -m bench.footprint_bench
    python -m bench.footprint_bench --skip-rasa-train --configs default
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

from bench.loadkit.conversations import Mix, ShopData
from bench.loadkit.driver import run_phase, warm_up
from bench.loadkit.procs import MemorySampler
from bench.loadkit.report import command_line, machine, table
from bench.loadkit.world import (
    CONFIGS,
    SHOPBOT,
    Stack,
    World,
    load_average,
    log,
    stop_on_sigterm,
)
from bench.pipeline_bench import measure
from bot.server.rasa_model import ROOT, rasa_env, train_command


def rasa_train_from_scratch() -> dict:
    """Wall/CPU seconds and peak RSS of ``rasa train`` with an empty cache, in a temp folder."""
    with tempfile.TemporaryDirectory(prefix="shopbot-rasa-train-") as tmp:
        env = dict(rasa_env(), RASA_CACHE_DIRECTORY=str(Path(tmp) / "cache"))
        cmd = train_command(ROOT, Path(tmp) / "models", "footprint")
        log("rasa train from scratch (a few minutes)")
        old = os.getcwd()
        os.chdir(ROOT)
        try:
            return measure(cmd, env)
        finally:
            os.chdir(old)


def server_memory(world: World, data: ShopData, config_name: str, seconds: float) -> list[list]:
    """Rows: each server's processes, idle and peak memory under 10 conversations."""
    config = CONFIGS[config_name]
    rows = []
    with Stack(world, config) as stack:
        mix = Mix(data, world.token_for, False, seed=3)
        asyncio.run(warm_up(stack.rasa_url, mix, False, rounds=1))
        idle = MemorySampler(stack.pids)
        idle.sample()
        with MemorySampler(stack.pids) as loaded:
            asyncio.run(run_phase(stack.rasa_url, mix, concurrency=10, duration=seconds, seed=3))
        for name in ("rasa", "actions"):
            i, p = idle.peaks[name], loaded.peaks[name]
            rows.append(
                [
                    f"`{config.name}` ({config.describe()})",
                    "Rasa server" if name == "rasa" else "action server",
                    p.processes,
                    f"{i.rss_mb:.0f}",
                    f"{i.pss_mb:.0f}",
                    f"{p.rss_mb:.0f}",
                    f"{p.pss_mb:.0f}",
                ]
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--skip-rasa-train", action="store_true", help="do not train Rasa from scratch")
    p.add_argument("--configs", default="default,scaled", help=f"of: {', '.join(CONFIGS)}")
    p.add_argument("--customers", type=int, default=2000, help="demo shop size (default 2000)")
    p.add_argument("--days", type=int, default=730)
    p.add_argument("--load-seconds", type=float, default=20)
    p.add_argument("--keep", action="store_true")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    stop_on_sigterm()
    out = [
        "## Footprint: training time and memory",
        f"Command: `{command_line()}`",
        f"Machine: {machine()}; load average {load_average():.1f} at the start.",
    ]
    train_rows = []
    if not args.skip_rasa_train:
        load = load_average()
        r = rasa_train_from_scratch()
        train_rows.append(
            [
                "`rasa train` from scratch (empty cache; config.yml, domain, data/)",
                r["wall_s"],
                r["cpu_s"],
                r["peak_rss_mb"],
                f"{load:.1f} → {load_average():.1f}",
            ]
        )
    with World(args.customers, args.days, keep=args.keep) as world:
        size = ["--customers", str(args.customers), "--days", str(args.days), "--json"]
        world.env["DATABASE_URL"] = world.db_url  # what build() sets; timed here instead
        env = world.env
        for label, cmd in (
            (
                f"`shopbot setup-demo` ({args.customers} customers, {args.days} days, SQLite)",
                [SHOPBOT, "setup-demo", *size],
            ),
            (
                "`shopbot train` (segments, forecasts, reorder advice, recommender)",
                [SHOPBOT, "train", "--json"],
            ),
        ):
            log(label)
            load = load_average()
            r = measure(cmd, env)
            train_rows.append(
                [
                    label,
                    r["wall_s"],
                    r["cpu_s"],
                    r["peak_rss_mb"],
                    f"{load:.1f} → {load_average():.1f}",
                ]
            )
        out.append(
            table(
                ["step", "wall s", "CPU s", "peak RSS MiB", "load avg before → after"],
                train_rows,
            )
        )
        data = ShopData(world.db_url)
        mem_rows = []
        for name in args.configs.split(","):
            log(f"server memory, config {name}")
            mem_rows += server_memory(world, data, name, args.load_seconds)
        out.append(
            f"Server memory on that shop ({world.describe()}): after start-up and one warm-up "
            f"round (idle), and the peak during {args.load_seconds:g} s of 10 conversations "
            "in a closed loop. RSS summed over a process tree counts pages shared by forked "
            "workers once per process; PSS shares them out, so PSS is what the tree costs."
        )
        out.append(
            table(
                [
                    "configuration",
                    "server",
                    "processes",
                    "idle RSS MiB",
                    "idle PSS MiB",
                    "peak RSS MiB",
                    "peak PSS MiB",
                ],
                mem_rows,
            )
        )
    out.append(f"Load average at the end: {load_average():.1f}.")
    print("\n\n".join(out), flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted; servers stopped")
        sys.exit(130)
