"""What shopbot's trainable Rasa NLU components share: their config (over their defaults), and
the model storage and resource their trained model is written to and read from."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)
T = TypeVar("T")


def regex_patterns(training_data: TrainingData) -> dict[str, str]:
    """The training data's regexes by name (order_number, sku, email, rma_number), as both
    components read them."""
    return {r["name"]: r["pattern"] for r in training_data.regex_features}


class StoredComponent(GraphComponent):
    """A component whose trained model lives in Rasa's model storage under its resource."""

    def __init__(
        self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> StoredComponent:
        return cls(config, model_storage, resource)

    @staticmethod
    def read_stored(
        model_storage: ModelStorage, resource: Resource, read: Callable[[Path], T]
    ) -> T | None:
        """``read(folder)`` of the stored model, or None (logged) when nothing was trained: as
        with Rasa's own components, an untrained one then does nothing."""
        try:
            with model_storage.read_from(resource) as folder:
                return read(folder)
        except (ValueError, FileNotFoundError) as exc:
            logger.warning(f"No trained model in '{resource.name}' ({exc}).")
            return None
