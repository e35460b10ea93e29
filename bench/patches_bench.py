"""Rasa patches: what each one saves. In one process, each patch's own operation is timed with
the patch on and off (Rasa's own code; the other patches stay on) on a long conversation made of
the project's stories, and the last turns of that conversation go through Rasa's message
processor (action server stubbed) to count how often a turn does each operation, with the SQL
tracker store and with Rasa's in-memory store (which, like the Redis store, rebuilds the whole
session every turn). ms per turn saved = calls per turn × (off − on).

    python -m bench.patches_bench                 # 400 turns (~5 minutes on 2 cores)
    python -m bench.patches_bench --turns 100     # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import inspect
import json
import logging
import math
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.loadkit.report import machine, table
from bench.loadkit.world import load_average, log
from bot import rasa_patches
from bot.rasa_patches import (
    action_call,
    dialogue_states,
    event_types,
    response_validation,
    sql_read_back,
    tracker_copy,
)
from bot.rasa_patches.base import Patches
from bot.server.rasa_model import ensure_model
from tests.support.rasa_conversations import (
    customer_talk,
    long_conversation,
    predict,
    story_events,
    tracker_of,
    turns_of,
)

COUNTED_TURNS = 10  # the last turns, run through Rasa's processor
REPEATS = 3  # each timing is the best of this many runs
THRESHOLD = 0.05  # a patch stays if it saves this share of a patched turn at the last turn
CUSTOM_ACTION = "action_check_order_status"
ACTION_SERVER = "http://localhost:5055/webhook"  # never called: stubbed
FAQ_QUESTION = "how long does shipping take?"
# An action server's answer as shopbot's actions give it: a few slots and a message.
RESPONSE = {
    "events": [
        {"event": "slot", "timestamp": None, "name": "order_number", "value": "104233"},
        {"event": "slot", "timestamp": None, "name": "email", "value": "ann@example.com"},
        {"event": "active_loop", "timestamp": None, "name": None},
    ],
    "responses": [
        {
            "text": "Order 104233 was shipped on 2 March and should arrive by Friday.",
            "buttons": [{"title": "Track it", "payload": "/track_order"}],
        }
    ],
}


@contextlib.contextmanager
def off(patches: Patches) -> Iterator[None]:
    """Rasa's own code instead of ``patches`` for the duration."""
    patches.uninstall()
    try:
        yield
    finally:
        assert patches.install()


def best(run: Callable[[], tuple[float, int]], repeats: int = REPEATS) -> float:
    """Seconds per call: ``run()`` gives (seconds, calls); the best of ``repeats`` runs."""
    return min(seconds / calls for seconds, calls in (run() for _ in range(repeats)))


def timed_calls(fn: Callable[[], Any], min_seconds: float = 0.3) -> tuple[float, int]:
    calls, started = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        took = time.perf_counter() - started
        if took >= min_seconds or calls >= 2000:
            return took, calls


# --- The conversations ------------------------------------------------------------------------


def conversation(processor: Any, stories: list, turns: int, seed: int) -> list:
    """A one-session conversation of ``turns`` user turns made of ``stories``, with the texts,
    NLU results and bot messages of a real one."""
    per_story = statistics.mean(sum(e["event"] == "user" for e in s) or 1 for s in stories)
    n_stories = math.ceil(1.3 * turns / per_story) + 1
    events = long_conversation(processor, stories, n_stories, seed, resets=False)
    return customer_talk([e for turn in turns_of(events)[: turns + 1] for e in turn])


def session_of(events: list) -> list:
    """The events of the latest session (what a tracker store reads back)."""
    from rasa.shared.core.events import SessionStarted

    starts = [i for i, e in enumerate(events) if isinstance(e, SessionStarted)]
    return events[starts[-1] if starts else 0 :]


def action_points(events: list, first: int) -> list[int]:
    from rasa.shared.core.events import ActionExecuted

    return [i for i in range(first, len(events)) if isinstance(events[i], ActionExecuted)]


# --- Each patch's own operation ---------------------------------------------------------------


def time_validation() -> tuple[float, float]:
    from rasa.core.actions.action import RemoteAction

    action = RemoteAction(CUSTOM_ACTION, None)
    action._validate_action_result(RESPONSE)  # builds the validator once

    def run() -> tuple[float, int]:
        return timed_calls(lambda: action._validate_action_result(RESPONSE))

    on = best(run)
    with off(response_validation.PATCHES):
        return on, best(run)


def time_action_call(processor: Any, events: list) -> tuple[float, float, int, int]:
    """Seconds to build and encode the action server's payload at the last turn, on and off,
    and its size in bytes on and off."""
    from rasa.core.actions.action import RemoteAction
    from rasa.utils.endpoints import EndpointConfig

    action = RemoteAction(CUSTOM_ACTION, EndpointConfig(ACTION_SERVER))
    tracker = tracker_of(processor, events)

    def payload() -> bytes:
        return json.dumps(action._action_call_format(tracker, processor.domain)).encode()

    def run() -> tuple[float, int]:
        return timed_calls(payload)

    on, on_size = best(run), len(payload())
    with off(action_call.PATCHES):
        return on, best(run), on_size, len(payload())


def time_event_types(events: list) -> tuple[float, float]:
    """Seconds to turn the stored session back into events, on and off."""
    from rasa.shared.core.events import deserialise_events

    dicts = [e.as_dict() for e in session_of(events)]

    def run() -> tuple[float, int]:
        return timed_calls(lambda: deserialise_events(dicts), min_seconds=1.0)

    on = best(run)
    with off(event_types.PATCHES):
        return on, best(run)


def along_the_last_turns(
    processor: Any, events: list, first: int, at_action: Callable[[Any], Any]
) -> tuple[float, int]:
    """(seconds, calls) of ``at_action(tracker)`` before every action from event ``first`` on,
    the tracker growing one event at a time as in a conversation (warmed up before)."""
    tracker = tracker_of(processor, events[:first])
    at_action(tracker)
    took, calls = 0.0, 0
    for event in events[first:]:
        if type(event).__name__ == "ActionExecuted":
            started = time.perf_counter()
            at_action(tracker)
            took += time.perf_counter() - started
            calls += 1
        tracker.update(event)
    return took, calls


def time_predictions(processor: Any, events: list, first: int) -> tuple[float, float]:
    def run() -> tuple[float, int]:
        return along_the_last_turns(processor, events, first, lambda t: predict(processor, t))

    on = best(run)
    with off(dialogue_states.PATCHES):
        return on, best(run)


def time_copies(processor: Any, events: list, first: int) -> tuple[float, float]:
    def run() -> tuple[float, int]:
        return along_the_last_turns(processor, events, first, lambda t: t.copy())

    on = best(run)
    with off(tracker_copy.PATCHES):
        return on, best(run)


def time_read_back(processor: Any, events: list, first: int, workdir: Path) -> tuple[float, float]:
    """Seconds to retrieve a conversation from the SQL tracker store and save it after a turn,
    over the last turns, on and off."""
    from bot.server.tracker_store import ShopSQLTrackerStore

    turns = turns_of(events[first:])

    def run() -> tuple[float, int]:
        db = Path(tempfile.mkstemp(suffix=".db", dir=workdir)[1])
        store = ShopSQLTrackerStore(domain=processor.domain, dialect="sqlite", db=str(db))
        sender = f"bench-{random.random()}"

        async def go() -> tuple[float, int]:
            await store.save(tracker_of(processor, events[:first], sender))
            await store.retrieve(sender)  # as after the turn before
            took = 0.0
            for turn in turns:
                started = time.perf_counter()
                tracker = await store.retrieve(sender)
                took += time.perf_counter() - started
                for event in turn:
                    tracker.update(event)
                started = time.perf_counter()
                await store.save(tracker)
                took += time.perf_counter() - started
            return took, len(turns)

        try:
            return asyncio.run(go())
        finally:
            store.engine.dispose()
            db.unlink()

    on = best(run)
    with off(sql_read_back.PATCHES):
        return on, best(run)


# --- Whole turns through Rasa's processor -----------------------------------------------------


def stub_action_server(payload: dict) -> dict:
    """The action server's answer: a form's validation keeps the slots Rasa extracted (the
    slot events after the latest user message); any other action says one line."""
    json.dumps(payload)  # encoded, as the HTTP client does
    name = payload["next_action"]
    if name.startswith("validate_"):
        events = payload["tracker"]["events"]
        users = [i for i, e in enumerate(events) if e["event"] == "user"]
        slots = [e for e in events[users[-1] if users else 0 :] if e["event"] == "slot"]
        return {"events": slots, "responses": []}
    return {"events": [], "responses": [{"text": f"({name})"}]}


def message_text(event: Any, retrieval_intents: set[str]) -> str:
    """The user message as an intent message (``/intent{entities}``, which skips the NLU), or
    for a retrieval intent (the FAQ) a question, which the response selector must answer."""
    if event.intent_name in retrieval_intents:
        return FAQ_QUESTION
    entities = {e["entity"]: e["value"] for e in event.entities if "entity" in e and "value" in e}
    return f"/{event.intent_name}" + (json.dumps(entities) if entities else "")


@contextlib.contextmanager
def counting(processor: Any, counts: collections.Counter) -> Iterator[None]:
    """Counts the calls of every installed patch (by patch name) and of the processor's
    predictions."""
    saved: list[tuple[Any, str, Any]] = []

    def counted(key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(fn):

            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                counts[key] += 1
                return await fn(*args, **kwargs)

            return async_wrapper

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counts[key] += 1
            return fn(*args, **kwargs)

        return wrapper

    for patch in rasa_patches.ALL:
        cls = patch.target_class()
        saved.append((cls, patch.attribute, cls.__dict__[patch.attribute]))
        wrapper = counted(patch.name, patch.replacement)
        setattr(cls, patch.attribute, staticmethod(wrapper) if patch.static else wrapper)
    processor._predict_next_with_tracker = counted(
        "prediction", processor._predict_next_with_tracker
    )
    try:
        yield
    finally:
        del processor._predict_next_with_tracker
        for cls, attribute, raw in saved:
            setattr(cls, attribute, raw)


def run_turns(
    agent: Any, store: Any, events: list, first: int, counts: collections.Counter | None
) -> float:
    """Seconds per turn of the user messages from event ``first`` on, sent through the agent
    with ``store`` as its tracker store, the conversation before them stored first."""
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.shared.core.events import UserUttered

    sender = f"bench-{random.random()}"
    retrieval = set(agent.domain.retrieval_intents)
    messages = [message_text(e, retrieval) for e in events[first:] if isinstance(e, UserUttered)]
    agent.tracker_store = agent.processor.tracker_store = store

    async def go() -> float:
        await store.save(tracker_of(agent.processor, events[:first], sender))
        await store.retrieve(sender)  # as after the turn before
        took = 0.0
        with counting(agent.processor, counts) if counts is not None else contextlib.nullcontext():
            for text in messages:
                started = time.perf_counter()
                await agent.handle_message(UserMessage(text, CollectingOutputChannel(), sender))
                took += time.perf_counter() - started
        return took / len(messages)

    return asyncio.run(go())


@contextlib.contextmanager
def stubbed_action_server() -> Iterator[None]:
    from rasa.utils.endpoints import EndpointConfig

    rasa_request = EndpointConfig.request

    async def request(self: Any, method: str = "post", **kwargs: Any) -> Any:
        return stub_action_server(kwargs["json"])

    EndpointConfig.request = request
    try:
        yield
    finally:
        EndpointConfig.request = rasa_request


def whole_turns(agent: Any, events: list, first: int, workdir: Path) -> dict[str, dict]:
    """Per store: seconds per turn with all patches on and off, and calls per turn (on)."""
    from rasa.core.tracker_store import InMemoryTrackerStore

    from bot.server.tracker_store import ShopSQLTrackerStore

    stores = {
        "sql": lambda: ShopSQLTrackerStore(
            domain=agent.domain,
            dialect="sqlite",
            db=tempfile.mkstemp(suffix=".db", dir=workdir)[1],
        ),
        "memory": lambda: InMemoryTrackerStore(agent.domain),
    }
    turns = sum(type(e).__name__ == "UserUttered" for e in events[first:])
    found: dict[str, dict] = {}
    with stubbed_action_server():
        run_turns(agent, stores["sql"](), events, first, None)  # warm-up
        for name, make in stores.items():
            counts: collections.Counter = collections.Counter()
            on = run_turns(agent, make(), events, first, counts)
            with off(rasa_patches.ALL):
                rasa = run_turns(agent, make(), events, first, None)
            found[name] = {
                "on": on,
                "off": rasa,
                "per_turn": {key: n / turns for key, n in counts.items()},
            }
    return found


# --- The report -------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    if seconds < 0:
        return "-" + ms(-seconds)
    value = seconds * 1000
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.1f}"
    return f"{value:.2g}" if value >= 0.001 else "0"


def cells(calls: float, saved: float) -> list[str]:
    """Calls per turn and ms saved per turn ("–" if a turn never makes the call)."""
    if not calls:
        return ["–", "–"]
    shown = f"{calls:.3f}" if calls < 0.1 else f"{calls:.2f}" if calls < 10 else f"{calls:,.0f}"
    return [shown, ms(saved)]


def quiet_rasa() -> None:
    """Rasa's logs at warnings only (its debug log would go to stdout, the report's place)."""
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--turns", type=int, default=400, help="user turns of the conversation")
    p.add_argument("--seed", type=int, default=3)
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    quiet_rasa()
    load_start = load_average()
    model, _ = ensure_model()
    assert rasa_patches.install(), "the patches do not apply to this Rasa"
    log(f"loading {model.name}")
    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig

    agent = Agent.load(str(model), action_endpoint=EndpointConfig(ACTION_SERVER))
    processor = agent.processor
    stories = story_events(processor)
    log(f"building a {args.turns}-turn conversation from {len(stories)} stories")
    events = conversation(processor, stories, args.turns, args.seed)
    turn_starts = [i for i, e in enumerate(events) if type(e).__name__ == "UserUttered"]
    first = turn_starts[-COUNTED_TURNS]  # the last turns
    n_actions = len(action_points(events, first))

    timings: dict[str, tuple[float, float]] = {}
    log("response validation")
    timings["response_validation"] = time_validation()
    log("action call payload")
    *timings["action_call"], size_on, size_off = time_action_call(processor, events)
    log("event deserialisation")
    timings["event_types"] = time_event_types(events)
    log("predictions")
    timings["dialogue_states"] = time_predictions(processor, events, first)
    log("copies")
    timings["tracker_copy"] = time_copies(processor, events, first)
    with tempfile.TemporaryDirectory(prefix="patches-bench-") as tmp:
        log("SQL read-back")
        timings["sql_read_back"] = time_read_back(processor, events, first, Path(tmp))
        log(f"whole turns through the processor ({COUNTED_TURNS} turns, 2 stores, on and off)")
        turns = whole_turns(agent, events, first, Path(tmp))

    session = len(session_of(events))

    def calls(store: str, module: Any) -> float:
        counted = turns[store]["per_turn"]
        if module is event_types:  # sessions' worth of events
            return counted.get(event_types.PATCH.name, 0) / session
        if module is dialogue_states:
            return counted.get("prediction", 0)
        return counted.get(module.PATCHES.patches[0].name, 0)

    operations = {
        "response_validation": "check an action server response",
        "action_call": f"build + JSON-encode the action server payload "
        f"({size_off / 1e3:,.0f} kB → {size_on / 1e3:,.0f} kB)",
        "event_types": f"deserialise the {session:,}-event session (calls: sessions' worth "
        "of events)",
        "dialogue_states": "one policy ensemble prediction",
        "tracker_copy": "copy the tracker",
        "sql_read_back": "SQL store retrieve + save of one turn (SQLite)",
    }
    threshold = THRESHOLD * turns["sql"]["on"]
    rows, decisions = [], {}
    for module in rasa_patches.MODULES:
        key = module.__name__.rsplit(".", 1)[1]
        on, rasa = timings[key]
        saved = {store: calls(store, module) * (rasa - on) for store in turns}
        decisions[key] = max(saved.values()) >= threshold
        rows.append(
            [
                f"`{key}`",
                operations[key],
                ms(on),
                ms(rasa),
                f"{rasa / on:,.1f}×" if on else "–",
                *cells(calls("sql", module), saved["sql"]),
                *cells(calls("memory", module), saved["memory"]),
                "keep" if decisions[key] else "**delete**",
            ]
        )
    print(
        "\n\n".join(
            [
                "## Rasa patches: what each one saves",
                f"Command: `{' '.join(['python -m bench.patches_bench', *sys.argv[1:]])}`",
                f"Machine: {machine()}; load average {load_start:.1f} at the start, "
                f"{load_average():.1f} at the end.",
                f"Conversation: {args.turns} user turns, {len(events):,} events in one session "
                f"(the project's stories with undone turns, seed {args.seed}, each user message "
                "with a text and its NLU rankings, each response a bot message; "
                f"{n_actions} actions in its last {COUNTED_TURNS} turns). Each timing is the best "
                f"of {REPEATS} runs with only that patch off. Calls per turn: counted while the "
                f"last {COUNTED_TURNS} turns went through Rasa's processor (intent messages, "
                "action server stubbed) with all patches on; `sql` is shopbot's SQL tracker "
                "store, `memory` Rasa's in-memory store, which rebuilds the session every turn "
                "as the Redis store does. ms saved per turn = calls per turn × (off − on). "
                f"Threshold: a patch stays if it saves at least {THRESHOLD:.0%} of a patched turn "
                f"with the SQL store ({ms(threshold)} ms) with either store.",
                table(
                    [
                        "patch",
                        "operation",
                        "on, ms",
                        "off (Rasa), ms",
                        "off/on",
                        "calls/turn (sql)",
                        "saved ms/turn (sql)",
                        "calls/turn (memory)",
                        "saved ms/turn (memory)",
                        "verdict",
                    ],
                    rows,
                ),
                table(
                    ["store", "whole turn, all patches on, ms", "all off (Rasa), ms", "off/on"],
                    [
                        [
                            store,
                            ms(found["on"]),
                            ms(found["off"]),
                            f"{found['off'] / found['on']:.1f}×",
                        ]
                        for store, found in turns.items()
                    ],
                ),
            ]
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
