"""Markdown output of the conversation benchmarks."""

from __future__ import annotations

import math
import platform
import sys
from collections import Counter
from pathlib import Path

from bench.loadkit.driver import Phase, percentile


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A Markdown table (numbers right-aligned)."""

    def cell(v: object) -> str:
        return str(v).replace("|", "\\|")

    right = [
        all(isinstance(r[i], (int, float)) or _numeric(str(r[i])) for r in rows) if rows else False
        for i in range(len(headers))
    ]
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---:" if r else "---" for r in right) + "|",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _numeric(text: str) -> bool:
    t = text.replace(",", "").replace("×", "").replace("%", "").replace("→", "").replace("*", "")
    t = t.strip()
    try:
        float(t.split()[0] if t else "x")
        return True
    except ValueError:
        return t in {"–", "n/a"}


def ms(seconds: float) -> str:
    """Milliseconds, 3 significant-ish digits; "–" for no value."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "–"
    value = seconds * 1000
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def ratio(a: float, b: float) -> str:
    if not b or math.isnan(a) or math.isnan(b):
        return "–"
    return f"{a / b:.2f}×"


def phase_row(actions: str, phase: Phase) -> list[object]:
    """One row of the main table: who answered, the load model, latency, throughput, errors."""
    lat = phase.latencies()
    turns = max(phase.turns, 1)
    cpu = {n: f"{1000 * s / turns:.0f}" for n, s in phase.cpu_s.items()}
    return [
        actions,
        phase.label(),
        phase.concurrency,
        phase.turns,
        f"{phase.throughput:.1f}",
        ms(percentile(lat, 50)),
        ms(percentile(lat, 95)),
        ms(percentile(lat, 99)) + ("*" if len(lat) < 100 else ""),
        ms(max(lat) if lat else float("nan")),
        f"{len(phase.errors)} ({100 * len(phase.errors) / turns:.1f}%)",
        cpu.get("rasa", "–"),
        cpu.get("actions", "–"),
        f"{1000 * phase.client_cpu_s / turns:.0f}",
        f"{phase.load_before:.1f} → {phase.load_after:.1f}",
    ]


PHASE_HEADERS = [
    "actions",
    "load model",
    "conversations",
    "turns",
    "turns/s",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "max ms",
    "errors",
    "Rasa CPU ms/turn",
    "action CPU ms/turn",
    "client CPU ms/turn",
    "load avg before → after",
]


def error_summary(phases: list[Phase], limit: int = 8) -> str:
    """The most frequent error messages over ``phases``, one line each."""
    counts = Counter(r.error for p in phases for r in p.errors)
    if not counts:
        return ""
    lines = [f"- {n} × {err}" for err, n in counts.most_common(limit)]
    return "Errors seen:\n\n" + "\n".join(lines)


def machine() -> str:
    try:
        kb = int(next(x for x in open("/proc/meminfo") if x.startswith("MemTotal")).split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        mem = ""
    import os

    return f"{platform.machine()}, {os.cpu_count()} cores{mem}, Python {platform.python_version()}"


def command_line() -> str:
    """How this benchmark was started, as a copyable command."""
    script = Path(sys.argv[0])
    shown = f"bench/{script.name}" if script.parent.name == "bench" else str(script)
    return " ".join(["python", shown, *sys.argv[1:]])
