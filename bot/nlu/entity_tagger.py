"""The Rasa NLU component around :class:`bot.nlu.entity_model.EntityModel` (config.yml:
``name: bot.nlu.entity_tagger.ShopEntityTagger``).

It reads the message text itself and the training data's regexes and lookup tables (it needs no
tokenizer or featurizer before it), and adds its entities to the message as Rasa's extractors do;
the EntitySynonymMapper after it maps their values ("kitchen" → home).
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.component import StoredComponent, regex_patterns
from bot.nlu.entity_model import EntityModel

logger = logging.getLogger(__name__)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class ShopEntityTagger(StoredComponent, EntityExtractorMixin):
    """shopbot's entity tagger: a CRF over the message's tokens, regex matches and lookups."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"c1": 0.01, "c2": 0.01, "max_iterations": 200}

    @staticmethod
    def required_packages() -> list[str]:
        # Rasa imports these names and also reads them as distributions: sklearn_crfsuite is both
        # (it brings python-crfsuite, whose module "pycrfsuite" is not its distribution's name).
        return ["sklearn_crfsuite"]

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: EntityModel | None = None,
    ) -> None:
        super().__init__(config, model_storage, resource)
        self.model = model

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.nlu_examples if e.get(TEXT)]
        if not any(e.get(ENTITIES) for e in examples):
            logger.warning("Not training the entity tagger: no entities in the training data.")
            return self._resource
        self.model = EntityModel(
            patterns=regex_patterns(training_data),
            lookups={
                table["name"]: [str(w) for w in table["elements"]]
                for table in training_data.lookup_tables
                if isinstance(table.get("elements"), list)
            },
            c1=float(self.config["c1"]),
            c2=float(self.config["c2"]),
            max_iterations=int(self.config["max_iterations"]),
        ).fit(
            [e.get(TEXT) for e in examples],
            [
                [
                    (x[ENTITY_ATTRIBUTE_TYPE], x[ENTITY_ATTRIBUTE_START], x[ENTITY_ATTRIBUTE_END])
                    for x in e.get(ENTITIES) or []
                ]
                for e in examples
            ],
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
    ) -> ShopEntityTagger:
        model = cls.read_stored(model_storage, resource, EntityModel.load)
        return cls(config, model_storage, resource, model)

    def process(self, messages: list[Message]) -> list[Message]:
        if self.model is None:
            return messages
        for message in messages:
            found = [
                {
                    ENTITY_ATTRIBUTE_TYPE: e.entity,
                    ENTITY_ATTRIBUTE_START: e.start,
                    ENTITY_ATTRIBUTE_END: e.end,
                    ENTITY_ATTRIBUTE_VALUE: e.value,
                }
                for e in self.model.entities(message.get(TEXT) or "")
            ]
            if found:
                message.set(
                    ENTITIES,
                    message.get(ENTITIES, []) + self.add_extractor_name(found),
                    add_to_output=True,
                )
        return messages
