"""NLU cost per message and `rasa train` time: the n-gram pipeline of before the sentence encoder
(bench/nlu_baseline_config.yml: n-grams only, FAQ by Rasa's ResponseSelector) against
config.yml (n-grams + the sentence encoder, FAQ selected by the intent classifier).

Each pipeline is trained by `rasa train` (NLU and dialogue, from an empty Rasa cache, in a
folder of its own) unless a model is given; then both models are loaded in this one process
(Rasa's ``Agent``) and every message of tests/rasa/nlu_holdout.yml is parsed by each, in turns,
``--rounds`` times: per-message cost p50 / p95 / mean of ``Agent.parse_message``.

    python -m bench.nlu_bench                                  # trains both (~30-50 min, 2 cores)
    python -m bench.nlu_bench --models BEFORE.tar.gz AFTER.tar.gz   # only the parsing (~3 min)
    python -m bench.nlu_bench --models models/shopbot-<hash>.tar.gz  # one model's parsing
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from bench.loadkit.report import command_line, machine, table
from bench.loadkit.world import load_average, log
from bot.server.rasa_model import ROOT, rasa_env, train_command

ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")  # [text](entity) -> text
BASELINE = ROOT / "bench" / "nlu_baseline_config.yml"
MESSAGES = ROOT / "tests" / "rasa" / "nlu_holdout.yml"
PIPELINES = (("before (n-grams, ResponseSelector)", BASELINE), ("after (config.yml)", None))


def messages() -> list[str]:
    """The held-out messages (never trained on), one per line of their examples."""
    nlu = yaml.safe_load(MESSAGES.read_text(encoding="utf-8"))["nlu"]
    return [
        ANNOTATION.sub(r"\1", line[2:].strip())
        for block in nlu
        for line in block["examples"].splitlines()
        if line.startswith("- ")
    ]


def train(config: Path | None, out_dir: Path, name: str) -> tuple[Path, float, float]:
    """Trains ``config`` (None: config.yml) with the project's domain and data in a fresh
    folder; (model, wall seconds, CPU seconds of the training process)."""
    work = Path(tempfile.mkdtemp(prefix=f"shopbot-nlu-bench-{name}-"))
    try:
        shutil.copytree(ROOT / "data", work / "data")
        shutil.copy(ROOT / "domain.yml", work / "domain.yml")
        shutil.copy(config or ROOT / "config.yml", work / "config.yml")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        with open(out_dir / f"{name}-train.log", "w") as out:
            subprocess.run(
                train_command(work, out_dir, name),
                cwd=work,
                env=rasa_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                check=True,
            )
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return out_dir / f"{name}.tar.gz", wall, cpu
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def parse_costs(models: list[Path], texts: list[str], rounds: int) -> list[list[float]]:
    """Milliseconds per ``parse_message`` of each model, the models taking turns per message."""
    from rasa.core.agent import Agent

    agents = [Agent.load(str(m)) for m in models]
    for agent in agents:  # first calls load what is loaded lazily (the encoder's weights)
        for text in texts[:5]:
            await agent.parse_message(text)
    costs: list[list[float]] = [[] for _ in agents]
    for _ in range(rounds):
        for text in texts:
            for agent, cost in zip(agents, costs):
                started = time.perf_counter()
                await agent.parse_message(text)
                cost.append((time.perf_counter() - started) * 1000)
    return costs


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", nargs="+", type=Path, help="trained models (before, after) instead of training"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, help="where trained models go (default: a temp dir)")
    args = parser.parse_args()
    import structlog

    logging.getLogger("rasa").setLevel(logging.ERROR)
    # Rasa's structured debug log of every parse would otherwise go to stdout (the report).
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    os.environ.update(rasa_env())

    training: list[tuple[float, float]] = []
    if args.models:
        models = list(args.models)
    else:
        out = args.out or Path(tempfile.mkdtemp(prefix="shopbot-nlu-bench-"))
        out.mkdir(parents=True, exist_ok=True)
        models = []
        for name, config in zip(("before", "after"), (BASELINE, None)):
            log(f"rasa train ({name}) … load {load_average():.1f}")
            model, wall, cpu = train(config, out, name)
            log(f"  {wall:.0f} s wall, {cpu:.0f} s CPU")
            models.append(model)
            training.append((wall, cpu))

    texts = messages()
    loads = [load_average()]
    costs = asyncio.run(parse_costs(models, texts, args.rounds))
    loads.append(load_average())

    print(f"Machine: {machine()}; load average {loads[0]:.1f} → {loads[1]:.1f}.")
    print(f"Command: `{command_line()}`.")
    print(
        f"Messages: the {len(texts)} of tests/rasa/nlu_holdout.yml × {args.rounds} rounds, "
        "each parsed by every model in turn (`Agent.parse_message`, one process).\n"
    )
    rows = []
    # the pipelines' names when this run trained them; given models are named by their files
    labels = [label for label, _ in PIPELINES] if training else ["given"] * len(models)
    for label, cost, model in zip(labels, costs, models):
        rows.append(
            [
                label,
                model.name,
                f"{percentile(cost, 50):.1f}",
                f"{percentile(cost, 95):.1f}",
                f"{statistics.fmean(cost):.1f}",
            ]
        )
    print(table(["pipeline", "model", "p50 ms", "p95 ms", "mean ms"], rows))
    if training:
        print()
        print(
            table(
                ["pipeline", "`rasa train` wall s", "CPU s"],
                [
                    [label, f"{wall:.0f}", f"{cpu:.0f}"]
                    for (label, _), (wall, cpu) in zip(PIPELINES, training)
                ],
            )
        )


if __name__ == "__main__":
    main()
