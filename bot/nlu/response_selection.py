"""Response selection for retrieval intents (``faq``) from the intent classifier's ranking.

The classifier learns ``faq/return_policy``, ``faq/shipping_time``… as classes of their own; this
turns its ranking of those full intents into what Rasa's ResponseSelector would have written:

- the intent ranking, with each retrieval intent's probability the sum of its sub-intents';
- ``response_selector``: ``all_retrieval_intents`` and, per retrieval intent, the best sub-intent
  (``response``: its responses, confidence, ``intent_response_key``, ``utter_action``) and the
  sub-intents' ``ranking``; the confidences are within the retrieval intent (they sum to 1).

So the retrieval action (``utter_faq``) and ``rasa test nlu`` read it unchanged.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from rasa.shared.nlu.constants import (
    INTENT_RESPONSE_KEY,
    PREDICTED_CONFIDENCE_KEY,
    RESPONSE_IDENTIFIER_DELIMITER,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.nlu.training_data.util import intent_response_key_to_template_key

RESPONSE_SELECTOR = "response_selector"
FILE = "response_selection.json"


def _split(full_intent: str) -> tuple[str, str | None]:
    intent, _, key = full_intent.partition(RESPONSE_IDENTIFIER_DELIMITER)
    return intent, key or None


class ResponseSelection:
    """The retrieval intents and their responses; :meth:`select` writes a message's choice."""

    def __init__(self, retrieval_intents: list[str], responses: dict[str, list[dict]]) -> None:
        self.retrieval_intents = retrieval_intents
        self.responses = responses

    @classmethod
    def from_training_data(cls, training_data: TrainingData) -> ResponseSelection:
        intents = sorted(training_data.retrieval_intents)
        responses = {
            name: list(answers)
            for name, answers in training_data.responses.items()
            if _split(name.removeprefix("utter_"))[0] in intents
        }
        return cls(intents, responses)

    @staticmethod
    def intents(ranking: list[tuple[str, float]]) -> list[tuple[str, float]]:
        """The ranking of full intents as one of intents: sub-intents summed, best first."""
        summed: dict[str, float] = defaultdict(float)
        for name, p in ranking:
            summed[_split(name)[0]] += p
        return sorted(summed.items(), key=lambda item: -item[1])

    def select(self, message: Message, ranking: list[tuple[str, float]], top: int) -> None:
        """Sets ``response_selector`` on ``message`` from the ranking of full intents."""
        properties: dict[str, Any] = {"all_retrieval_intents": self.retrieval_intents}
        for retrieval_intent in self.retrieval_intents:
            subs = [(name, p) for name, p in ranking if _split(name)[0] == retrieval_intent]
            total = sum(p for _, p in subs)
            if not subs or total <= 0:
                continue
            ranked = [
                {PREDICTED_CONFIDENCE_KEY: p / total, INTENT_RESPONSE_KEY: name}
                for name, p in subs[: top or None]
            ]
            best = ranked[0]
            utter_action = intent_response_key_to_template_key(best[INTENT_RESPONSE_KEY])
            properties[retrieval_intent] = {
                "response": {
                    "responses": self.responses.get(utter_action),
                    PREDICTED_CONFIDENCE_KEY: best[PREDICTED_CONFIDENCE_KEY],
                    INTENT_RESPONSE_KEY: best[INTENT_RESPONSE_KEY],
                    "utter_action": utter_action,
                },
                "ranking": ranked,
            }
        message.set(RESPONSE_SELECTOR, properties, add_to_output=True)

    def save(self, folder: Path) -> None:
        data = {"retrieval_intents": self.retrieval_intents, "responses": self.responses}
        (folder / FILE).write_text(json.dumps(data), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> ResponseSelection | None:
        """The saved selection, or None if the model selects no responses."""
        path = folder / FILE
        if not path.exists():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["retrieval_intents"], data["responses"])
