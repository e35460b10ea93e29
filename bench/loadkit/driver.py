"""The bounded async load generator: a fixed number of concurrent conversations over the REST
channel (aiohttp on loopback), each sending its turns one after the other and checking replies.

Two load models:

- **closed** (saturation): every conversation sends its next turn as soon as the previous reply
  arrived, and starts a new conversation as soon as one ends. The server is never idle, so the
  figures show its capacity and the queueing at that concurrency (by Little's law the mean
  latency is concurrency / throughput).
- **paced** (human-paced): a conversation waits a think time, uniform in [lo, hi] seconds, before
  each turn (and starts at a random moment within the first ``hi`` seconds so the conversations do
  not move in lock-step). People read the reply and type the next message, which takes longer than
  that, so this is a pessimistic (busy) version of real traffic at that many open conversations.

A turn is an **error** when the HTTP status is not 200, the request times out or fails, the reply
is empty, says sorry (apology or "didn't understand"), or is not the right answer to what was
asked. A conversation stops at its first error (what follows would be meaningless). At the end of
the phase conversations stop after their current turn; unfinished ones are left.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from dataclasses import dataclass, field

import aiohttp

from bench.loadkit import procs
from bench.loadkit.conversations import Mix, Script, generic_problem


@dataclass
class TurnResult:
    kind: str
    actions: bool
    started: float  # seconds since the phase began
    latency: float  # seconds
    error: str | None


@dataclass
class Phase:
    """One measured run: who sent what, and what the servers spent."""

    model: str  # closed | paced
    concurrency: int
    duration: float
    think: tuple[float, float] | None
    results: list[TurnResult] = field(default_factory=list)
    elapsed: float = 0.0
    conversations: int = 0
    completed: int = 0
    load_before: float = 0.0
    load_after: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)  # server -> CPU seconds in the phase
    client_cpu_s: float = 0.0

    @property
    def turns(self) -> int:
        return len(self.results)

    @property
    def errors(self) -> list[TurnResult]:
        return [r for r in self.results if r.error]

    @property
    def throughput(self) -> float:
        return self.turns / self.elapsed if self.elapsed else 0.0

    def latencies(self, kind: str | None = None, actions: bool | None = None) -> list[float]:
        return [
            r.latency
            for r in self.results
            if (kind is None or r.kind == kind) and (actions is None or r.actions == actions)
        ]

    def label(self) -> str:
        if self.model == "paced" and self.think:
            return f"paced {self.think[0]:g}–{self.think[1]:g} s"
        return self.model


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) with linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    data = sorted(values)
    pos = (len(data) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


class Client:
    """Sends one message over the REST channel and returns (replies, error)."""

    def __init__(self, session: aiohttp.ClientSession, url: str, timeout: float):
        self.session, self.url, self.timeout = session, url, timeout

    async def say(
        self, sender: str, text: str, metadata: dict | None
    ) -> tuple[list[dict] | None, str | None]:
        body: dict = {"sender": sender, "message": text}
        if metadata:
            body["metadata"] = metadata
        try:
            async with self.session.post(
                self.url, json=body, timeout=aiohttp.ClientTimeout(total=self.timeout)
            ) as resp:
                if resp.status != 200:
                    return None, f"HTTP {resp.status}"
                return await resp.json(), None
        except asyncio.TimeoutError:
            return None, "timeout"
        except aiohttp.ClientError as err:
            return None, f"connection: {type(err).__name__}"


async def run_script(
    client: Client,
    script: Script,
    results: list[TurnResult],
    t0: float,
    deadline: float,
    rng: random.Random,
    think: tuple[float, float] | None,
    stub: bool,
) -> str:
    """Sends the script's turns; returns "ok", "error" or "abandoned" (deadline reached)."""
    sender = f"bench-{script.kind}-{uuid.uuid4().hex[:12]}"
    for i, turn in enumerate(script.turns):
        if think and i > 0:
            await asyncio.sleep(rng.uniform(*think))
        if time.monotonic() >= deadline:
            return "abandoned"
        started = time.monotonic()
        replies, error = await client.say(sender, turn.text, script.metadata)
        latency = time.monotonic() - started
        if error is None:
            error = generic_problem(replies)
        if error is None and not stub:
            error = turn.check(replies)
            if error:
                said = " | ".join(str(r.get("text") or r.get("custom") or "") for r in replies)
                error = f"wrong reply to {turn.kind}: {error} (got: {said[:100]!r})"
        results.append(TurnResult(turn.kind, turn.actions, started - t0, latency, error))
        if error:
            return "error"
    return "ok"


async def run_phase(
    url: str,
    mix: Mix,
    *,
    concurrency: int,
    duration: float,
    think: tuple[float, float] | None = None,
    timeout: float = 60.0,
    stub: bool = False,
    server_pids: dict[str, int] | None = None,
    seed: int = 1,
) -> Phase:
    """Runs ``concurrency`` conversations for ``duration`` seconds and returns what happened."""
    phase = Phase("paced" if think else "closed", concurrency, duration, think)
    server_pids = server_pids or {}
    phase.load_before = os.getloadavg()[0]
    cpu_before = {n: procs.cpu_seconds(p) for n, p in server_pids.items()}
    client_cpu = time.process_time()
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        client = Client(session, f"{url}/webhooks/rest/webhook", timeout)
        t0 = time.monotonic()
        deadline = t0 + duration

        async def conversation_slot(i: int) -> None:
            rng = random.Random(seed * 1000 + i)
            if think:
                await asyncio.sleep(rng.uniform(0, think[1]))
            while time.monotonic() < deadline:
                script = mix.next()
                phase.conversations += 1
                outcome = await run_script(
                    client, script, phase.results, t0, deadline, rng, think, stub
                )
                script.done(outcome)
                if outcome == "ok":
                    phase.completed += 1
                if think and time.monotonic() < deadline:
                    await asyncio.sleep(rng.uniform(*think))

        await asyncio.gather(*(conversation_slot(i) for i in range(concurrency)))
        phase.elapsed = time.monotonic() - t0
    phase.client_cpu_s = time.process_time() - client_cpu
    phase.cpu_s = {n: procs.cpu_seconds(p) - cpu_before[n] for n, p in server_pids.items()}
    phase.load_after = os.getloadavg()[0]
    return phase


async def warm_up(
    url: str, mix: Mix, stub: bool, rounds: int = 2, timeout: float = 120
) -> list[str]:
    """The errors seen while sending every kind of conversation ``rounds`` times, unmeasured
    (TensorFlow traces its graphs and the action server fills its caches on first use)."""
    errors: list[str] = []
    async with aiohttp.ClientSession() as session:
        client = Client(session, f"{url}/webhooks/rest/webhook", timeout)
        for _ in range(rounds):
            for script in mix.all_kinds():
                results: list[TurnResult] = []
                outcome = await run_script(
                    client, script, results, 0.0, float("inf"), random.Random(0), None, stub
                )
                script.done(outcome)
                errors += [f"{script.kind}: {r.error}" for r in results if r.error]
    return errors
