"""The Rasa NLU component around :class:`bot.nlu.intent_model.IntentModel` (config.yml:
``name: bot.nlu.intent_classifier.ShopIntentClassifier``).

It reads the message text itself (its own word and character n-grams, so it needs no featurizer
before it) and the training data's regexes, and sets ``intent`` and ``intent_ranking`` as Rasa's
classifiers do. A message with nothing the model knows gets no intent (confidence 0), which the
FallbackClassifier turns into ``nlu_fallback``.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers import LABEL_RANKING_LENGTH
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.intent_model import IntentModel

logger = logging.getLogger(__name__)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class ShopIntentClassifier(GraphComponent, IntentClassifier):
    """shopbot's intent classifier: a logistic regression on word and character n-grams."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"C": 100.0, "ranking_length": LABEL_RANKING_LENGTH, "random_seed": 42}

    @staticmethod
    def required_packages() -> list[str]:
        return ["sklearn"]

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: IntentModel | None = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.model = model

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ShopIntentClassifier:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if len({e.get(INTENT) for e in examples}) < 2:
            logger.warning("Not training the intent classifier: fewer than two intents.")
            return self._resource
        patterns = {r["name"]: r["pattern"] for r in training_data.regex_features}
        self.model = IntentModel(patterns=patterns, C=float(self.config["C"])).fit(
            [e.get(TEXT) for e in examples],
            [e.get(INTENT) for e in examples],
            seed=int(self.config["random_seed"]),
        )
        with self._model_storage.write_to(self._resource) as folder:
            self.model.save(folder)
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> ShopIntentClassifier:
        try:
            with model_storage.read_from(resource) as folder:
                model = IntentModel.load(folder)
        except (ValueError, FileNotFoundError) as exc:
            # Rasa's own classifiers do the same: an untrained component classifies nothing.
            logger.warning(f"No trained intent model in '{resource.name}' ({exc}).")
            model = None
        return cls(config, model_storage, resource, model)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            ranking = self.model.rank(text, self.config["ranking_length"]) if self.model else []
            if ranking:
                best = {"name": ranking[0][0], "confidence": ranking[0][1]}
            else:
                best = {"name": None, "confidence": 0.0}
            message.set(INTENT, best, add_to_output=True)
            message.set(
                INTENT_RANKING_KEY,
                [{"name": name, "confidence": p} for name, p in ranking],
                add_to_output=True,
            )
        return messages
