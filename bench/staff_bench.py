"""Staff questions over the staff console channel: latency of a stock level, a demand
forecast (the report draws its chart, as for Slack) and reorder advice, asked by 1 and by 5
members of staff at once, with every answer checked.

Runs in a throwaway world like the load benchmark (temp demo shop, trained analytics, the real
Rasa server and action server on free ports, all removed at the end).

    python -m bench.staff_bench                  # 20 questions of each kind, 1 and 5 at once
    python -m bench.staff_bench --repeat 5 --concurrency 1
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid

import aiohttp
from sqlalchemy import create_engine, select

from bench.loadkit import procs
from bench.loadkit.conversations import contains, generic_problem
from bench.loadkit.driver import percentile
from bench.loadkit.report import command_line, machine, ms, table
from bench.loadkit.world import (
    CONFIGS,
    Stack,
    World,
    load_average,
    log,
    stop_on_sigterm,
)

# What staff ask (the phrasings of the README) and how a right answer starts.
QUESTIONS = {
    "stock level": (
        "How many {sku} do we have?",
        lambda sku: contains(f"Stock of {sku}", "On hand"),
    ),
    "demand forecast (with chart)": (
        "Forecast for {sku} next 4 weeks",
        lambda sku: contains(f"Forecast for {sku}", "Expected demand"),
    ),
    "reorder advice": ("What should I reorder?", lambda sku: contains("What to reorder")),
}


def forecast_skus(db_url: str) -> list[str]:
    """SKUs of active products that have a forecast in the latest run."""
    from shop.store.models import Forecast, Product

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(Product.sku)
                .join(Forecast, Forecast.product_id == Product.id)
                .where(Product.active.is_(True))
                .distinct()
            ).all()
    finally:
        engine.dispose()
    return sorted(r[0] for r in rows)


async def ask(
    session: aiohttp.ClientSession, url: str, token: str, sender: str, text: str
) -> tuple[float, list[dict] | None, str | None]:
    """(seconds, replies, error) for one staff question."""
    started = time.monotonic()
    try:
        async with session.post(
            url,
            json={"sender": sender, "message": text},
            headers={"Authorization": f"Bearer {token}"},
            timeout=aiohttp.ClientTimeout(total=120),
        ) as resp:
            if resp.status != 200:
                return time.monotonic() - started, None, f"HTTP {resp.status}"
            replies = await resp.json()
    except asyncio.TimeoutError:
        return time.monotonic() - started, None, "timeout"
    except aiohttp.ClientError as err:
        return time.monotonic() - started, None, f"connection: {type(err).__name__}"
    return time.monotonic() - started, replies, None


async def run(
    stack: Stack, token: str, skus: list[str], repeat: int, concurrency: int, seed: int
) -> dict[str, list[tuple[float, str | None]]]:
    """Each member of staff asks every kind of question ``repeat`` times, kinds interleaved."""
    url = f"{stack.rasa_url}/webhooks/staff/webhook"
    results: dict[str, list[tuple[float, str | None]]] = {k: [] for k in QUESTIONS}

    async def member(i: int) -> None:
        rng = random.Random(seed * 100 + i)
        sender = f"bench-staff-{uuid.uuid4().hex[:8]}"
        async with aiohttp.ClientSession() as session:
            for n in range(repeat):
                if n % 2 == 0:  # a staff conversation asks a few questions, then a new one
                    sender = f"bench-staff-{uuid.uuid4().hex[:8]}"
                kinds = list(QUESTIONS)
                rng.shuffle(kinds)
                for kind in kinds:
                    template, check = QUESTIONS[kind]
                    sku = rng.choice(skus)
                    took, replies, error = await ask(
                        session, url, token, sender, template.format(sku=sku)
                    )
                    if error is None:
                        error = generic_problem(replies) or check(sku)(replies)
                    results[kind].append((took, error))

    await asyncio.gather(*(member(i) for i in range(concurrency)))
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="default", choices=list(CONFIGS))
    p.add_argument("--repeat", type=int, default=20, help="questions of each kind per member")
    p.add_argument("--concurrency", default="1,5", help="staff asking at once, one run each")
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--keep", action="store_true")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    levels = [int(x) for x in args.concurrency.split(",")]
    stop_on_sigterm()
    with World(keep=args.keep) as world:
        world.build()
        skus = forecast_skus(world.db_url)
        config = CONFIGS[args.config]
        rows, totals, errors = [], [], []
        with Stack(world, config) as stack:
            log("warming up")
            asyncio.run(run(stack, world.staff_token, skus, 1, 1, args.seed + 1))
            for level in levels:
                log(f"{level} × {args.repeat} rounds of staff questions")
                load_before = load_average()
                cpu_before = {n: procs.cpu_seconds(pid) for n, pid in stack.pids.items()}
                started = time.monotonic()
                results = asyncio.run(
                    run(stack, world.staff_token, skus, args.repeat, level, args.seed)
                )
                elapsed = time.monotonic() - started
                cpu = {n: procs.cpu_seconds(pid) - cpu_before[n] for n, pid in stack.pids.items()}
                questions = sum(len(v) for v in results.values())
                for kind, values in results.items():
                    lat = [t for t, _ in values]
                    bad = [e for _, e in values if e]
                    errors += [f"{kind}: {e}" for e in bad]
                    rows.append(
                        [
                            level,
                            kind,
                            len(values),
                            ms(percentile(lat, 50)),
                            ms(percentile(lat, 95)),
                            ms(max(lat)),
                            len(bad),
                            f"{load_before:.1f} → {load_average():.1f}",
                        ]
                    )
                totals.append(
                    [
                        level,
                        questions,
                        f"{questions / elapsed:.1f}",
                        f"{1000 * cpu.get('rasa', 0) / questions:.0f}",
                        f"{1000 * cpu.get('actions', 0) / questions:.0f}",
                    ]
                )
        print(
            "\n\n".join(
                [
                    "## Staff questions over the staff console",
                    f"Command: `{command_line()}`",
                    f"Machine: {machine()}; load average {load_average():.1f} at the end.",
                    f"Inputs: {world.describe()}; Rasa model `{world.model.name}`; "
                    f"configuration `{config.name}` ({config.describe()}); {len(skus)} SKUs "
                    "with forecasts, one drawn at random per question. Each member of staff "
                    f"asks every kind of question {args.repeat} times in shuffled order, one "
                    "after the other, over `POST /webhooks/staff/webhook` with the console's "
                    "bearer token; a new conversation every 2 rounds. The forecast report draws "
                    "its PNG chart (as for Slack) even though the console shows only text. An "
                    "answer that is not the right report is an error.",
                    table(
                        [
                            "staff at once",
                            "question",
                            "n",
                            "p50 ms",
                            "p95 ms",
                            "max ms",
                            "errors",
                            "load avg before → after",
                        ],
                        rows,
                    ),
                    table(
                        [
                            "staff at once",
                            "questions",
                            "questions/s",
                            "Rasa CPU ms/question",
                            "action CPU ms/question",
                        ],
                        totals,
                    ),
                ]
                + ([f"First errors: {'; '.join(errors[:5])}"] if errors else [])
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted; servers stopped")
        sys.exit(130)
