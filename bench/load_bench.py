"""Conversation latency and throughput over the REST channel: a realistic mix of customer
conversations at 1, 10 and 50 concurrent conversations, closed-loop (saturation) and human-paced,
against the real Rasa server and action server, beside the same Rasa setup with its actions
stubbed out; for the default configuration and the scaled one (Sanic workers, Redis lock store,
fast tracker store).

Everything runs on loopback in a throwaway world (temp demo shop, trained analytics, servers on
free ports, temp PostgreSQL databases and empty Redis databases) that is removed at the end, also
on failure, Ctrl-C or SIGTERM. Progress goes to stderr, the Markdown report to stdout.

    python -m bench.load_bench                       # default + scaled, ~15 min on 2 quiet cores
    python -m bench.load_bench --configs default --levels 1,10 --duration 10   # a quick look
    python -m bench.load_bench --configs default,scaled,scaled-pg,scaled-2x2 --duration 60
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from bench.loadkit.conversations import Mix, ShopData
from bench.loadkit.driver import Phase, percentile, run_phase, warm_up
from bench.loadkit.procs import MemorySampler
from bench.loadkit.report import (
    PHASE_HEADERS,
    command_line,
    error_summary,
    machine,
    ms,
    phase_row,
    ratio,
    table,
)
from bench.loadkit.world import (
    CONFIGS,
    Stack,
    StackConfig,
    World,
    load_average,
    log,
    stop_on_sigterm,
)

P99_TARGET = 1.0  # seconds, at 50 concurrent conversations, with no errors
RATIO_TARGET = 1.5  # shopbot's action turns vs the same turns with trivial actions
# Closed-loop phases are split into this many blocks, alternating shopbot's and the stub's.
BLOCKS = 2


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _think(text: str) -> tuple[float, float]:
    lo, _, hi = text.partition("-")
    return float(lo), float(hi or lo)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--configs",
        default="default,scaled",
        help=f"comma-separated, of: {', '.join(CONFIGS)} (default: default,scaled)",
    )
    p.add_argument("--levels", type=_ints, default=[1, 10, 50], help="concurrent conversations")
    p.add_argument(
        "--models", default="closed,paced", help="load models: closed and/or paced (default both)"
    )
    p.add_argument("--duration", type=float, default=30, help="seconds per closed-loop phase")
    p.add_argument(
        "--ratio-duration",
        type=float,
        default=50,
        help="seconds of the 1-conversation closed-loop phase, the basis of the shopbot/stub "
        "ratio per turn kind (default 50)",
    )
    p.add_argument(
        "--paced-duration", type=float, default=40, help="seconds per paced phase (default 40)"
    )
    p.add_argument("--think", type=_think, default=(1.0, 3.0), help="paced think time, lo-hi s")
    p.add_argument("--no-stub", action="store_true", help="skip the stubbed-actions runs")
    p.add_argument(
        "--stub-levels", type=_ints, default=None, help="levels for the stub (default: --levels)"
    )
    p.add_argument("--timeout", type=float, default=60, help="seconds before a turn is an error")
    p.add_argument("--customers", type=int, default=600)
    p.add_argument("--days", type=int, default=400)
    p.add_argument("--shop-db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--keep", action="store_true", help="keep the temp folder (logs) at the end")
    args = p.parse_args(argv)
    unknown = [c for c in args.configs.split(",") if c not in CONFIGS]
    if unknown:
        p.error(f"unknown config(s) {unknown}; choose from {', '.join(CONFIGS)}")
    args.configs = [CONFIGS[c] for c in args.configs.split(",")]
    args.models = [m for m in args.models.split(",") if m]
    if set(args.models) - {"closed", "paced"}:
        p.error("--models takes closed and/or paced")
    args.stub_levels = args.stub_levels or args.levels
    return args


class ConfigResult:
    def __init__(self, config: StackConfig):
        self.config = config
        self.stores = ""
        self.phases: dict[str, list[Phase]] = {"shopbot": [], "stub": []}
        self.memory: dict[str, dict] = {}
        self.warm_errors: dict[str, list[str]] = {}
        self.start_s: dict[str, float] = {}

    def find(self, who: str, model: str, level: int) -> Phase | None:
        for phase in self.phases[who]:
            if phase.model == model and phase.concurrency == level:
                return phase
        return None


def merge(phases: list[Phase]) -> Phase:
    """One phase made of blocks run at different times (same model and concurrency)."""
    first = phases[0]
    merged = Phase(first.model, first.concurrency, 0.0, first.think)
    for p in phases:
        merged.duration += p.duration
        merged.results += p.results
        merged.elapsed += p.elapsed
        merged.conversations += p.conversations
        merged.completed += p.completed
        merged.client_cpu_s += p.client_cpu_s
        for name, cpu in p.cpu_s.items():
            merged.cpu_s[name] = merged.cpu_s.get(name, 0.0) + cpu
    merged.load_before, merged.load_after = first.load_before, phases[-1].load_after
    return merged


def run_config(
    world: World, data: ShopData, config: StackConfig, args: argparse.Namespace
) -> ConfigResult:
    """Runs one configuration. With the stub, both servers sets run at once (the idle one costs
    no CPU) and closed-loop phases alternate between them in blocks, so a change in the
    machine's load during the run hits both sides alike."""
    result = ConfigResult(config)
    stacks = {"shopbot": Stack(world, config)}
    if not args.no_stub:
        stacks["stub"] = Stack(world, config, stub=True)
    mixes = {who: Mix(data, world.token_for, who == "stub", seed=args.seed) for who in stacks}
    try:
        for who, stack in stacks.items():
            started = time.perf_counter()
            stack.start()
            result.start_s[who] = time.perf_counter() - started
            result.stores = stack.stores.replace(str(stack.workdir), "<temp folder>")
            log(f"{stack.label}: warming up")
            result.warm_errors[who] = asyncio.run(
                warm_up(stack.rasa_url, mixes[who], who == "stub")
            )

        def measure(who: str, model: str, level: int, duration: float) -> Phase:
            stack = stacks[who]
            phase = asyncio.run(
                run_phase(
                    stack.rasa_url,
                    mixes[who],
                    concurrency=level,
                    duration=duration,
                    think=args.think if model == "paced" else None,
                    timeout=args.timeout,
                    stub=who == "stub",
                    server_pids=stack.pids,
                    seed=args.seed,
                )
            )
            lat = phase.latencies()
            log(
                f"{stack.label}: {phase.label()} × {level}: {phase.turns} turns, "
                f"{phase.throughput:.1f}/s, p50 {ms(percentile(lat, 50))} ms, "
                f"p99 {ms(percentile(lat, 99))} ms, {len(phase.errors)} errors, "
                f"load {phase.load_after:.1f}"
            )
            return phase

        pids = {f"{who}:{name}": pid for who, st in stacks.items() for name, pid in st.pids.items()}
        with MemorySampler(pids) as memory:
            if "closed" in args.models:
                for level in sorted(set(args.levels) | set(args.stub_levels)):
                    sides = [
                        w
                        for w in stacks
                        if level in (args.stub_levels if w == "stub" else args.levels)
                    ]
                    blocks: dict[str, list[Phase]] = {w: [] for w in sides}
                    seconds = args.ratio_duration if level == 1 else args.duration
                    for _ in range(BLOCKS):
                        for who in sides:
                            blocks[who].append(measure(who, "closed", level, seconds / BLOCKS))
                    for who in sides:
                        result.phases[who].append(merge(blocks[who]))
            if "paced" in args.models:
                for level in args.levels:
                    result.phases["shopbot"].append(
                        measure("shopbot", "paced", level, args.paced_duration)
                    )
        for key, peak in memory.peaks.items():
            who, name = key.split(":")
            result.memory.setdefault(who, {})[name] = peak
    finally:
        for stack in stacks.values():
            stack.stop()
    return result


def kind_table(result: ConfigResult, level: int) -> str:
    """Per turn kind at ``level`` closed-loop conversations: shopbot vs trivial actions."""
    real = result.find("shopbot", "closed", level)
    stub = result.find("stub", "closed", level)
    if real is None or stub is None:
        return ""
    kinds = sorted({r.kind for r in real.results}, key=lambda k: (not _acts(real, k), k))
    rows = []
    for kind in kinds:
        a, b = real.latencies(kind), stub.latencies(kind)
        rows.append(
            [
                kind,
                "yes" if _acts(real, kind) else "no",
                f"{len(a)} / {len(b)}",
                ms(percentile(a, 50)),
                ms(percentile(b, 50)),
                ratio(percentile(a, 50), percentile(b, 50)),
                ratio(_mean(a), _mean(b)),
            ]
        )
    for label, acts in (("**all action turns**", True), ("**all other turns**", False)):
        a, b = real.latencies(actions=acts), stub.latencies(actions=acts)
        rows.append(
            [
                label,
                "yes" if acts else "no",
                f"{len(a)} / {len(b)}",
                ms(percentile(a, 50)),
                ms(percentile(b, 50)),
                ratio(percentile(a, 50), percentile(b, 50)),
                ratio(_mean(a), _mean(b)),
            ]
        )
    return table(
        [
            "turn kind",
            "shopbot actions work",
            "turns (shopbot / stub)",
            "shopbot p50 ms",
            "stub p50 ms",
            "ratio p50",
            "ratio mean",
        ],
        rows,
    )


def _acts(phase: Phase, kind: str) -> bool:
    return any(r.actions for r in phase.results if r.kind == kind)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def action_ratio(result: ConfigResult, level: int = 1) -> float:
    """p50 of all action turns with shopbot's actions / with trivial ones (NaN if not run)."""
    real = result.find("shopbot", "closed", level)
    stub = result.find("stub", "closed", level)
    if real is None or stub is None:
        return float("nan")
    return percentile(real.latencies(actions=True), 50) / percentile(
        stub.latencies(actions=True), 50
    )


def config_section(result: ConfigResult, args: argparse.Namespace) -> str:
    cfg = result.config
    parts = [
        f"### Configuration `{cfg.name}`: {cfg.describe()}",
        f"Stores as written to the endpoints file: {result.stores}. Start-up: "
        + ", ".join(f"{w} {s:.0f} s" for w, s in result.start_s.items())
        + ".",
    ]
    rows = [phase_row(w, p) for w in ("shopbot", "stub") for p in result.phases[w]]
    parts.append(table(PHASE_HEADERS, rows))
    parts.append(
        "`*` fewer than 100 turns: p99 is close to the maximum. CPU ms/turn = CPU time of the "
        "server's process tree (with its Sanic workers) during the phase / turns; client = the "
        "load generator itself, which shares the machine's cores."
    )
    for level in (1, 10):
        kinds = kind_table(result, level)
        if kinds:
            parts.append(
                f"Per turn kind, {level} conversation{'s' if level > 1 else ''} closed loop, "
                "shopbot's actions vs the trivial action server (same Rasa setup, same messages):"
            )
            parts.append(kinds)
    mem_rows = []
    for who, peaks in result.memory.items():
        for name, peak in peaks.items():
            mem_rows.append(
                [
                    who,
                    "Rasa server" if name == "rasa" else "action server",
                    peak.processes,
                    f"{peak.rss_mb:.0f}",
                    f"{peak.pss_mb:.0f}",
                ]
            )
    parts.append(
        "Peak memory during the load (each process tree: RSS sampled every second, PSS every 10 s):"
    )
    parts.append(
        table(["run", "server", "processes", "peak RSS sum MiB", "peak PSS sum MiB"], mem_rows)
    )
    warm = {w: e for w, e in result.warm_errors.items() if e}
    if warm:
        parts.append(
            "Errors during the (unmeasured) warm-up: "
            + "; ".join(f"{w}: {', '.join(e[:3])}" for w, e in warm.items())
        )
    errors = error_summary(result.phases["shopbot"] + result.phases["stub"])
    if errors:
        parts.append(errors)
    return "\n\n".join(parts)


def targets_section(results: list[ConfigResult], args: argparse.Namespace) -> str:
    rows = []
    top = max(args.levels)
    think = f"{args.think[0]:g}–{args.think[1]:g} s"
    for res in results:
        for model in ("paced", "closed"):
            phase = res.find("shopbot", model, top)
            if phase is None:
                continue
            p99 = percentile(phase.latencies(), 99)
            met = not phase.errors and p99 < P99_TARGET
            rows.append(
                [
                    res.config.name,
                    f"{top} conversations, {phase.label()}",
                    f"{len(phase.errors)} errors, p99 {ms(p99)} ms",
                    "yes" if met else "**no**",
                ]
            )
        r = action_ratio(res)
        if r == r:  # not NaN
            rows.append(
                [
                    res.config.name,
                    "action turns vs trivial actions, 1 conversation (p50)",
                    f"{r:.2f}×",
                    "yes" if r <= RATIO_TARGET else "**no**",
                ]
            )
    return "\n\n".join(
        [
            "### Against the targets",
            f"Issue 7: at 50 concurrent conversations no errors and p99 < {P99_TARGET:g} s "
            f"(judged on the human-paced model, think time {think}; the closed loop is shown "
            f"for capacity); shopbot's action turns at most {RATIO_TARGET:g}× a trivial-action "
            "turn of the same setup.",
            table(["config", "measure", "measured", "met?"], rows),
        ]
    )


def header(args: argparse.Namespace, world: World, data: ShopData) -> str:
    weights = ", ".join(f"{k} {v}" for k, v in Mix.WEIGHTS.items())
    think = f"{args.think[0]:g}–{args.think[1]:g} s"
    return "\n\n".join(
        [
            "## Conversation load over the REST channel",
            f"Command: `{command_line()}`",
            f"Machine: {machine()}; load average {load_average():.1f} at the start.",
            f"Inputs: {world.describe()} (built in {world.timings.get('setup-demo', 0):.0f} s, "
            f"analytics trained in {world.timings.get('train', 0):.0f} s); Rasa model "
            f"`{world.model.name}`; {data.return_orders} orders with {data.return_lines} "
            "returnable lines for the return conversations.",
            "Load: a bounded async generator (aiohttp, loopback, one connection per "
            "conversation) keeps N conversations open. *closed*: each sends its next turn as soon "
            "as the reply arrives and a new conversation starts when one ends (saturation, "
            f"{args.duration:g} s per phase, {args.ratio_duration:g} s for 1 conversation; "
            f"with the stub, in {BLOCKS} blocks alternating with it). *paced*: each waits a think time uniform in {think} "
            f"before every turn ({args.paced_duration:g} s per phase) — faster than people "
            "type, so a pessimistic stand-in for N customers chatting at once. Warm-up (every "
            "conversation kind twice) is not measured. Turn timeout "
            f"{args.timeout:g} s.",
            f"Mix (shares of conversations): {weights}. Each reply is checked: a wrong or "
            "empty reply, an apology or 'didn't understand', a non-200 status or a timeout "
            "is an error, and ends that conversation.",
            "*stub* rows: the same Rasa server, model and stores, with a trivial action server "
            "(answers every call at once: no events, one text; validations accept what Rasa "
            "extracted).",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    stop_on_sigterm()
    results: list[ConfigResult] = []
    with World(args.customers, args.days, args.shop_db, keep=args.keep) as world:
        world.build()
        data = ShopData(world.db_url, seed=args.seed)
        print(header(args, world, data), flush=True)
        for config in args.configs:
            res = run_config(world, data, config, args)
            results.append(res)
            print("\n" + config_section(res, args), flush=True)
        print("\n" + targets_section(results, args), flush=True)
        print(f"\nLoad average at the end: {load_average():.1f}.", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted; servers stopped")
        sys.exit(130)
