"""Runs every benchmark and writes bench/RESULTS.md: what was run, on which inputs and machine,
and the raw figures, each section with the command that reproduces it. bench/REPORT.md is the
reading of those figures against the targets.

    python -m bench                       # all of them (about 2 hours on 2 cores)
    python -m bench load long             # only some: their sections in RESULTS.md are replaced
    python -m bench load -- --configs default --levels 1,10   # options for the benchmark(s)

Progress of a benchmark (its stderr) is shown as it runs; its stdout becomes its section.
"""

from __future__ import annotations

import collections
import datetime as dt
import os
import platform
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable

# name -> (title, command, what it measures)
BENCHES = {
    "pipeline": (
        "Demo shop build and `shopbot train` at three shop sizes",
        [PY, "-m", "bench.pipeline_bench"],
        "Wall/CPU time and peak memory of `shopbot setup-demo` and `shopbot train` (segments, "
        "forecasts for every SKU, reorder advice, recommender) for 500, 1,000 and 2,000 customers "
        "(300 products, two years of orders).",
    ),
    "segmentation": (
        "Segmentation at 10k / 30k / 100k customers",
        [PY, "-m", "bench.segmentation_bench"],
        "Feature building and K-means fit (k chosen by silhouette) on synthetic shops with "
        "planted groups; ARI against the planted groups.",
    ),
    "forecast": (
        "Forecasting at 60 / 150 / 300 products",
        [PY, "-m", "bench.forecast_bench"],
        "`run_forecasts` over every SKU on both cores, backtest accuracy and method choice.",
    ),
    "recommend": (
        "Recommendation latency and fit time",
        [PY, "-m", "bench.recommend_bench", "--evaluate"],
        "`Recommender.recommend(customer, n=10)` latency over 1,000 calls with the model loaded, "
        "at several data sizes, and held-out ranking metrics on MovieLens-100k-shaped data.",
    ),
    "nlu": (
        "NLU 5-fold cross-validation",
        [str(Path(PY).parent / "shopbot"), "evaluate", "nlu"],
        "5 stratified folds of data/ (seed 42), each trained and tested with `rasa train nlu` / "
        "`rasa test nlu` on config.yml, two folds at a time; scores over all held-out examples.",
    ),
    "nlu_cost": (
        "NLU cost per message and `rasa train` time, before and after the sentence encoder",
        [PY, "-m", "bench.nlu_bench"],
        "`rasa train` of bench/nlu_baseline_config.yml (n-grams, ResponseSelector) and of "
        "config.yml (n-grams + sentence encoder, FAQ by the intent classifier), each from an "
        "empty Rasa cache, then `Agent.parse_message` p50/p95 of both models on the held-out "
        "messages in one process (~30-50 minutes on 2 cores).",
    ),
    "load": (
        "Conversation latency and throughput over the REST channel",
        [PY, "-m", "bench.load_bench"],
        "A mix of customer conversations (order status, returns, recommendations, FAQ) at 1, 10 "
        "and 50 concurrent conversations, closed-loop and human-paced, beside the same Rasa "
        "setup with trivial actions; default and scaled configurations (~15 minutes).",
    ),
    "long": (
        "Long conversations",
        [PY, "-m", "bench.long_bench"],
        "Per-turn latency at turns 1, 50, 100, 200 and 400 of one conversation and of 3 at once, "
        "with the servers' CPU per turn and the tracker's size (~10 minutes).",
    ),
    "patches": (
        "Rasa patches: what each one saves",
        [PY, "-m", "bench.patches_bench"],
        "Each of shopbot's Rasa patches (bot/rasa_patches/) on and off, in one process, on its own "
        "operation at turn 400 of a conversation made of the project's stories, with how often a "
        "turn does that operation (~3 minutes).",
    ),
    "staff": (
        "Staff questions",
        [PY, "-m", "bench.staff_bench"],
        "Stock level, demand forecast (with chart) and reorder advice over the staff console, "
        "1 and 5 staff at once (~5 minutes).",
    ),
    "footprint": (
        "Footprint: training time and memory",
        [PY, "-m", "bench.footprint_bench"],
        "`rasa train` from scratch, demo build and `shopbot train` at the default size, and the "
        "servers' memory idle and under load (~10 minutes; `-- --skip-rasa-train` saves 5).",
    ),
    "need": (
        "Search by need on the demo catalogue",
        [PY, "-m", "bench.need_bench"],
        "Precision of the best five products for eight stated needs on the demo catalogue, the "
        "cost of one request and of embedding 300 and 3,000 products.",
    ),
    "security": (
        "What the guest look-up limits add to a turn",
        [PY, "-m", "bench.security_bench", "--pg", "postgresql://postgres@127.0.0.1:5432/postgres"],
        "A guest's order look-up with the failure counts against the order query alone, in "
        "SQLite and PostgreSQL, with no failures and with 20,000 recorded; token and secret "
        "checks.",
    ),
    "bulk": (
        "Bulk loads: the demo shop into SQLite and PostgreSQL (COPY and executemany)",
        [PY, "-m", "bench.bulk_bench"],
        "The default demo shop built into SQLite, into PostgreSQL through COPY and through "
        "executemany, interleaved, two rounds.",
    ),
    "dask": (
        "Per-SKU forecasting on Dask: 1 and 2 workers",
        [PY, "-m", "bench.dask_bench"],
        "Synthetic SKUs (two years of daily sales, half intermittent) forecast on a local Dask "
        "cluster of 1 and 2 worker processes: wall time, CPU per SKU, speed-up, projection.",
    ),
}
# Benchmarks whose output is Markdown (tables) rather than plain text.
MARKDOWN = {"nlu_cost", "load", "long", "patches", "staff", "footprint"}


def machine() -> str:
    mem = ""
    try:
        kb = int(
            next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1]
        )
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    return (
        f"{platform.machine()}, {os.cpu_count()} cores{mem}, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )


_running: subprocess.Popen | None = None
_terminated = False


def _forward_sigterm(_signum, _frame) -> None:
    """SIGTERM: pass it to the running benchmark (it stops its servers), run no more."""
    global _terminated
    _terminated = True
    if _running is not None and _running.poll() is None:
        _running.send_signal(signal.SIGTERM)


def run_one(cmd: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """(exit code, stdout, last lines of stderr) of ``cmd``; its stderr is shown as it comes."""
    global _running
    proc = _running = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    tail: collections.deque[str] = collections.deque(maxlen=60)

    def relay() -> None:
        for line in proc.stderr:
            tail.append(line)
            sys.stderr.write(line)
            sys.stderr.flush()

    relay_thread = threading.Thread(target=relay, daemon=True)
    relay_thread.start()
    try:
        out = proc.stdout.read()
        code = proc.wait()
    except KeyboardInterrupt:
        # Ctrl-C reached the benchmark too (same terminal): let it stop its servers.
        code = proc.wait()
        raise
    relay_thread.join(timeout=5)
    return code, out, "".join(tail)


def demote(markdown: str) -> str:
    """The benchmark's Markdown with every heading one level down, its first heading dropped
    (the section's own title replaces it)."""
    lines = markdown.strip().splitlines()
    if lines and lines[0].startswith("#"):
        lines = lines[1:]
    return "\n".join("#" + line if line.startswith("#") else line for line in lines).strip()


def sections_of(text: str) -> dict[str, str]:
    """The ``## title`` sections of a RESULTS.md, by title."""
    found: dict[str, str] = {}
    for block in re.split(r"(?m)^(?=## )", text):
        if block.startswith("## "):
            found[block.splitlines()[0][3:].strip()] = block.rstrip() + "\n"
    return found


def main(argv: list[str]) -> int:
    bench_args: list[str] = []
    if "--" in argv:
        argv, bench_args = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    chosen = argv or list(BENCHES)
    unknown = [n for n in chosen if n not in BENCHES]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
        return 2
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", PYTHONPATH=str(ROOT))
    report = HERE / "RESULTS.md"
    sections = sections_of(report.read_text()) if report.exists() else {}
    failed = 0
    signal.signal(signal.SIGTERM, _forward_sigterm)
    for name in chosen:
        if _terminated:
            break
        title, cmd, what = BENCHES[name]
        cmd = cmd + bench_args
        print(f"==> {name}: {' '.join(cmd[1:])}", flush=True)
        load = os.getloadavg()[0]
        started = time.perf_counter()
        code, out, err = run_one(cmd, env)
        took = time.perf_counter() - started
        if code == 0:
            body = demote(out) if name in MARKDOWN else f"```\n{out.strip()}\n```"
        else:
            failed += 1
            body = (
                f"FAILED (exit {code}). Output so far:\n\n{demote(out) or '(none)'}\n\n"
                f"Last lines of stderr:\n\n```\n{err[-3000:]}\n```"
            )
        print(out, flush=True)
        shown = " ".join(
            ["python" if c == PY else Path(c).name if c.endswith("shopbot") else c for c in cmd]
        )
        # Markdown benchmarks print their own exact command line.
        command = "Run" if name in MARKDOWN and code == 0 else f"Command: `{shown}` — run"
        sections[title] = (
            f"## {title}\n\n{what}\n\n{command} "
            f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, took {took:.0f} s, load "
            f"average {load:.1f} before.\n\n{body}\n"
        )
    order = [t for t, _, _ in BENCHES.values()]
    ordered = sorted(sections, key=lambda t: order.index(t) if t in order else len(order))
    report.write_text(
        "# shopbot benchmark results\n\n"
        "Raw output of `python -m bench` (each section says when and how it was run; "
        "`python -m bench NAME…` re-runs some and replaces their sections). "
        "bench/REPORT.md reads these figures against the targets.\n\n"
        f"Machine: {machine()}.\n\n" + "\n".join(sections[t] for t in ordered)
    )
    print(f"wrote {report.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
