"""The NLU cross-validation's own parts: the fold split and the scoring (the training itself is
Rasa's, run by `shopbot evaluate nlu`, which takes too long for the test suite)."""

from __future__ import annotations

from collections import Counter

import pytest

from bot.nlu.evaluation import fallback_threshold, load_examples, make_folds, summarise, write_folds
from support.rasa_support import ROOT


def test_folds_are_disjoint_cover_everything_keep_class_shares_and_repeat_from_the_seed():
    labels = ["faq/a"] * 50 + ["faq/b"] * 20 + ["greet"] * 10 + ["deny"] * 5
    folds = make_folds(labels, 5, seed=42)
    flat = [i for fold in folds for i in fold]
    assert sorted(flat) == list(range(len(labels)))
    for fold in folds:
        assert Counter(labels[i] for i in fold) == {"faq/a": 10, "faq/b": 4, "greet": 2, "deny": 1}
    assert make_folds(labels, 5, seed=42) == folds
    assert make_folds(labels, 5, seed=7) != folds


def test_fold_files_hold_every_example_once_as_test_and_keep_entities(tmp_path):
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_examples(ROOT / "config.yml", ROOT / "data", ROOT / "domain.yml")
    everything = Counter((e.get("text"), e.get_full_intent()) for e in data.intent_examples)
    dirs = write_folds(data, 5, 42, tmp_path)
    assert len(dirs) == 5
    held_out = Counter()
    for d in dirs:
        test, train = load_data(str(d / "test.yml")), load_data(str(d / "train.yml"))
        test_part = Counter((e.get("text"), e.get_full_intent()) for e in test.intent_examples)
        train_part = Counter((e.get("text"), e.get_full_intent()) for e in train.intent_examples)
        assert test_part + train_part == everything
        held_out += test_part
        assert train.regex_features and train.lookup_tables
    assert held_out == everything
    tagged = [e for e in load_data(str(dirs[0] / "train.yml")).intent_examples if e.get("entities")]
    assert {"order_number", "email", "sku"} <= {
        x["entity"] for e in tagged for x in e.get("entities")
    }


def _intent(truth, guess, confidence=0.9):
    prediction = {"name": guess, "confidence": confidence}
    return {"text": "x", "intent": truth, "intent_prediction": prediction}


def test_scores_are_computed_over_all_predictions():
    rows = [_intent("greet", "greet")] * 3 + [_intent("greet", "faq"), _intent("faq", "faq")]
    faq = [
        {
            "intent_response_key_target": "faq/a",
            "intent_response_key_prediction": {"name": name, "confidence": 0.5},
        }
        for name in ("faq/a", "faq/a", "faq/b", "faq/a")
    ]
    result = summarise(rows, faq)
    # greet: precision 1, recall 3/4 -> F1 6/7; faq: precision 1/2, recall 1 -> F1 2/3
    assert result["intent_macro_f1"] == pytest.approx((6 / 7 + 2 / 3) / 2)
    assert result["intent_accuracy"] == pytest.approx(4 / 5)
    assert result["per_intent_f1"]["greet"] == pytest.approx(6 / 7)
    assert result["confusions"] == [["greet", "faq", 1]]
    assert result["faq_accuracy"] == pytest.approx(3 / 4)
    assert result["examples"] == 5


def test_a_message_with_no_predicted_intent_counts_as_wrong():
    rows = [_intent("greet", "greet"), {"text": "?", "intent": "greet", "intent_prediction": None}]
    result = summarise(rows, [])
    assert result["intent_accuracy"] == pytest.approx(1 / 2)
    assert "faq_accuracy" not in result


def test_wrong_answers_above_the_fallback_threshold_are_counted(tmp_path):
    rows = [
        _intent("greet", "greet", 0.95),
        _intent("greet", "greet", 0.40),  # right, but the assistant would ask to rephrase
        _intent("greet", "faq", 0.70),  # wrong and acted on
        _intent("faq", "greet", 0.59),  # wrong, caught by the fallback
    ]
    result = summarise(rows, [], threshold=0.6)
    assert result["wrong_and_confident"] == pytest.approx(1 / 4)
    assert result["right_but_unsure"] == pytest.approx(1 / 4)
    assert "wrong_and_confident" not in summarise(rows, [])
    config = tmp_path / "config.yml"
    config.write_text("pipeline:\n  - name: WhitespaceTokenizer\n  - name: FallbackClassifier\n")
    assert fallback_threshold(config) == 0.3
    assert fallback_threshold(ROOT / "config.yml") == 0.7
