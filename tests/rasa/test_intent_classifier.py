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


# Wordings that share no telling n-gram with the examples of their intent: the n-grams alone get
# them wrong, the meaning of the text (the sentence encoder) gets them right.
PARAPHRASES = {"the package never came": "order_status", "greetings, friend": "greet"}


@pytest.fixture(scope="module")
def meaning_model() -> IntentModel:
    return IntentModel(patterns=PATTERNS, meaning_weight=2.0).fit(*_training())


@pytest.mark.parametrize("text, intent", PARAPHRASES.items())
def test_meaning_gets_right_the_paraphrases_the_ngrams_miss(model, meaning_model, text, intent):
    assert model.rank(text)[0][0] != intent
    assert meaning_model.rank(text)[0][0] == intent


def test_meaning_keeps_what_the_ngrams_know_and_given_embeddings_are_used(meaning_model):
    from analytics.text_encoder import encode

    texts, labels = _training()
    assert [meaning_model.rank(t)[0][0] for t in texts] == labels
    computed = meaning_model.probabilities(texts)[0]
    given = meaning_model.probabilities(texts, embeddings=encode(texts))[0]
    assert np.allclose(computed, given)
    with pytest.raises(ValueError, match="embeddings for"):
        meaning_model.probabilities(texts, embeddings=encode(texts[:2]))


def test_a_meaning_model_round_trips(meaning_model, tmp_path):
    meaning_model.save(tmp_path)
    loaded = IntentModel.load(tmp_path)
    assert loaded.meaning_weight == 2.0
    texts = list(PARAPHRASES) + ["where is 104233", "🙂"]
    assert np.array_equal(meaning_model.probabilities(texts)[0], loaded.probabilities(texts)[0])
    assert loaded.probabilities(["🙂"])[1].tolist() == [False]  # still "nothing known"


FAQ = {
    "faq/shipping_time": [
        "how long does shipping take",
        "when will it be delivered",
        "delivery time",
    ],
    "faq/return_policy": ["what is your return policy", "can I return things", "returns rules"],
}
RESPONSES = {
    "utter_faq/shipping_time": [{"text": "Orders arrive in 2-4 working days."}],
    "utter_faq/return_policy": [{"text": "You can return items within 30 days."}],
}


def _training_data_with_faq() -> TrainingData:
    data = _training_data()
    faq = [
        Message(data={"text": t, "intent": "faq", "intent_response_key": key})
        for key, texts in FAQ.items()
        for t in texts
    ]
    return TrainingData(
        training_examples=data.training_examples + faq,
        regex_features=data.regex_features,
        responses=RESPONSES,
    )


def test_faq_answers_are_selected_in_the_response_selectors_format(tmp_path):
    component, storage, resource = _component(
        tmp_path, {"select_responses": True, "meaning_weight": 2.0}
    )
    component.train(_training_data_with_faq())
    context = ExecutionContext(graph_schema=None, node_name="intent_classifier")
    loaded = ShopIntentClassifier.load(component.config, storage, resource, context)

    message = Message(data={"text": "how many days until my parcel is delivered?"})
    loaded.process([message])
    intent = message.get("intent")
    assert intent["name"] == "faq"
    ranking = message.get("intent_ranking")
    # the intent ranking names the retrieval intent, never its sub-intents
    assert {r["name"] for r in ranking} == {
        "greet",
        "order_status",
        "return_status",
        "inform",
        "faq",
    }
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0)
    selector = message.get("response_selector")
    assert selector["all_retrieval_intents"] == ["faq"]
    response = selector["faq"]["response"]
    assert response["intent_response_key"] == "faq/shipping_time"
    assert response["utter_action"] == "utter_faq/shipping_time"
    assert response["responses"] == RESPONSES["utter_faq/shipping_time"]
    faq_ranking = selector["faq"]["ranking"]
    assert [r["intent_response_key"] for r in faq_ranking] == [
        "faq/shipping_time",
        "faq/return_policy",
    ]
    assert sum(r["confidence"] for r in faq_ranking) == pytest.approx(1.0)
    assert response["confidence"] == faq_ranking[0]["confidence"] > 0.5
    assert "response_selector" in message.as_dict_nlu()

    other = Message(data={"text": "what's your returns policy"})
    loaded.process([other])
    assert other.get("response_selector")["faq"]["response"]["utter_action"] == (
        "utter_faq/return_policy"
    )


def test_loading_a_meaning_model_loads_the_encoder_with_it(tmp_path, monkeypatch):
    from analytics import text_encoder

    component, storage, resource = _component(tmp_path, {"meaning_weight": 1.0})
    component.train(_training_data())
    monkeypatch.setattr(text_encoder, "_encoder", None)
    context = ExecutionContext(graph_schema=None, node_name="intent_classifier")
    ShopIntentClassifier.load(component.config, storage, resource, context)
    assert text_encoder._encoder is not None


def test_rasas_retrieval_action_reads_the_selection(tmp_path):
    """Rasa's own ``utter_faq`` action finds the answer the component selected."""
    from rasa.core.actions.action import ActionRetrieveResponse
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    component, _, _ = _component(tmp_path, {"select_responses": True})
    component.train(_training_data_with_faq())
    message = Message(data={"text": "what is the return policy"})
    component.process([message])
    tracker = DialogueStateTracker.from_events(
        "someone", [UserUttered(message.get("text"), parse_data=message.as_dict_nlu())]
    )
    action = ActionRetrieveResponse("utter_faq")
    assert action.get_full_retrieval_name(tracker) == "utter_faq/return_policy"


def test_without_response_selection_faq_is_one_intent(tmp_path):
    component, _, _ = _component(tmp_path)
    component.train(_training_data_with_faq())
    assert "faq" in component.model.classes
    assert not any("/" in c for c in component.model.classes)
    message = Message(data={"text": "what is your return policy"})
    component.process([message])
    assert message.get("intent")["name"] == "faq"
    assert message.get("response_selector") is None
