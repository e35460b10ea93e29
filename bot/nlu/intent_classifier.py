"""The Rasa NLU component around :class:`bot.nlu.intent_model.IntentModel` (config.yml:
``name: bot.nlu.intent_classifier.ShopIntentClassifier``).

It reads the message text itself (its own word and character n-grams and, with
``meaning_weight``, the text's sentence embedding: so it needs no featurizer before it) and the
training data's regexes, and sets ``intent`` and ``intent_ranking`` as Rasa's classifiers do. A
message with nothing the model knows gets no intent (confidence 0), which the FallbackClassifier
turns into ``nlu_fallback``.

With ``select_responses: true`` it also does the ResponseSelector's job for retrieval intents
(``faq``): it learns the full retrieval intents (``faq/return_policy``…) as classes of their
own, ranks the retrieval intent itself with the sum of its sub-intents' probabilities, and writes
``response_selector`` as Rasa's ResponseSelector does, so ``utter_faq`` answers unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers import LABEL_RANKING_LENGTH
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.component import StoredComponent, regex_patterns
from bot.nlu.intent_model import IntentModel
from bot.nlu.response_selection import ResponseSelection

logger = logging.getLogger(__name__)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class ShopIntentClassifier(StoredComponent, IntentClassifier):
    """shopbot's intent classifier: a logistic regression on word and character n-grams and the
    text's meaning."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "C": 100.0,
            # how much the sentence embedding counts beside the n-grams (0: not read)
            "meaning_weight": 0.0,
            # learn the retrieval intents' sub-intents and select their responses
            "select_responses": False,
            "ranking_length": LABEL_RANKING_LENGTH,
            "random_seed": 42,
        }

    @staticmethod
    def required_packages() -> list[str]:
        return ["sklearn", "tokenizers"]

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: IntentModel | None = None,
        selection: ResponseSelection | None = None,
    ) -> None:
        super().__init__(config, model_storage, resource)
        self.model = model
        self.selection = selection

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if len({e.get(INTENT) for e in examples}) < 2:
            logger.warning("Not training the intent classifier: fewer than two intents.")
            return self._resource
        if self.config["select_responses"]:
            self.selection = ResponseSelection.from_training_data(training_data)
            labels = [e.get_full_intent() for e in examples]
        else:
            self.selection = None
            labels = [e.get(INTENT) for e in examples]
        patterns = regex_patterns(training_data)
        self.model = IntentModel(
            patterns=patterns,
            C=float(self.config["C"]),
            meaning_weight=float(self.config["meaning_weight"]),
        ).fit(
            [e.get(TEXT) for e in examples],
            labels,
            seed=int(self.config["random_seed"]),
        )
        with self._model_storage.write_to(self._resource) as folder:
            self.model.save(folder)
            if self.selection:
                self.selection.save(folder)
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
        stored = cls.read_stored(
            model_storage, resource, lambda f: (IntentModel.load(f), ResponseSelection.load(f))
        )
        model, selection = stored or (None, None)
        if model is not None and model.meaning_weight:
            # Load (and hash-check) the sentence encoder now, with the model, not on the first
            # customer's message (seconds; Slack gives up after 3 s). Fails here if it is missing.
            from analytics.text_encoder import encoder

            encoder()
        return cls(config, model_storage, resource, model, selection)

    def process(self, messages: list[Message]) -> list[Message]:
        top = self.config["ranking_length"]
        for message in messages:
            text = message.get(TEXT) or ""
            ranking = self.model.rank(text, top=0) if self.model else []
            if self.selection:
                self.selection.select(message, ranking, top)
                ranking = ResponseSelection.intents(ranking)
            ranking = ranking[: top or None]
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
