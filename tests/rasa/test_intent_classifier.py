"""shopbot's intent classifier: the model (bot/intent_model.py) and its Rasa component."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.intent_classifier import ShopIntentClassifier
from bot.nlu.intent_model import IntentModel, Placeholders

PATTERNS = {
    "order_number": r"#?\d{6}",
    "rma_number": r"RMA-?\s?\d{6}",
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    "sku": r"\b[A-Za-z]{2,4}-\d{3,5}\b",
}
EXAMPLES = {
    "greet": ["hi", "hello", "hello there", "hey", "good morning", "hiya"],
    "order_status": [
        "where is my order 104233",
        "where's my parcel",
        "has order #105120 shipped",
        "track my order",
        "status of my order please",
        "when will my order arrive",
    ],
    "return_status": [
        "where is my refund for RMA-100023",
        "has my return arrived",
        "any news on RMA 100912",
        "status of my return",
        "did you get the parcel I sent back",
        "when is my refund coming",
    ],
    "inform": ["104233", "#105120", "jane@example.com", "it's EL-1042", "the kettle", "HOM-0001"],
}


def _training() -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for intent, examples in EXAMPLES.items():
        texts += examples
        labels += [intent] * len(examples)
    return texts, labels


@pytest.fixture(scope="module")
def model() -> IntentModel:
    return IntentModel(patterns=PATTERNS).fit(*_training())


def test_placeholders_name_what_the_regexes_match_longest_first():
    p = Placeholders(PATTERNS)
    assert p("Where is RMA-104233? Order #104233, jane.doe@example.com, EL-1042") == (
        "where is  rmanumber ? order  ordernumber ,  email ,  sku "
    )
    # "RMA 104233" (a space) is one RMA number, not "rma" and an order number.
    assert p("rma 104233").split() == ["rmanumber"]
    assert p("no numbers here") == "no numbers here"


def test_any_order_number_reads_the_same(model):
    # The digits of an order number are not a feature of their own: an unseen number
    # gives exactly the probabilities of a seen one.
    seen, unseen = model.probabilities(["where is order 104233", "where is order 999999"])[0]
    assert np.allclose(seen, unseen)
    assert model.rank("where is order 999999")[0][0] == "order_status"
    assert model.rank("RMA-555555 where is it")[0][0] == "return_status"


def test_rank_is_a_probability_ranking_best_first(model):
    ranking = model.rank("hello", top=10)
    assert ranking[0][0] == "greet"
    assert [name for name, _ in ranking] == sorted(model.classes, key=lambda c: -dict(ranking)[c])
    assert sum(p for _, p in ranking) == pytest.approx(1.0)
    assert len(model.rank("hello", top=2)) == 2


@pytest.mark.parametrize("text", ["", "   ", "🙂", "\u200b"])
def test_a_message_with_nothing_known_gets_no_intent(model, text):
    assert model.rank(text) == []


def test_saved_model_loads_with_the_same_answers_and_without_pickle(model, tmp_path):
    model.save(tmp_path)
    loaded = IntentModel.load(tmp_path)
    texts = ["hi", "where is 104233", "refund RMA-100001?", "blah"]
    assert np.array_equal(model.probabilities(texts)[0], loaded.probabilities(texts)[0])
    assert loaded.classes == model.classes
    with np.load(tmp_path / "intent_model.npz", allow_pickle=False) as arrays:
        assert set(arrays.files) == {"word_idf", "char_idf", "coef", "intercept"}
    meta = json.loads((tmp_path / "intent_model.json").read_text())
    meta["format"] = 99
    (tmp_path / "intent_model.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="format 99"):
        IntentModel.load(tmp_path)


def test_fitting_needs_two_intents():
    with pytest.raises(ValueError):
        IntentModel().fit(["hi", "hello"], ["greet", "greet"])
    with pytest.raises(RuntimeError):
        IntentModel().probabilities(["hi"])


def _component(tmp_path, config=None) -> tuple[ShopIntentClassifier, LocalModelStorage, Resource]:
    storage = LocalModelStorage(tmp_path)
    resource = Resource("intent_classifier")
    context = ExecutionContext(graph_schema=None, node_name="intent_classifier")
    return (
        ShopIntentClassifier.create(
            {**ShopIntentClassifier.get_default_config(), **(config or {})},
            storage,
            resource,
            context,
        ),
        storage,
        resource,
    )


def _training_data() -> TrainingData:
    texts, labels = _training()
    return TrainingData(
        training_examples=[Message(data={"text": t, "intent": i}) for t, i in zip(texts, labels)],
        regex_features=[{"name": n, "pattern": p} for n, p in PATTERNS.items()],
    )


def test_rasa_component_trains_persists_loads_and_classifies(tmp_path):
    component, storage, resource = _component(tmp_path, {"ranking_length": 3})
    component.train(_training_data())
    context = ExecutionContext(graph_schema=None, node_name="intent_classifier")
    loaded = ShopIntentClassifier.load(component.config, storage, resource, context)

    message = Message(data={"text": "has order 123456 shipped yet"})
    loaded.process([message])
    assert message.get("intent")["name"] == "order_status"
    ranking = message.get("intent_ranking")
    assert len(ranking) == 3 and ranking[0] == message.get("intent")
    assert ranking[0]["confidence"] >= ranking[1]["confidence"] >= ranking[2]["confidence"]
    assert {"intent", "intent_ranking"} <= set(message.as_dict_nlu())
    # the regexes came from the training data, as Rasa passes them
    assert loaded.model.patterns == PATTERNS


def test_an_empty_message_falls_back_instead_of_failing(tmp_path):
    component, _, _ = _component(tmp_path)
    component.train(_training_data())
    message = Message(data={"text": "   "})
    component.process([message])
    assert message.get("intent") == {"name": None, "confidence": 0.0}
    assert message.get("intent_ranking") == []
    fallback = FallbackClassifier.create(
        {**FallbackClassifier.get_default_config(), "threshold": 0.6},
        LocalModelStorage(tmp_path / "fb"),
        Resource("fb"),
        ExecutionContext(graph_schema=None, node_name="fb"),
    )
    fallback.process([message])
    assert message.get("intent")["name"] == "nlu_fallback"


def test_an_untrained_component_classifies_nothing(tmp_path):
    component, storage, resource = _component(tmp_path)
    context = ExecutionContext(graph_schema=None, node_name="intent_classifier")
    loaded = ShopIntentClassifier.load(component.config, storage, resource, context)
    message = Message(data={"text": "hello"})
    loaded.process([message])
    assert message.get("intent") == {"name": None, "confidence": 0.0}


def test_the_model_is_retrained_when_the_component_code_changes(tmp_path):
    from bot.server.rasa_model import COMPONENT_SOURCES, ROOT, training_hash

    for name in ("config.yml", "domain.yml", *COMPONENT_SOURCES):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    before = training_hash(tmp_path)
    assert training_hash(tmp_path) == before
    source = tmp_path / "bot" / "nlu" / "intent_model.py"
    source.write_text(source.read_text() + "\n# changed\n")
    assert training_hash(tmp_path) != before
