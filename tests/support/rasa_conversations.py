"""Long conversations made of the project's stories, for comparing shopbot's Rasa patches with
Rasa's own code (tests/rasa/test_rasa_patches.py) and measuring them (bench/patches_bench.py).

The project's training and test stories are strung together (forms, rules, FAQ, hand-offs), with
restarts, session starts and undone turns mixed in; every action's ``hide_rule_turn`` is what the
model's own prediction said, as in a live conversation.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from bot.server.rasa_model import ROOT


def load_processor(model: Path) -> Any:
    """The message processor of the trained model at ``model``."""
    from rasa.core.agent import Agent

    return Agent.load(str(model)).processor


def story_events(processor: Any, root: Path = ROOT) -> list[list[dict]]:
    """The events (as dicts) of every story of the training data and the test stories."""
    from rasa.shared.core.generator import TrainingDataGenerator
    from rasa.shared.importers.importer import TrainingDataImporter

    importer = TrainingDataImporter.load_from_config(
        str(root / "config.yml"),
        str(root / "domain.yml"),
        [str(root / "data"), str(root / "tests" / "rasa" / "stories")],
    )
    trackers = TrainingDataGenerator(
        importer.get_stories(),
        processor.domain,
        remove_duplicates=False,
        augmentation_factor=0,
    ).generate()
    return [[e.as_dict() for e in t.events] for t in trackers if not t.is_rule_tracker]


def policies(processor: Any) -> dict[str, Any]:
    """The model's policy objects by class name."""
    nodes = processor.graph_runner._instantiated_nodes.values()
    found = {type(n._component).__name__: n._component for n in nodes if n._component}
    return {k: v for k, v in found.items() if k.endswith("Policy")}


def predict(processor: Any, tracker: Any) -> Any:
    """The policy ensemble's prediction of the next action for ``tracker``."""
    target = processor.model_metadata.core_target
    return processor.graph_runner.run(inputs={"__tracker__": tracker}, targets=[target])[target]


def tracker_of(processor: Any, events: list, sender_id: str = "c") -> Any:
    """A new tracker with ``events`` applied."""
    from rasa.shared.core.trackers import DialogueStateTracker

    return DialogueStateTracker.from_events(sender_id, list(events), processor.domain.slots)


def long_conversation(
    processor: Any, stories: list[list[dict]], n_stories: int, seed: int, resets: bool = True
) -> list:
    """Events of ``n_stories`` stories one after the other, with undone turns (and, if
    ``resets``, restarts and session starts) in between, each action flagged as the policies'
    prediction flags it."""
    from rasa.shared.core import events as ev

    rng = random.Random(seed)
    extras = [
        lambda: [ev.UserUtteranceReverted()],
        lambda: [ev.ActionReverted()],
        lambda: [ev.SlotSet("order_number", "104233")],
    ]
    if resets:
        extras[2:2] = [
            lambda: [ev.Restarted(), ev.ActionExecuted("action_listen")],
            lambda: [ev.ActionExecuted("action_session_start"), ev.SessionStarted()],
        ]
    events: list = []
    tracker = tracker_of(processor, [])
    for i in range(n_stories):
        for event in ev.deserialise_events(rng.choice(stories)):
            if isinstance(event, ev.ActionExecuted) and events:
                event.hide_rule_turn = predict(processor, tracker).hide_rule_turn
            events.append(event)
            tracker.update(event)
        if i % 7 == 6:
            for event in rng.choice(extras)():
                events.append(event)
                tracker.update(event)
    return events


def customer_talk(conversation: list) -> list:
    """``conversation`` as a customer and the bot have it: every message with a text, its
    channel and Rasa's whole NLU result (rankings included), every response a bot message."""
    from rasa.shared.core import events as ev

    dicts: list[dict] = []
    for i, event in enumerate(conversation):
        d = event.as_dict()
        if d["event"] == "user":
            d["text"] = d.get("text") or f"message {i}"
            d["input_channel"] = ("rest", "socketio")[i % 2]
            intent = d["parse_data"].get("intent") or {"name": "greet", "confidence": 1.0}
            d["parse_data"] = {
                **d["parse_data"],
                "text": d["text"],
                "intent_ranking": [intent, {"name": "faq", "confidence": 0.0}],
                "response_selector": {
                    "all_retrieval_intents": ["faq"],
                    "faq": {"response": {"responses": [{"text": "x" * 300}]}, "ranking": []},
                },
            }
        dicts.append(d)
        if d["event"] == "action" and str(d.get("name")).startswith("utter_"):
            dicts.append({"event": "bot", "text": f"reply {i}", "data": {}, "metadata": {}})
    return ev.deserialise_events(dicts)


def turns_of(events: list) -> list[list]:
    """``events`` cut before every user message: the events before the first, then a turn each."""
    from rasa.shared.core import events as ev

    turns: list[list] = [[]]
    for event in events:
        if isinstance(event, ev.UserUttered):
            turns.append([])
        turns[-1].append(event)
    return turns
