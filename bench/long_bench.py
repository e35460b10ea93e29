"""Long conversations: one conversation, then a few in parallel, driven to 400 turns
with a repeating mix of action turns and plain replies; per-turn latency at turns 1, 100, 200 and
400 (the median of the 10 turns around each point: two rounds of the mix), beside what the
servers spent per turn there and how big the conversation's tracker has grown.

The same single conversation is also sent to the same Rasa setup with its actions stubbed out,
which separates Rasa's own growth from the action server's. ``--profile`` runs the Rasa server
under cProfile for the single conversation and prints where its time went.

    python -m bench.long_bench                          # default config, 1 and 3 conversations
    python -m bench.long_bench --turns 200 --parallel 1 --no-stub   # a quick look
    python -m bench.long_bench --configs default,scaled --profile
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
import uuid
from pathlib import Path

import aiohttp

from bench.loadkit import procs
from bench.loadkit.conversations import (
    FAQ,
    GREETINGS,
    THANKS,
    ShopData,
    Turn,
    contains,
    generic_problem,
    product_cards,
)
from bench.loadkit.driver import Client, percentile
from bench.loadkit.report import command_line, machine, ms, table
from bench.loadkit.world import (
    CONFIGS,
    Stack,
    World,
    load_average,
    log,
    stop_on_sigterm,
)

TARGET = 2.0  # turn 400 at most this many times slower than turn 1
WINDOW = 10  # turns per measuring window: two rounds of the 5-turn cycle


def cycle(order_number: int, rng: random.Random) -> list[Turn]:
    """One round of the repeating mix: 2 action turns, 3 plain replies (signed-in customer)."""
    faq, expected = rng.choice(FAQ)
    return [
        Turn("greet", rng.choice(GREETINGS), contains("assistant"), False),
        Turn(
            "status_signed",
            f"where is my order #{order_number}?",
            contains(f"Order #{order_number}"),
            True,
        ),
        Turn("faq", faq, contains(expected), False),
        Turn(
            "recommend",
            "what would you recommend for me?",
            lambda r: product_cards(r) or contains("picks")(r),
            True,
        ),
        Turn("thank", rng.choice(THANKS), contains("welcome"), False),
    ]


def points(turns: int) -> list[int]:
    return [p for p in (1, 50, 100, 200, 400, 800) if p <= turns] or [1, turns]


def window(point: int, turns: int) -> range:
    """The turn numbers (1-based) whose median stands for ``point``."""
    start = max(1, min(point - WINDOW // 2, turns - WINDOW + 1))
    return range(start, start + WINDOW)


class Conversation:
    """One long conversation: its latencies, errors and per-window server CPU."""

    def __init__(self, customer: int, order_number: int, token: str, seed: int):
        self.sender = f"bench-long-{uuid.uuid4().hex[:10]}"
        self.metadata = {"session_token": token}
        self.rng = random.Random(seed)
        self.order_number = order_number
        self.latency: list[float] = []
        self.kinds: list[str] = []
        self.errors: list[str] = []
        self.cpu_marks: list[tuple[int, dict[str, float]]] = []  # (turns done, CPU s per server)
        self.tracker_sizes: dict[int, tuple[int, int]] = {}  # turn -> (events, JSON bytes)


async def drive(
    client: Client,
    conv: Conversation,
    turns: int,
    stub: bool,
    pids: dict[str, int] | None = None,
    tracker_url: str | None = None,
) -> None:
    """Sends ``turns`` turns; with ``pids``, notes the servers' CPU at every window edge."""
    marks = set()
    for p in points(turns):
        w = window(p, turns)
        marks |= {w.start - 1, w.stop - 1}
    plan: list[Turn] = []
    while len(plan) < turns:
        plan += cycle(conv.order_number, conv.rng)
    async with aiohttp.ClientSession() as session:
        for i, turn in enumerate(plan[:turns]):
            if pids is not None and i in marks:
                conv.cpu_marks.append((i, {n: procs.cpu_seconds(p) for n, p in pids.items()}))
            started = time.monotonic()
            replies, error = await client.say(conv.sender, turn.text, conv.metadata)
            conv.latency.append(time.monotonic() - started)
            conv.kinds.append(turn.kind)
            error = error or generic_problem(replies)
            if error is None and not stub:
                error = turn.check(replies)
            if error:
                conv.errors.append(f"turn {i + 1} ({turn.kind}): {error}")
            if tracker_url and (i + 1) in points(turns):
                async with session.get(tracker_url.format(sender=conv.sender)) as resp:
                    body = await resp.read()
                conv.tracker_sizes[i + 1] = (len(json.loads(body).get("events") or []), len(body))
        if pids is not None and turns in marks:
            conv.cpu_marks.append((turns, {n: procs.cpu_seconds(p) for n, p in pids.items()}))


def cpu_per_turn(conv: Conversation, w: range) -> dict[str, float]:
    """CPU seconds per turn each server spent on the turns of window ``w`` (1 conversation)."""
    marks = dict(conv.cpu_marks)
    before, after = marks.get(w.start - 1), marks.get(w.stop - 1)
    if before is None or after is None:
        return {}
    return {n: (after[n] - before[n]) / len(w) for n in after}


def median_at(convs: list[Conversation], w: range, actions: bool | None = None) -> float:
    acts = {"status_signed", "recommend"}
    values = [
        c.latency[t - 1]
        for c in convs
        for t in w
        if t - 1 < len(c.latency) and (actions is None or (c.kinds[t - 1] in acts) == actions)
    ]
    return percentile(values, 50)


async def run_long(
    stack: Stack, data: ShopData, world: World, n: int, turns: int, stub: bool, seed: int
):
    """``n`` conversations of ``turns`` turns in parallel; returns them."""
    rng = random.Random(seed)
    convs = []
    for i in range(n):
        number, _, customer = rng.choice(data.status_orders)
        convs.append(Conversation(customer, number, world.token_for(customer), seed + i))
    tracker_url = (
        f"{stack.rasa_url}/conversations/{{sender}}/tracker?token={world.env['RASA_API_TOKEN']}"
    )
    async with aiohttp.ClientSession() as session:
        client = Client(session, f"{stack.rasa_url}/webhooks/rest/webhook", timeout=120)
        await asyncio.gather(
            *(
                drive(
                    client,
                    c,
                    turns,
                    stub,
                    pids=stack.pids if n == 1 else None,
                    tracker_url=tracker_url if i == 0 else None,
                )
                for i, c in enumerate(convs)
            )
        )
    return convs


def section(label: str, runs: dict[str, list[Conversation]], turns: int) -> str:
    """The table of one configuration: each run's median latency around each point."""
    pts = points(turns)
    rows = []
    for name, convs in runs.items():
        first = convs[0]
        for p in pts:
            w = window(p, turns)
            cpu = cpu_per_turn(first, w) if len(convs) == 1 else {}
            size = first.tracker_sizes.get(p)
            rows.append(
                [
                    name,
                    p,
                    f"{w.start}–{w.stop - 1}",
                    ms(median_at(convs, w)),
                    ms(median_at(convs, w, actions=True)),
                    ms(median_at(convs, w, actions=False)),
                    ms(cpu["rasa"]) if "rasa" in cpu else "–",
                    ms(cpu["actions"]) if "actions" in cpu else "–",
                    size[0] if size else "–",
                    f"{size[1] / 1024:.0f}" if size else "–",
                ]
            )
    headers = [
        "run",
        "turn",
        "window",
        "median ms",
        "action turns ms",
        "other turns ms",
        "Rasa CPU ms/turn",
        "action CPU ms/turn",
        "tracker events",
        "tracker JSON KiB",
    ]
    verdict = []
    for name, convs in runs.items():
        t1 = median_at(convs, window(1, turns))
        tn = median_at(convs, window(pts[-1], turns))
        errors = sum(len(c.errors) for c in convs)
        verdict.append(
            [
                name,
                ms(t1),
                ms(tn),
                f"{tn / t1:.2f}×",
                "yes" if tn <= TARGET * t1 else "**no**",
                errors,
            ]
        )
    errors = [e for convs in runs.values() for c in convs for e in c.errors][:5]
    parts = [
        f"### {label}",
        table(headers, rows),
        f"Turn {pts[-1]} against turn 1 (target: at most {TARGET:g}×):",
        table(
            ["run", "turn 1 ms", f"turn {pts[-1]} ms", "ratio", "met?", "errors"],
            verdict,
        ),
    ]
    if errors:
        parts.append("First errors: " + "; ".join(errors))
    return "\n\n".join(parts)


def print_profile(path: Path, turns: int, limit: int = 25) -> str:
    """The Rasa server's functions with the most cumulative time (per turn), as a table."""
    import pstats

    stats = pstats.Stats(str(path))
    wanted = (
        "rasa/core/processor.py",
        "rasa/core/tracker_store.py",
        "rasa/core/actions/action.py",
        "rasa/core/policies/",
        "rasa/shared/core/trackers.py",
        "rasa/core/featurizers/",
        "rasa/utils/endpoints.py",
        "rasa/engine/",
        "bot/",
    )
    rows = []
    for (file, line, fn), (_cc, nc, _tt, ct, _callers) in stats.stats.items():
        if any(w in file for w in wanted) and "__init__" not in fn and "load" not in fn:
            short = file.split("site-packages/")[-1].split("/work/main/")[-1]
            rows.append((ct, nc, f"{short}:{line} {fn}"))
    rows.sort(reverse=True)
    return table(
        ["function", "calls", "cumulative s", "ms per turn"],
        [[name, nc, f"{ct:.1f}", f"{1000 * ct / turns:.1f}"] for ct, nc, name in rows[:limit]],
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", default="default", help=f"of: {', '.join(CONFIGS)}")
    p.add_argument("--turns", type=int, default=400)
    p.add_argument(
        "--parallel", default="1,3", help="conversations at once, one run each (default 1,3)"
    )
    p.add_argument("--no-stub", action="store_true", help="skip the stubbed-actions run")
    p.add_argument("--profile", action="store_true", help="cProfile the Rasa server (1 conv.)")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--keep", action="store_true")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    configs = [CONFIGS[c] for c in args.configs.split(",")]
    parallel = [int(x) for x in args.parallel.split(",")]
    stop_on_sigterm()
    with World(keep=args.keep) as world:
        world.build()
        data = ShopData(world.db_url, seed=args.seed)
        print(
            "\n\n".join(
                [
                    "## Long conversations",
                    f"Command: `{command_line()}`",
                    f"Machine: {machine()}; load average {load_average():.1f} at the start.",
                    f"Inputs: {world.describe()}; Rasa model `{world.model.name}`. Each "
                    "conversation is a signed-in customer repeating a 5-turn round: greeting, "
                    "order status (action server: form validation + status), an FAQ question, "
                    "recommendations (action server), thanks; turns sent one after the other "
                    "with no pause. A point's latency is the median of the 10 turns around it "
                    "(two rounds). CPU per turn: the server's process tree over the window "
                    "(single conversation only). Tracker: events and JSON size of the "
                    "conversation as Rasa's API returns it (the action server gets only the "
                    "events of its last 200 lines: bot/rasa_patches/action_call.py).",
                ]
            ),
            flush=True,
        )
        for config in configs:
            runs: dict[str, list[Conversation]] = {}
            profile_table = ""
            sides = [False] if args.no_stub else [False, True]
            for stub in sides:
                prof = None
                if args.profile and not stub:
                    prof = world.workdir / f"rasa-{config.name}.prof"
                with Stack(world, config, stub=stub, profile=prof) as stack:
                    # Unmeasured: TensorFlow traces its graphs on the first predictions.
                    asyncio.run(run_long(stack, data, world, 1, 2 * WINDOW, stub, args.seed + 99))
                    for n in parallel if not stub else [1]:
                        name = f"{'stub' if stub else 'shopbot'}, {n} conversation{'s' if n > 1 else ''}"
                        log(f"{stack.label}: {n} × {args.turns} turns")
                        load_before = load_average()
                        convs = asyncio.run(
                            run_long(stack, data, world, n, args.turns, stub, args.seed)
                        )
                        runs[f"{name} (load {load_before:.1f}→{load_average():.1f})"] = convs
                if prof is not None and prof.exists():
                    profile_table = print_profile(prof, args.turns * sum(parallel))
            print(
                "\n"
                + section(f"Configuration `{config.name}`: {config.describe()}", runs, args.turns),
                flush=True,
            )
            if profile_table:
                print(
                    "\nWhere the Rasa server's time went (cProfile of the shopbot runs, model "
                    f"loading left out; per turn = over the {args.turns * sum(parallel)} "
                    "measured turns):\n\n" + profile_table,
                    flush=True,
                )
        print(f"\nLoad average at the end: {load_average():.1f}.", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted; servers stopped")
        sys.exit(130)
